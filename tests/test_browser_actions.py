"""Unlink, Delete and team settings, clicked as a user would."""

import re

import pytest
from playwright.sync_api import expect

from artifacts import services
from artifacts.models import ArtifactVersion, Entity, Membership
from registry.models import Link, RegisteredModel
from tests.browser import settled, sign_in
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RAC = "Fine-Tuned-Review-Autocompletion"
ARTIFACT = "/reviewco/mnist/artifacts/model/mnist_model"


def _menu(page, full_name: str, item: str):
    page.get_by_role("button", name=f"More actions for {full_name}").click()
    page.get_by_role("menuitem", name=item).click()
    settled(page)


def test_unlink_a_version_from_its_panel(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto(f"/registry/model/reviewco/{RAC}/v2")
    _menu(page, f"reviewco/model-registry/{RAC}:v2", "Unlink version")
    dialog = page.get_by_role("dialog", name=f"Unlink {RAC}:v2?")
    expect(dialog).to_contain_text("latest moves to the newest version left.")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert Link.objects.filter(registered_model__name=RAC).count() == 3

    _menu(page, f"reviewco/model-registry/{RAC}:v2", "Unlink version")
    dialog = page.get_by_role("dialog", name=f"Unlink {RAC}:v2?")
    dialog.get_by_role("button", name="Unlink version").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text=f"Unlinked {RAC}:v2")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/registry/model/reviewco/{RAC}$"))
    settled(page)
    table = page.locator("#versions-table")
    expect(table.get_by_role("row")).to_have_count(3)
    # A row by its version's link (rows also hold a Compare checkbox).
    expect(table.get_by_role("row").filter(has=page.get_by_role("link", name="v2", exact=True))).to_have_count(0)
    expect(table.get_by_role("row").filter(has=page.get_by_role("link", name="v1", exact=True))).to_contain_text(
        "latest"
    )
    expect(page.locator("#detail-panel")).to_be_hidden()
    assert ArtifactVersion.committed.filter(artifact__name="review-autocompletion-model", index=2).exists()


def test_delete_a_version_through_the_apps_confirmation(page, demo):
    v1 = ArtifactVersion.objects.get(artifact__name="mnist_model", index=1)
    services.alias_set(version=v1, name="best", user=demo.member)
    sign_in(page, "bob", PASSWORD)
    page.goto(f"{ARTIFACT}/v1")
    name = "reviewco/mnist/mnist_model:v1"

    _menu(page, name, "Delete")
    dialog = page.get_by_role("dialog", name="Delete mnist_model:v1?")
    expect(dialog).to_contain_text("holds the alias best")
    expect(dialog).to_contain_text("collect_garbage")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert ArtifactVersion.objects.filter(pk=v1.pk).exists()

    _menu(page, name, "Delete")
    dialog = page.get_by_role("dialog", name="Delete mnist_model:v1?")
    dialog.get_by_role("button", name="Delete version").click()
    expect(dialog.get_by_role("alert")).to_contain_text("holds the alias best: confirm removing them to delete it.")
    assert ArtifactVersion.objects.filter(pk=v1.pk).exists()
    dialog.get_by_label("Also remove best").check()
    dialog.get_by_role("button", name="Delete version").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Deleted mnist_model:v1.")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"{ARTIFACT}$"))
    versions = page.get_by_role("list", name="Versions of mnist_model")
    expect(versions.get_by_role("link", name="v0")).to_be_visible()
    expect(versions.get_by_role("link", name="v1")).to_have_count(0)
    expect(versions).to_contain_text("latest")
    assert not ArtifactVersion.objects.filter(pk=v1.pk).exists()


def test_a_linked_version_says_why_it_cannot_be_deleted(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto(f"{ARTIFACT}/v0")
    _menu(page, "reviewco/mnist/mnist_model:v0", "Delete")
    dialog = page.get_by_role("dialog", name="Delete mnist_model:v0?")
    expect(dialog).to_contain_text("cannot be deleted: it is linked as the versions below. Unlink it there first")
    expect(dialog.get_by_role("link", name="MNIST-dev:v0")).to_be_visible()
    expect(dialog.get_by_role("button", name="Delete version")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert ArtifactVersion.objects.filter(artifact__name="mnist_model", index=0).exists()


def test_deleting_a_registered_model_asks_in_a_dialog(page, demo):
    sign_in(page, "alice", PASSWORD)
    page.goto("/registry/model")
    for button in ["Cancel", "Delete registered model"]:
        page.get_by_role("row", name=re.compile("MNIST-dev")).hover()
        page.get_by_role("button", name="More actions for MNIST-dev").click()
        page.get_by_role("menuitem", name="Delete").click()
        dialog = page.get_by_role("dialog", name="Delete MNIST-dev?")
        expect(dialog).to_contain_text("The source artifact versions stay")
        dialog.get_by_role("button", name=button).click()
        expect(dialog).to_be_hidden()
        settled(page)
        if button == "Cancel":
            assert RegisteredModel.objects.filter(name="MNIST-dev").exists()
    expect(page.get_by_text("Deleted the registered model MNIST-dev.")).to_be_visible()
    assert not RegisteredModel.objects.filter(name="MNIST-dev").exists()


def _role(username: str) -> str | None:
    return (
        Membership.objects.filter(entity__name="reviewco", user__username=username)
        .values_list("role", flat=True)
        .first()
    )


def test_team_settings_from_the_registry_gear(page, team):
    make_user("nina")
    sign_in(page, "alice", PASSWORD)
    page.goto("/registry/model")
    page.get_by_role("link", name="Registry settings").click()
    expect(page).to_have_url(re.compile(r"/registry/settings/reviewco$"))
    members = page.locator("#team-members")

    page.get_by_label("Username").fill("nina")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    expect(members.get_by_role("row", name=re.compile("^nina"))).to_be_visible()
    settled(page)
    assert _role("nina") == "viewer"

    page.get_by_label("Role of nina", exact=True).select_option("member")
    page.get_by_role("button", name="Change the role of nina").click()
    expect(page.get_by_role("status").filter(has_text="nina is now member in reviewco.")).to_be_visible()
    settled(page)
    assert _role("nina") == "member"

    page.get_by_label("Role of alice", exact=True).select_option("viewer")
    page.get_by_role("button", name="Change the role of alice").click()
    expect(members.get_by_role("alert")).to_contain_text("alice is the last admin of 'reviewco'")
    assert _role("alice") == "admin"

    page.get_by_role("button", name="Remove nina").click()
    expect(members.get_by_role("row", name=re.compile("^nina"))).to_have_count(0)
    settled(page)
    assert _role("nina") is None

    aliases = page.locator("#protected-aliases")
    page.get_by_label("Add a protected alias").click()
    page.get_by_role("textbox", name="Protected alias").fill("staging")
    aliases.get_by_role("button", name="Add").click()
    expect(aliases.get_by_label("Stop protecting staging")).to_be_visible()
    settled(page)
    assert Entity.objects.get(name="reviewco").protected_aliases == ["production", "staging"]
    aliases.get_by_label("Stop protecting production").click()
    expect(aliases.get_by_label("Stop protecting production")).to_have_count(0)
    settled(page)
    assert Entity.objects.get(name="reviewco").protected_aliases == ["staging"]


def test_members_read_the_team_settings(page, team):
    sign_in(page, "bob", PASSWORD)
    page.goto("/registry/model")
    page.get_by_role("link", name="Registry settings").click()
    expect(page.get_by_role("table", name="Members of reviewco")).to_contain_text("alice")
    expect(page.get_by_role("button", name="Add member")).to_have_count(0)
    expect(page.locator("#protected-aliases")).to_contain_text("production")
