"""Every dialog opens, closes and opens again, any number of times, after any success or error."""

import re

import pytest
from playwright.sync_api import expect

from artifacts.models import ArtifactVersion
from registry.models import Link, RegisteredModel
from tests.browser import settled, sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RAC = "Fine-Tuned-Review-Autocompletion"


def _close(page, dialog, how: str) -> None:
    if how == "cancel":
        dialog.get_by_role("button", name="Cancel").click()
    elif how == "x":
        dialog.get_by_role("button", name="Close").click()
    else:
        page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def _open_link_new_version_from_menu(page):
    page.get_by_role("row", name=re.compile(RAC)).hover()
    page.get_by_role("button", name=f"More actions for {RAC}").click()
    page.get_by_role("menuitem", name="Link new version").click()
    dialog = page.get_by_role("dialog", name="Link new version")
    expect(dialog).to_be_visible()
    settled(page)
    return dialog


def _open_new_model(page):
    page.get_by_role("link", name="New registered model").click()
    dialog = page.get_by_role("dialog", name="New registered model")
    expect(dialog).to_be_visible()
    settled(page)
    return dialog


def test_registry_list_dialogs_reopen_after_every_way_of_closing(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto("/registry/model")
    for _ in range(2):
        for how in ("cancel", "x", "escape"):
            _close(page, _open_link_new_version_from_menu(page), how)
            _close(page, _open_new_model(page), how)
    # After an error inside the dialog, and after a success.
    dialog = _open_new_model(page)
    dialog.get_by_role("button", name="Register model").click()
    settled(page)
    expect(dialog.get_by_role("alert").first).to_be_visible()
    _close(page, dialog, "escape")
    dialog = _open_new_model(page)
    dialog.get_by_label("Name").fill("Brand-New")
    dialog.get_by_role("button", name="Register model").click()
    expect(page).to_have_url(re.compile(r"/registry/model/reviewco/Brand-New$"))
    page.goto("/registry/model")
    dialog = _open_link_new_version_from_menu(page)
    dialog.get_by_label("Project").select_option("review-autocompletion")
    settled(page)
    dialog.get_by_label("Model Artifact").select_option("review-autocompletion-model")
    settled(page)
    dialog.get_by_label("Version").select_option(label="v3 (latest)")
    dialog.get_by_role("button", name="Link version").click()
    expect(dialog).to_be_hidden()
    settled(page)
    for how in ("cancel", "x", "escape"):
        _close(page, _open_link_new_version_from_menu(page), how)
        _close(page, _open_new_model(page), how)


def test_model_card_and_artifact_browser_dialogs_reopen(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto(f"/registry/model/reviewco/{RAC}")
    for how in ("cancel", "x", "escape", "cancel"):
        page.get_by_role("link", name="Link new version").click()
        dialog = page.get_by_role("dialog", name="Link new version")
        expect(dialog).to_be_visible()
        settled(page)
        _close(page, dialog, how)

    page.goto("/reviewco/mnist/artifacts/model/mnist_model/v1")
    for how in ("cancel", "x", "escape"):
        page.get_by_role("link", name="Link to registry").click()
        dialog = page.get_by_role("dialog", name="Link to registry")
        expect(dialog).to_be_visible()
        settled(page)
        _close(page, dialog, how)
    # An error in step 1, then closing, then a success, then opening again.
    page.get_by_role("link", name="Link to registry").click()
    dialog = page.get_by_role("dialog", name="Link to registry")
    settled(page)
    dialog.get_by_role("button", name="Next step").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Select a registered model")
    _close(page, dialog, "escape")
    page.get_by_role("link", name="Link to registry").click()
    dialog = page.get_by_role("dialog", name="Link to registry")
    settled(page)
    dialog.get_by_label("Select a register model").select_option("MNIST-dev")
    dialog.get_by_role("button", name="Next step").click()
    settled(page)
    dialog.get_by_role("button", name="Link to registry").click()
    expect(dialog).to_be_hidden()
    settled(page)
    for how in ("cancel", "x"):
        page.get_by_role("link", name="Link to registry").click()
        dialog = page.get_by_role("dialog", name="Link to registry")
        expect(dialog).to_be_visible()
        settled(page)
        _close(page, dialog, how)


def test_a_failed_request_says_why_in_the_dialog_and_keeps_what_was_typed(page, demo):
    from artifacts import services
    from artifacts.models import Role

    sign_in(page, "bob", PASSWORD)
    page.goto("/registry/model")
    dialog = _open_new_model(page)
    dialog.get_by_label("Name").fill("Typed-Name")
    # The role changes while the dialog is open: the server refuses with its reason.
    services.membership_set(entity=demo.entity, user=demo.member, role=Role.VIEWER)
    dialog.get_by_role("button", name="Register model").click()
    expect(dialog.get_by_role("alert")).to_contain_text("You need the member or admin role")
    # The reason sits right under the dialog's header, above the form.
    expect(dialog.locator(".drawer-header + .request-error")).to_be_visible()
    expect(dialog.get_by_label("Name")).to_have_value("Typed-Name")
    expect(dialog).to_be_visible()

    # The server cannot be reached at all.
    services.membership_set(entity=demo.entity, user=demo.member, role=Role.MEMBER)
    page.route("**/registry/model/new", lambda route: route.abort())
    dialog.get_by_role("button", name="Register model").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "The server could not be reached. Check your connection and try again."
    )
    expect(dialog.get_by_label("Name")).to_have_value("Typed-Name")
    page.unroute("**/registry/model/new")
    dialog.get_by_role("button", name="Register model").click()
    expect(page).to_have_url(re.compile(r"/registry/model/reviewco/Typed-Name$"))


def test_a_failed_request_outside_a_dialog_is_an_error_toast(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto("/registry/model")
    settled(page)
    page.route(
        "**/registry/model?q=*",
        lambda route: route.fulfill(
            status=500, content_type="text/html", body="<p data-error-message>The search broke.</p>"
        ),
    )
    page.get_by_label("Search registered models").fill("mnist")
    expect(page.get_by_role("alert").filter(has_text="The search broke.")).to_be_visible()


def _open(page, opener, name: str):
    opener()
    dialog = page.get_by_role("dialog", name=name)
    expect(dialog).to_be_visible()
    settled(page)
    return dialog


def test_registry_dialogs_reopen_after_every_way_of_closing_and_after_errors(page, demo):
    sign_in(page, "alice", PASSWORD)
    registry = "/orgs/reviewco-org/registry/model"
    page.goto(registry)

    def create_collection():
        page.get_by_role("link", name="Create collection").click()

    def link_new_version():
        page.get_by_role("row", name=re.compile("mnist-classifier")).hover()
        page.get_by_role("button", name="More actions for mnist-classifier").click()
        page.get_by_role("menuitem", name="Link new version").click()

    for _ in range(2):
        for how in ("cancel", "x", "escape"):
            _close(page, _open(page, create_collection, "Create collection"), how)
            _close(page, _open(page, link_new_version, "Link new version"), how)
    # An error inside the dialog, then it closes and opens again, then a success.
    dialog = _open(page, create_collection, "Create collection")
    dialog.get_by_label("Name").fill("mnist-classifier")
    dialog.get_by_role("button", name="Create collection").click()
    expect(dialog.get_by_role("alert").first).to_contain_text("already exists")
    _close(page, dialog, "escape")
    dialog = _open(page, link_new_version, "Link new version")
    dialog.get_by_role("button", name="Link version").click()
    settled(page)
    expect(dialog).to_be_visible()  # the browser's own required-field check keeps it open
    _close(page, dialog, "x")
    dialog = _open(page, link_new_version, "Link new version")
    dialog.get_by_label("Team").select_option("reviewco")
    settled(page)
    dialog.get_by_label("Project").select_option("mnist")
    settled(page)
    dialog.get_by_label("Artifact").select_option("mnist_model")
    settled(page)
    dialog.get_by_label("Version").select_option("0")
    dialog.get_by_role("button", name="Link version").click()
    expect(dialog).to_be_hidden()
    _close(page, _open(page, link_new_version, "Link new version"), "cancel")
    _close(page, _open(page, create_collection, "Create collection"), "cancel")

    # The Registry's Create registry, after an error and after closing.
    page.goto("/registry")

    def create_registry():
        page.get_by_role("link", name="Create registry").click()

    for how in ("cancel", "x", "escape"):
        _close(page, _open(page, create_registry, "Create registry"), how)
    dialog = _open(page, create_registry, "Create registry")
    dialog.get_by_label("Name").fill("model")
    dialog.get_by_role("button", name="Create registry").click()
    expect(dialog.get_by_role("alert").first).to_contain_text("already exists")
    _close(page, dialog, "cancel")
    _close(page, _open(page, create_registry, "Create registry"), "x")

    # Link to registry from the Artifact browser, switching the registry, after closing.
    page.goto("/reviewco/mnist/artifacts/model/mnist_model/v1")

    def link_to_registry():
        page.get_by_role("link", name="Link to registry").click()

    for how in ("cancel", "x", "escape"):
        dialog = _open(page, link_to_registry, "Link to registry")
        dialog.get_by_label("Registry").select_option("model")
        expect(dialog.get_by_label("Select a collection")).to_be_visible()
        settled(page)
        _close(page, dialog, how)


def test_confirmation_dialogs_reopen_after_every_way_of_closing_after_a_refusal_and_after_a_success(page, demo):
    """Unlink version, Delete version and Delete registered model (from the list's ⋯ and the model card)."""
    sign_in(page, "alice", PASSWORD)

    def panel_menu(full_name: str, item: str):
        def open_() -> None:
            page.get_by_role("button", name=f"More actions for {full_name}").click()
            page.get_by_role("menuitem", name=item).click()

        return open_

    # Unlink version, from the version panel: closed every way, then an unlink, then another opens and closes.
    page.goto(f"/registry/model/reviewco/{RAC}/v2")
    unlink_v2 = panel_menu(f"reviewco/model-registry/{RAC}:v2", "Unlink version")
    for how in ("cancel", "x", "escape", "cancel"):
        _close(page, _open(page, unlink_v2, f"Unlink {RAC}:v2?"), how)
    dialog = _open(page, unlink_v2, f"Unlink {RAC}:v2?")
    dialog.get_by_role("button", name="Unlink version").click()
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(re.compile(rf"/registry/model/reviewco/{RAC}$"))
    settled(page)
    assert not Link.objects.filter(registered_model__name=RAC, index=2).exists()
    page.goto(f"/registry/model/reviewco/{RAC}/v1")
    unlink_v1 = panel_menu(f"reviewco/model-registry/{RAC}:v1", "Unlink version")
    for how in ("x", "escape"):
        _close(page, _open(page, unlink_v1, f"Unlink {RAC}:v1?"), how)

    # Delete version, in the Artifact browser: refused for a linked version, then a deletable one, deleted.
    page.goto("/reviewco/mnist/artifacts/model/mnist_model/v0")
    delete_v0 = panel_menu("reviewco/mnist/mnist_model:v0", "Delete")
    for how in ("cancel", "x", "escape"):
        dialog = _open(page, delete_v0, "Delete mnist_model:v0?")
        expect(dialog).to_contain_text("cannot be deleted")
        _close(page, dialog, how)
    page.goto("/reviewco/mnist/artifacts/model/mnist_model/v1")
    delete_v1 = panel_menu("reviewco/mnist/mnist_model:v1", "Delete")
    for how in ("escape", "x", "cancel"):
        _close(page, _open(page, delete_v1, "Delete mnist_model:v1?"), how)
    dialog = _open(page, delete_v1, "Delete mnist_model:v1?")
    if dialog.get_by_role("checkbox").count():
        dialog.get_by_role("checkbox").check()
    dialog.get_by_role("button", name="Delete version").click()
    expect(dialog).to_be_hidden()
    settled(page)
    assert not ArtifactVersion.objects.filter(artifact__name="mnist_model", index=1).exists()
    page.goto("/reviewco/mnist/artifacts/model/mnist_model/v0")
    for how in ("x", "escape"):
        _close(page, _open(page, delete_v0, "Delete mnist_model:v0?"), how)

    # Delete registered model: from the model card's button and from the list's ⋯ menu.
    page.goto("/registry/model/reviewco/MNIST-dev")

    def delete_from_card() -> None:
        page.get_by_role("link", name="Delete registered model").click()

    for how in ("cancel", "x", "escape"):
        _close(page, _open(page, delete_from_card, "Delete MNIST-dev?"), how)
    page.goto("/registry/model")

    def delete_from_list(name: str):
        def open_() -> None:
            page.get_by_role("row", name=re.compile(name)).hover()
            page.get_by_role("button", name=f"More actions for {name}").click()
            page.get_by_role("menuitem", name="Delete").click()

        return open_

    for how in ("escape", "cancel", "x"):
        _close(page, _open(page, delete_from_list("MNIST-dev"), "Delete MNIST-dev?"), how)
    dialog = _open(page, delete_from_list("MNIST-dev"), "Delete MNIST-dev?")
    dialog.get_by_role("button", name="Delete registered model").click()
    expect(dialog).to_be_hidden()
    settled(page)
    assert not RegisteredModel.objects.filter(name="MNIST-dev").exists()
    for how in ("cancel", "escape"):
        _close(page, _open(page, delete_from_list(RAC), f"Delete {RAC}?"), how)
