"""A person clicking through the Model Registry in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from registry.models import Link, LinkAlias, RegisteredModel
from tests.browser import settled, sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RAC = "Fine-Tuned-Review-Autocompletion"


def test_hover_menu_link_new_version_cascade_and_confirmation(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.get_by_role("link", name="Model Registry").click()
    expect(page).to_have_url(re.compile(r"/registry/model$"))
    row = page.get_by_role("row", name=re.compile(RAC))
    more = page.get_by_role("button", name=f"More actions for {RAC}")
    expect(more).to_have_css("opacity", "0")
    box_before = row.bounding_box()
    row.hover()
    expect(more).to_have_css("opacity", "1")
    assert row.bounding_box() == box_before  # no layout jump when the button appears
    more.click()
    # The menu opens right under its own row's button (anchor positioning, no inline style).
    menu, button = page.get_by_role("menu").bounding_box(), more.bounding_box()
    assert abs(menu["y"] - (button["y"] + button["height"])) < 12
    assert menu["x"] <= button["x"] + button["width"] <= menu["x"] + menu["width"] + 1
    page.get_by_role("menuitem", name="Link new version").click()
    dialog = page.get_by_role("dialog", name="Link new version")
    expect(dialog).to_be_visible()

    project, artifact, version = (dialog.get_by_label(n) for n in ("Project", "Model Artifact", "Version"))
    settled(page)
    project.select_option("mnist")
    expect(artifact.locator("option")).to_have_count(2)
    settled(page)
    artifact.select_option("mnist_model")
    expect(version.locator("option")).to_have_count(3)
    settled(page)
    # Changing the project resets the later choices.
    project.select_option("review-autocompletion")
    expect(artifact.locator("option")).to_have_text(["Choose a model artifact…", "review-autocompletion-model"])
    expect(artifact).to_have_value("")
    expect(version).to_be_disabled()
    settled(page)
    artifact.select_option("review-autocompletion-model")
    expect(version.locator("option")).to_have_text(["Choose a version…", "v3 (latest)", "v2", "v1", "v0"])
    settled(page)
    version.select_option(label="v3 (latest)")
    dialog.get_by_role("button", name="Link version").click()

    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Linked")).to_contain_text(
        f"Linked review-autocompletion-model:v3 as {RAC}:v3"
    )
    expect(page.get_by_role("row", name=re.compile(RAC)).get_by_role("cell").nth(2)).to_have_text("4")
    expect(page.get_by_role("row", name=re.compile(RAC)).get_by_role("link", name="v3")).to_be_visible()
    assert Link.objects.get(registered_model__name=RAC, index=3).source.index == 3


def test_the_menu_is_reachable_by_keyboard(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto("/registry/model")
    page.get_by_role("link", name="View details").first.focus()
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_attribute("aria-label", re.compile("More actions for"))
    expect(focused).to_have_css("opacity", "1")
    page.keyboard.press("Enter")
    expect(page.get_by_role("menuitem", name="Link new version")).to_be_visible()
    # The ARIA menu pattern: the first item has focus; arrows, Home and End move; Escape gives focus back.
    expect(page.locator(":focus")).to_have_text("Link new version")
    page.keyboard.press("ArrowDown")
    expect(page.locator(":focus")).to_have_text("Edit model card")
    page.keyboard.press("ArrowDown")
    expect(page.locator(":focus")).to_have_text("Link new version")
    page.keyboard.press("End")
    expect(page.locator(":focus")).to_have_text("Edit model card")
    page.keyboard.press("Home")
    expect(page.locator(":focus")).to_have_text("Link new version")
    page.keyboard.press("ArrowUp")
    expect(page.locator(":focus")).to_have_text("Edit model card")
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_be_hidden()
    expect(page.locator(":focus")).to_have_attribute("aria-label", re.compile("More actions for"))
    # Enter on an item opens its dialog.
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_text("Link new version")
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Link new version")).to_be_visible()


def test_the_user_menu_follows_the_menu_pattern(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.get_by_label("User menu for bob").click()
    expect(page.locator(":focus")).to_have_text("Profile & API keys")
    page.keyboard.press("End")
    expect(page.locator(":focus")).to_have_text("Sign out")
    page.keyboard.press("Escape")
    expect(page.get_by_role("menuitem", name="Sign out")).to_be_hidden()
    expect(page.locator(":focus")).to_have_attribute("aria-label", "User menu for bob")


def test_an_error_in_the_link_dialog_shows_in_the_dialog(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto(f"/registry/model/reviewco/{RAC}")
    page.get_by_role("link", name="Link new version").click()
    dialog = page.get_by_role("dialog", name="Link new version")
    settled(page)
    dialog.get_by_label("Project").select_option("review-autocompletion")
    expect(dialog.get_by_label("Model Artifact")).to_be_enabled()
    settled(page)
    dialog.get_by_label("Model Artifact").select_option("review-autocompletion-model")
    expect(dialog.get_by_label("Version")).to_be_enabled()
    settled(page)
    dialog.get_by_label("Version").select_option("3")
    dialog.get_by_label("Aliases").fill("production")
    dialog.get_by_role("button", name="Link version").click()
    expect(dialog.get_by_role("alert")).to_contain_text("protected")
    assert not Link.objects.filter(registered_model__name=RAC, index=3).exists()


def test_view_details_view_each_tab_and_aliases(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto("/registry/model")
    page.get_by_role("row", name=re.compile("MNIST-dev")).get_by_role("link", name="View details").click()
    expect(page).to_have_url(re.compile("/registry/model/reviewco/MNIST-dev$"))
    expect(page.get_by_role("heading", name="Model card")).to_be_visible()
    page.get_by_role("link", name="View MNIST-dev:v0").click()
    expect(page).to_have_url(re.compile("/registry/model/reviewco/MNIST-dev/v0$"))
    panel = page.locator("#detail-panel")
    expect(panel.get_by_role("heading", name="Version overview")).to_be_visible()
    expect(panel).to_contain_text("reviewco/model-registry/MNIST-dev:v0")
    expect(panel.get_by_role("link", name="mnist_model:v0")).to_be_visible()

    for tab, text in [("Metadata", "accuracy"), ("Usage", "run.use_model"), ("Files", "model.pt"), ("Lineage", "")]:
        panel.get_by_role("link", name=tab, exact=True).click()
        expect(page).to_have_url(re.compile(f"/registry/model/reviewco/MNIST-dev/v0/{tab.lower()}$"))
        if text:
            expect(page.locator("#detail-panel")).to_contain_text(text)
    expect(page.locator("#detail-panel svg.lineage")).to_be_visible()
    page.reload()
    expect(page.locator("#detail-panel svg.lineage")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(re.compile("/v0/files$"))
    expect(page.locator("#detail-panel")).to_contain_text("model.pt")

    page.locator("#detail-panel").get_by_role("link", name="Version", exact=True).click()
    page.get_by_label("Add an alias").click()
    page.get_by_label("New alias").fill("staging")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#version-aliases")).to_contain_text("staging")
    assert LinkAlias.objects.filter(registered_model__name="MNIST-dev", name="staging").exists()
    page.get_by_role("button", name="Remove alias staging").click()
    expect(page.locator("#version-aliases")).not_to_contain_text("staging")
    assert not LinkAlias.objects.filter(name="staging").exists()


def test_new_registered_model_with_a_field_error_then_success(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto("/registry/model")
    page.get_by_role("link", name="New registered model").click()
    drawer = page.get_by_role("dialog", name="New registered model")
    expect(drawer).to_be_visible()
    expect(drawer.get_by_label("Owning Entity")).to_have_value("reviewco")
    settled(page)
    drawer.get_by_label("Name").fill("speech model")
    drawer.get_by_role("button", name="Register model").click()
    expect(drawer.get_by_role("alert")).to_contain_text("Invalid registered model name")
    settled(page)
    assert not RegisteredModel.objects.filter(name__startswith="speech").exists()
    drawer.get_by_label("Name").fill("Speech-v2")
    drawer.get_by_label("Description").fill("# Speech\n\nRecognises **speech**.")
    drawer.get_by_label("Tags").fill("audio, asr")
    drawer.get_by_role("button", name="Register model").click()
    expect(page).to_have_url(re.compile("/registry/model/reviewco/Speech-v2$"))
    expect(page.locator(".markdown strong")).to_have_text("speech")
    expect(page.locator("#model-tags")).to_contain_text("audio")


def test_tags_and_model_card_edit_in_place(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto("/registry/model/reviewco/MNIST-dev")
    page.get_by_label("Add a tag").click()
    page.get_by_label("New tag").fill("cnn")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#model-tags")).to_contain_text("cnn")
    page.get_by_text("Edit model card").click()
    page.get_by_label("Description (Markdown)").fill("## Better\n\nNow with *notes*.")
    page.get_by_role("button", name="Save description").click()
    expect(page.locator("#model-card h2")).to_have_text("Better")
    assert RegisteredModel.objects.get(name="MNIST-dev").tags == ["vision", "cnn"]


def test_a_phone_width_is_readable(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (
        "/registry/model",
        "/registry/model/reviewco/MNIST-dev",
        "/registry/model/reviewco/MNIST-dev/v0",
        "/reviewco/mnist",
        "/reviewco/mnist/artifacts/model/mnist_model/v1",
        "/reviewco/mnist/artifacts/model/mnist_model/v1/files",
        "/reviewco/mnist/runs/8adpd2kp",
        "/profile/",
        "/registry",
        "/orgs/reviewco-org/registry/model",
        "/reviewco",
        "/reviewco/mnist/runs",
        "/reviewco/mnist/artifacts",
        "/reviewco/mnist/artifacts/model/mnist_model/v1/lineage",
        f"/registry/model/reviewco/{RAC}/history",
        "/registry/settings/reviewco",
        "/reviewco/mnist/artifacts/model/mnist_model/v1/delete",
        "/no/such/page/here",
    ):
        response = page.goto(path)
        assert response.status == (404 if path.startswith("/no/") else 200), path
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    # An open dialog fits too.
    page.goto("/reviewco/mnist/artifacts/model/mnist_model/v1")
    page.get_by_role("link", name="Link to registry").click()
    expect(page.get_by_role("dialog", name="Link to registry")).to_be_visible()
    settled(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the Link to registry dialog"
    # The version panel is its own view on a phone; the sidebar's links stay in reach.
    page.goto("/registry/model/reviewco/MNIST-dev/v0")
    expect(page.locator("#detail-panel")).to_be_visible()
    expect(page.get_by_role("heading", name="Model card")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Model Registry")).to_be_visible()
    # The row menu button is not clipped.
    page.goto("/registry/model")
    box = page.get_by_role("button", name="More actions for MNIST-dev").bounding_box()
    frame = page.locator("#model-table .table-scroll").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= min(390, frame["x"] + frame["width"])


def test_the_open_versions_row_is_highlighted(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto(f"/registry/model/reviewco/{RAC}")
    rows = page.locator("#versions-table tbody tr")
    for label in ("v1", "v2", "v0"):
        page.get_by_role("link", name=f"View {RAC}:{label}").click()
        expect(page.locator("#detail-panel")).to_contain_text(f"{RAC}:{label}")
        expect(page.locator("#versions-table tr.selected")).to_have_count(1)
        expect(page.locator("#versions-table tr.selected")).to_contain_text(label)
    assert rows.count() == 3


def test_the_small_things_a_user_sees(page, demo):
    """Issue 10 #4: the protected alias's lock is an icon, step 2 names the model as it is spelled, and a long
    error stays inside the drawer."""
    sign_in(page, "bob", PASSWORD)
    page.goto(f"/registry/model/reviewco/{RAC}/v1")
    lock = page.locator("#detail-panel svg.lock").first
    expect(lock).to_be_visible()
    expect(lock).to_have_attribute("aria-label", "Protected")

    page.goto("/reviewco/mnist/artifacts/model/mnist_model/v1")
    page.get_by_role("link", name="Link to registry").click()
    dialog = page.get_by_role("dialog", name="Link to registry")
    settled(page)
    dialog.get_by_label("Select a register model").select_option("MNIST-dev")
    dialog.get_by_role("button", name="Next step").click()
    settled(page)
    name = dialog.locator(".model-name-ref")
    expect(name).to_have_text("MNIST-dev")
    assert name.evaluate("e => getComputedStyle(e).textTransform") == "none"
    # An alias far too long: the error names it, wrapped inside the drawer, which never scrolls sideways.
    dialog.get_by_label("Aliases").fill("a-" * 150)
    dialog.get_by_role("button", name="Link to registry").click()
    expect(dialog.get_by_role("alert")).to_be_visible()
    assert dialog.evaluate("d => d.scrollWidth <= d.clientWidth"), "the drawer scrolls sideways"
    assert Link.objects.filter(registered_model__name="MNIST-dev").count() == 1


def test_the_version_panel_opens_on_the_right_and_closes_with_its_x(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto(f"/registry/model/reviewco/{RAC}/v1")
    panel = page.locator("#detail-panel")
    expect(panel).to_be_visible()
    table = page.locator("#versions-table")
    assert panel.bounding_box()["x"] > table.bounding_box()["x"] + table.bounding_box()["width"] / 2
    page.get_by_role("link", name="Close the version panel").click()
    expect(page).to_have_url(re.compile(rf"/registry/model/reviewco/{RAC}$"))
    expect(panel).to_be_hidden()


def _link_new_version_of_mnist_dev(page):
    """MNIST-dev's Link new version dialog, open, its project mnist chosen."""
    page.goto("/registry/model/reviewco/MNIST-dev")
    page.get_by_role("link", name="Link new version").click()
    dialog = page.get_by_role("dialog", name="Link new version")
    settled(page)
    dialog.get_by_label("Project").select_option("mnist")
    settled(page)
    return dialog


def test_long_lists_page_sort_and_find(page, demo):
    """Issue 10 #7: the model card's versions in pages of 50, the list sorted by name, and a version among
    many found by searching in Link new version."""
    from artifacts.models import Project
    from tests.factories import bulk_versions

    bulk_versions(Project.objects.get(name="mnist"), "many_model", 60, link_to="MNIST-dev")
    sign_in(page, "bob", PASSWORD)
    page.goto("/registry/model/reviewco/MNIST-dev")
    table = page.locator("#versions-table")
    expect(table.get_by_role("link", name="v60", exact=True)).to_be_visible()
    expect(table.get_by_role("link", name="v0", exact=True)).to_have_count(0)
    page.get_by_role("navigation", name="Version pages").get_by_role("link", name="Next ›").click()
    expect(table.get_by_role("link", name="v0", exact=True)).to_be_visible()

    page.goto("/registry/model")
    page.get_by_role("link", name="Name", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=name"))
    names = page.locator("#model-table tbody tr td:first-child a").all_inner_texts()
    assert names == sorted(names, key=str.lower) and len(names) >= 2

    dialog = _link_new_version_of_mnist_dev(page)
    dialog.get_by_label("Model Artifact").select_option("many_model")
    settled(page)
    search = dialog.get_by_label("Find a version")
    search.fill("v7")
    expect(dialog.get_by_text("1 match “v7”")).to_be_visible()
    expect(dialog.get_by_label("Version", exact=True).locator("option", has_text="v7")).to_have_count(1)


def test_link_new_version_offers_only_artifacts_of_the_models_type(page, demo):
    """Issue 10 #5: a registered model holds one type; the dialog never offers another."""
    sign_in(page, "bob", PASSWORD)
    dialog = _link_new_version_of_mnist_dev(page)
    offered = dialog.get_by_label("Model Artifact").locator("option").all_inner_texts()
    assert "mnist_model" in offered and "mnist-dataset" not in offered, offered


def test_on_a_phone_the_list_still_sorts_by_last_updated(page, demo):
    """The Last updated column is hidden below 720 px; the sort above the table keeps both orders in reach."""
    sign_in(page, "bob", PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/registry/model?sort=name")
    sort = page.get_by_role("navigation", name="Sort registered models")
    expect(sort).to_be_visible()
    expect(page.get_by_role("columnheader", name="Last updated")).to_be_hidden()
    sort.get_by_role("link", name="last updated").click()
    expect(page).to_have_url(re.compile(r"sort=updated"))
    by_update = page.get_by_role("navigation", name="Sort registered models").get_by_role("link", name="last updated")
    expect(by_update).to_have_attribute("aria-current", "true")
    names = page.locator("#model-table tbody tr td:first-child a").all_inner_texts()
    legacy = RegisteredModel.objects.filter(registry=None, project=None)
    newest = list(legacy.order_by("-updated_at", "-id").values_list("name", flat=True))
    assert names == newest[: len(names)]
    page.set_viewport_size({"width": 1280, "height": 900})
    expect(page.get_by_role("navigation", name="Sort registered models")).to_be_hidden()
