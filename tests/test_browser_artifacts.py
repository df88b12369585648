"""A person clicking through the Artifact browser in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from registry.models import Link
from tests.browser import settled, sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_icon_types_artifact_version_tabs_and_download(page, demo, tmp_path):
    sign_in(page, "bob", PASSWORD)
    page.goto("/reviewco/mnist")
    page.get_by_role("link", name="Artifacts").click()
    expect(page).to_have_url(re.compile("/reviewco/mnist/artifacts$"))
    model = page.locator("details[data-type=model]")
    expect(model).to_have_attribute("open", "")
    expect(page.locator("details[data-type=dataset]")).not_to_have_attribute("open", "")
    model.get_by_role("link", name="mnist_model").click()
    expect(page).to_have_url(re.compile("/artifacts/model/mnist_model$"))
    versions = page.get_by_role("list", name="Versions of mnist_model")
    expect(versions.get_by_role("link")).to_have_text(["v1", "v0"])
    expect(page.locator("#detail-panel table")).to_contain_text("MNIST-dev:v0")
    versions.get_by_role("link", name="v0").click()
    expect(page).to_have_url(re.compile("/artifacts/model/mnist_model/v0$"))
    panel = page.locator("#detail-panel")
    expect(panel.get_by_role("heading", name="Version overview")).to_be_visible()
    expect(panel).to_contain_text("reviewco/mnist/mnist_model:v0")
    expect(panel.get_by_role("link", name="MNIST-dev:v0")).to_be_visible()

    for tab, text in [("Metadata", "framework"), ("Usage", "evaluate-cnn"), ("Lineage", ""), ("Files", "model.pt")]:
        panel.get_by_role("link", name=tab, exact=True).click()
        expect(page).to_have_url(re.compile(f"/mnist_model/v0/{tab.lower()}$"))
        if text:
            expect(page.locator("#detail-panel")).to_contain_text(text)

    with page.expect_download() as info:
        page.get_by_role("link", name="model.pt").click()
    download = info.value
    assert download.suggested_filename == "model.pt"
    path = tmp_path / "model.pt"
    download.save_as(path)
    from artifacts.models import ArtifactVersion

    blob = ArtifactVersion.committed.get(artifact__name="mnist_model", index=0).files.get().blob
    from artifacts.storage import blob_chunks

    assert path.read_bytes() == b"".join(blob_chunks(blob))

    page.reload()
    expect(page.locator("#detail-panel")).to_contain_text("model.pt")
    page.go_back()
    expect(page).to_have_url(re.compile("/mnist_model/v0/lineage$"))


def test_link_to_registry_with_an_alias_then_linked_to_updates_in_place(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto("/reviewco/mnist/artifacts/model/mnist_model/v1")
    panel = page.locator("#detail-panel")
    expect(panel.get_by_text("Linked To")).to_have_count(0)
    page.evaluate("window.noReload = true")
    panel.get_by_role("link", name="Link to registry").click()
    drawer = page.get_by_role("dialog", name="Link to registry")
    expect(drawer).to_be_visible()
    settled(page)
    drawer.get_by_label("Select a register model").select_option("MNIST-dev")
    drawer.get_by_role("button", name="Next step").click()
    expect(drawer.get_by_label("Aliases")).to_be_visible()
    settled(page)
    drawer.get_by_label("Aliases").fill("candidate")
    drawer.get_by_role("button", name="Link to registry").click()
    expect(drawer).to_be_hidden()
    linked = page.locator("#linked-to")
    expect(linked.get_by_role("link", name="MNIST-dev:v1")).to_be_visible()
    assert page.evaluate("window.noReload") is True
    link = Link.objects.get(registered_model__name="MNIST-dev", index=1)
    assert set(link.aliases.values_list("name", flat=True)) == {"latest", "candidate"}

    # The same version again: the dialog says where it is already linked.
    panel.get_by_role("link", name="Link to registry").click()
    drawer = page.get_by_role("dialog", name="Link to registry")
    expect(drawer).to_be_visible()
    settled(page)
    drawer.get_by_label("Select a register model").select_option("MNIST-dev")
    drawer.get_by_role("button", name="Next step").click()
    expect(drawer).to_contain_text("Already linked here as MNIST-dev:v1")
    settled(page)
    drawer.get_by_role("button", name="Link to registry").click()
    expect(drawer).to_contain_text("already linked as MNIST-dev:v1")
    drawer.get_by_role("button", name="Close", exact=True).last.click()
    expect(drawer).to_be_hidden()
    assert Link.objects.filter(registered_model__name="MNIST-dev").count() == 2

    # Follow Linked To into the registry, and Source Version back.
    linked.get_by_role("link", name="MNIST-dev:v1").click()
    expect(page).to_have_url(re.compile("/registry/model/reviewco/MNIST-dev/v1$"))
    source = page.locator("#detail-panel").get_by_role("link", name="mnist_model:v1")
    expect(source).to_be_visible()
    source.click()
    expect(page).to_have_url(re.compile("/reviewco/mnist/artifacts/model/mnist_model/v1$"))


def test_adding_an_alias_on_an_artifact_version(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto("/reviewco/mnist/artifacts/model/mnist_model/v0")
    page.get_by_label("Add an alias").click()
    page.get_by_label("New alias").fill("v9")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("version numbers")
    page.get_by_label("New alias").fill("best")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#version-aliases")).to_contain_text("best")
    # The tree on the left shows the new chip at once, and loses it when the alias moves or goes.
    tree = page.get_by_role("list", name="Versions of mnist_model")
    expect(tree.get_by_role("listitem").filter(has_text="v0")).to_contain_text("best")
    page.get_by_role("button", name="Remove alias best").click()
    expect(page.locator("#version-aliases")).not_to_contain_text("best")
    expect(tree.get_by_role("listitem").filter(has_text="v0")).not_to_contain_text("best")


def test_reading_works_without_javascript(browser, live_server, demo):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, "bob", PASSWORD)
    page.goto("/reviewco/mnist/artifacts")
    page.get_by_role("link", name="mnist_model").click()
    page.get_by_role("link", name="v0", exact=True).first.click()
    page.locator("#detail-panel").get_by_role("link", name="Files", exact=True).click()
    expect(page).to_have_url(re.compile("/mnist_model/v0/files$"))
    expect(page.locator("#detail-panel")).to_contain_text("model.pt")
    context.close()


def test_searching_the_artifact_browser_by_name_and_by_version_tag(page, demo):
    from artifacts import services
    from artifacts.models import ArtifactVersion

    v0 = ArtifactVersion.committed.get(artifact__name="mnist_model", index=0)
    services.version_update(version=v0, user=demo.admin, tags_add=["production ready"])
    sign_in(page, "bob", PASSWORD)
    page.goto("/reviewco/mnist/artifacts")
    search = page.get_by_label("Search names and tags")
    search.fill("production")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/reviewco/mnist/artifacts\?q=production$"))
    panel = page.locator(".artifacts-panel")
    expect(panel.locator(".artifact-list a")).to_have_text(["mnist_model"])
    panel.get_by_role("link", name="mnist_model").click()
    page.get_by_role("list", name="Versions of mnist_model").get_by_role("link", name="v0").click()
    expect(page.locator("#detail-panel .overview")).to_contain_text("production ready")
    page.goto("/reviewco/mnist/artifacts")
    search = page.get_by_label("Search names and tags")
    search.fill("no such thing")
    search.press("Enter")
    expect(panel).to_contain_text("No artifact name or version tag contains “no such thing”.")
