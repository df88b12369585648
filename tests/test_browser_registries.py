"""A person clicking through W&B's current Registry in Chromium: registries, collections, linking, settings."""

import re

import pytest
from playwright.sync_api import expect

from registry.models import Link, RegisteredModel, Registry, RegistryMember, RegistryTeamMember
from tests.browser import settled, sign_in
from tests.factories import PASSWORD, make_entity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ORG = "reviewco-org"


def test_create_a_registry_a_collection_and_link_into_it_from_both_sides(page, demo):
    sign_in(page, "alice", PASSWORD)
    page.get_by_role("link", name="Registry", exact=True).click()
    expect(page).to_have_url(re.compile(r"/registry$"))
    expect(page.get_by_role("link", name=re.compile(r"^model "))).to_be_visible()

    # Create registry (organization admins).
    page.get_by_role("link", name="Create registry").click()
    drawer = page.get_by_role("dialog", name="Create registry")
    expect(drawer).to_be_visible()
    drawer.get_by_label("Name").fill("bad name")
    drawer.get_by_role("button", name="Create registry").click()
    expect(drawer.get_by_role("alert")).to_contain_text("Invalid registry name")
    drawer.get_by_label("Name").fill("checkpoints")
    drawer.get_by_label("Description").fill("Candidate checkpoints.")
    drawer.get_by_label("Accepted artifact types").fill("model")
    drawer.get_by_role("button", name="Create registry").click()
    expect(page).to_have_url(re.compile(rf"/orgs/{ORG}/registry/checkpoints$"))
    expect(page.locator("pre.code")).to_contain_text('target_path="wandb-registry-checkpoints/<collection>"')

    # Create collection: Name, Type, Description, Tags, then Link version (Team -> Project -> Artifact -> Version).
    page.get_by_role("link", name="Create collection").click()
    drawer = page.get_by_role("dialog", name="Create collection")
    expect(drawer).to_be_visible()
    drawer.get_by_label("Name").fill("digits")
    drawer.get_by_label("Description").fill("Digit classifiers.")
    drawer.get_by_label("Tags").fill("vision")
    settled(page)
    drawer.get_by_label("Team").select_option("reviewco")
    expect(drawer.get_by_label("Project")).to_be_enabled()
    settled(page)
    drawer.get_by_label("Project").select_option("mnist")
    expect(drawer.get_by_label("Artifact")).to_be_enabled()
    settled(page)
    drawer.get_by_label("Artifact").select_option("mnist_model")
    expect(drawer.get_by_label("Version")).to_be_enabled()
    # What was typed survives the cascade.
    expect(drawer.get_by_label("Name")).to_have_value("digits")
    settled(page)
    drawer.get_by_label("Version").select_option("0")
    drawer.get_by_role("button", name="Create collection").click()
    expect(page).to_have_url(re.compile(rf"/orgs/{ORG}/registry/checkpoints/c/digits$"))
    expect(page.get_by_role("heading", name=re.compile("digits"))).to_be_visible()
    collection = RegisteredModel.objects.get(registry__name="checkpoints", name="digits")
    assert list(collection.links.values_list("index", flat=True)) == [0]

    # Link from the Artifact browser: open a version, Link to registry, pick the registry and the collection.
    page.goto("/reviewco/mnist/artifacts/model/mnist_model/v1")
    page.get_by_role("link", name="Link to registry").click()
    modal = page.get_by_role("dialog", name="Link to registry")
    expect(modal).to_be_visible()
    settled(page)
    modal.get_by_label("Registry").select_option("checkpoints")
    expect(modal.get_by_label("Select a collection")).to_be_visible()
    modal.get_by_label("Select a collection").select_option("digits")
    modal.get_by_role("button", name="Next step").click()
    expect(modal.get_by_text("Step 2 of 2")).to_be_visible()
    modal.get_by_label("Aliases").fill("candidate")
    modal.get_by_role("button", name="Link to registry").click()
    expect(modal).to_be_hidden()
    expect(page.get_by_role("link", name="wandb-registry-checkpoints/digits:v1")).to_be_visible()

    # Link new version from the collection's hover menu on the registry page.
    page.goto(f"/orgs/{ORG}/registry/model")
    row = page.get_by_role("row", name=re.compile("mnist-classifier"))
    row.hover()
    page.get_by_role("button", name="More actions for mnist-classifier").click()
    page.get_by_role("menuitem", name="Link new version").click()
    dialog = page.get_by_role("dialog", name="Link new version")
    expect(dialog).to_be_visible()
    settled(page)
    dialog.get_by_label("Team").select_option("reviewco")
    settled(page)
    dialog.get_by_label("Project").select_option("mnist")
    settled(page)
    dialog.get_by_label("Artifact").select_option("mnist_model")
    settled(page)
    dialog.get_by_label("Version").select_option("1")
    dialog.get_by_role("button", name="Link version").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Linked")).to_contain_text(
        "Linked mnist_model:v1 as mnist-classifier:v0"
    )

    # View details, then a version: the five-tab panel with the registry's Full Name and the Source Version.
    page.get_by_role("row", name=re.compile("mnist-classifier")).get_by_role("link", name="View details").click()
    page.get_by_role("link", name="View").first.click()
    panel = page.locator("#detail-panel")
    expect(panel).to_contain_text("wandb-registry-model/mnist-classifier:v0")
    expect(panel).to_contain_text("mnist_model:v1")
    for tab, text in [
        ("Metadata", "accuracy"),
        ("Usage", "wandb-registry-model/mnist-classifier"),
        ("Files", "model.pt"),
    ]:
        panel.get_by_role("link", name=tab, exact=True).click()
        expect(page).to_have_url(re.compile(f"/registry/model/c/mnist-classifier/v0/{tab.lower()}$"))
        expect(page.locator("#detail-panel")).to_contain_text(text)
    assert Link.objects.get(registered_model__name="mnist-classifier").source.index == 1


def test_registry_settings_types_protected_alias_and_member(page, demo):
    sign_in(page, "alice", PASSWORD)
    page.goto(f"/orgs/{ORG}/registry/model")
    page.get_by_role("link", name="Registry settings").click()
    expect(page).to_have_url(re.compile(r"/settings$"))

    page.get_by_label("Accepted artifact types").fill("model, checkpoint")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    # Removing a type a collection holds is refused, in place.
    page.get_by_label("Accepted artifact types").fill("checkpoint")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_contain_text("hold type model")
    assert Registry.objects.get(organization__name=ORG, name="model").artifact_types == ["model", "checkpoint"]

    page.get_by_label("Add a protected alias").click()
    page.get_by_role("textbox", name="Protected alias").fill("champion")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#protected-aliases")).to_contain_text("champion")

    page.get_by_label("Username").fill("bob")
    page.get_by_label("Role", exact=True).select_option("member")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("table", name="Members of model")).to_contain_text("bob")
    assert RegistryMember.objects.get(user__username="bob").role == "member"

    # A team: an unknown name is refused in place, keeping what was typed; then the real one, and its role changed.
    make_entity("labs")
    page.get_by_label("Team", exact=True).fill("lbas")
    page.get_by_role("button", name="Add team").click()
    expect(page.locator("#registry-teams").get_by_role("alert")).to_contain_text("no team named 'lbas'")
    expect(page.get_by_label("Team", exact=True)).to_have_value("lbas")
    page.get_by_label("Team", exact=True).fill("labs")
    page.get_by_label("Team role").select_option("member")
    page.get_by_role("button", name="Add team").click()
    expect(page.get_by_role("table", name="Teams in model")).to_contain_text("labs")
    page.get_by_label("Role of the team labs", exact=True).select_option("admin")
    page.get_by_role("button", name="Change the role of the team labs").click()
    expect(page.get_by_role("status").filter(has_text="The team labs is now admin")).to_be_visible()
    assert RegistryTeamMember.objects.get(team__name="labs").role == "admin"
    assert Registry.objects.get(organization__name=ORG, name="model").protected_aliases == ["production", "champion"]

    # bob, now a member, may create collections there.
    page.context.clear_cookies()
    sign_in(page, "bob", PASSWORD)
    page.goto(f"/orgs/{ORG}/registry/model")
    expect(page.get_by_role("link", name="Create collection")).to_be_visible()


def test_create_collection_finds_a_version_among_many_by_searching(page, demo):
    from artifacts.models import Project
    from tests.factories import bulk_versions

    bulk_versions(Project.objects.get(entity__name="reviewco", name="mnist"), "big_model", 130)
    sign_in(page, "alice", PASSWORD)
    page.goto(f"/orgs/{ORG}/registry/model")
    page.get_by_role("link", name="Create collection").click()
    drawer = page.get_by_role("dialog", name="Create collection")
    drawer.get_by_label("Name").fill("big")
    settled(page)
    drawer.get_by_label("Team").select_option("reviewco")
    settled(page)
    drawer.get_by_label("Project").select_option("mnist")
    settled(page)
    drawer.get_by_label("Artifact").select_option("big_model")
    settled(page)  # the new search box listens only once htmx has processed it
    search = drawer.get_by_label("Find a version")
    expect(search).to_be_visible()
    expect(drawer.get_by_label("Version", exact=True).locator("option", has_text="v3 (b3)")).to_have_count(0)
    search.fill("v3")
    expect(drawer.get_by_text("1 match “v3”")).to_be_visible()
    # Only the Version field was swapped: the search box keeps what was typed, and the focus.
    expect(search).to_be_focused()
    # Enter searches; it does not create the collection.
    search.press("Enter")
    settled(page)
    expect(drawer).to_be_visible()
    assert not RegisteredModel.objects.filter(name="big").exists()
    # Another artifact is listed afresh, not filtered by the search typed for the first.
    drawer.get_by_label("Artifact").select_option("mnist_model")
    settled(page)
    expect(drawer.locator("#collection-version-count")).to_have_text("2 versions")
    drawer.get_by_label("Artifact").select_option("big_model")
    settled(page)
    drawer.get_by_label("Find a version").fill("v3")
    expect(drawer.get_by_text("1 match “v3”")).to_be_visible()
    drawer.get_by_label("Version", exact=True).select_option("3")
    drawer.get_by_role("button", name="Create collection").click()
    expect(page).to_have_url(re.compile(rf"/orgs/{ORG}/registry/model/c/big$"))
    assert RegisteredModel.objects.get(registry__name="model", name="big").links.get().source.index == 3
