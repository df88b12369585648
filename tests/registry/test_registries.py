"""W&B's current Registry: organizations, registries, collections; one linking implementation with the legacy
registered models, the rules of registry roles, and the pages."""

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains

from artifacts import services as artifact_services
from artifacts.models import ArtifactVersion, Entity, Organization, Project
from registry import permissions, services
from registry.models import Link, LinkAlias, RegisteredModel, Registry, RegistryMember, RegistryTeamMember, Visibility
from tests.factories import log_version, make_entity, make_project, make_user, snapshot

ORG = "reviewco-org"


@pytest.fixture
def org(demo):
    """The demo's organization, with its Model and Dataset registries; alice (team admin) is an organization
    admin, bob (member) and vera (viewer) are organization members, oscar is outside."""
    organization = Organization.objects.get(name=ORG)
    demo.org = organization
    demo.model = organization.registries.get(name="model")
    demo.dataset = organization.registries.get(name="dataset")
    demo.mnist = ArtifactVersion.committed.get(artifact__name="mnist_model", index=1)
    demo.mnist_dataset = ArtifactVersion.committed.get(artifact__name="mnist-dataset")
    # The demo's collections start empty: link the first model and the dataset.
    services.link_version(
        version=ArtifactVersion.committed.get(artifact__name="mnist_model", index=0),
        user=demo.admin,
        registry=demo.model,
        registered_model_name="mnist-classifier",
        aliases=["staging"],
    )
    services.link_version(
        version=demo.mnist_dataset, user=demo.admin, registry=demo.dataset, registered_model_name="mnist"
    )
    return demo


def _counts():
    return (Registry.objects.count(), RegisteredModel.objects.count(), Link.objects.count(), LinkAlias.objects.count())


# The domain.


def test_the_demo_organization_owns_the_team_and_its_core_registries(demo):
    organization = Organization.objects.get(name=ORG)
    assert Entity.objects.get(name="reviewco").organization == organization
    assert sorted(organization.registries.values_list("name", flat=True)) == ["dataset", "model"]
    collections = RegisteredModel.objects.filter(registry__organization=organization).order_by("name")
    assert [(c.registry.name, c.name, c.type, c.num_versions) for c in collections] == [
        ("dataset", "mnist", "dataset", 0),
        ("model", "mnist-classifier", "model", 0),
    ]
    # The demo's versions stay linked to the legacy Model Registry only.
    assert not Link.objects.filter(registered_model__registry__isnull=False).exists()


def test_a_linked_collection_version_has_the_registry_full_name(org):
    assert Entity.objects.get(name="reviewco").organization == org.org
    assert org.org.entity.name == ORG
    assert sorted(org.org.registries.values_list("name", flat=True)) == ["dataset", "model"]
    assert org.model.artifact_types == ["model"]
    collection = RegisteredModel.objects.get(registry=org.model, name="mnist-classifier")
    assert collection.entity == org.org.entity
    link = collection.links.get()
    assert link.full_name == "wandb-registry-model/mnist-classifier:v0"
    assert sorted(link.aliases.values_list("name", flat=True)) == ["latest", "staging"]


def test_a_registry_member_links_with_the_shared_numbering_and_aliases(org):
    services.registry_member_set(registry=org.model, user=org.member, role="member", actor=org.admin)
    first = services.link_version(
        version=org.mnist, user=org.member, registry=org.model, registered_model_name="digits", aliases=["candidate"]
    )
    assert first.created and first.link.index == 0
    assert first.link.registered_model.registry == org.model
    assert first.link.registered_model.type == "model"
    earlier = ArtifactVersion.committed.get(artifact__name="mnist_model", index=0)
    second = services.link_version(version=earlier, user=org.member, registry=org.model, registered_model_name="digits")
    assert second.link.index == 1
    aliases = dict(LinkAlias.objects.filter(registered_model=second.link.registered_model).values_list("name", "link"))
    assert aliases == {"latest": second.link.pk, "candidate": first.link.pk}
    # The same source again: the existing link, aliases merged.
    again = services.link_version(
        version=org.mnist, user=org.member, registry=org.model, registered_model_name="digits", aliases=["best"]
    )
    assert (again.created, again.link.pk) == (False, first.link.pk)
    # Unlinking moves latest back and never reuses the index.
    services.link_delete(link=second.link, user=org.member)
    third = services.link_version(version=earlier, user=org.member, registry=org.model, registered_model_name="digits")
    assert third.link.index == 2


def test_a_collection_and_a_legacy_model_of_the_same_name_are_different(org):
    services.link_version(version=org.mnist, user=org.admin, registry=org.model, registered_model_name="MNIST-dev")
    legacy = RegisteredModel.objects.get(registry=None, name="MNIST-dev")
    collection = RegisteredModel.objects.get(registry=org.model, name="MNIST-dev")
    assert legacy.pk != collection.pk and legacy.entity == org.entity
    assert legacy.links.count() == 1 and collection.links.count() == 1


@pytest.mark.parametrize(
    ("who", "error"),
    [("member", PermissionDenied), ("viewer", PermissionDenied), ("outsider", Http404)],
)
def test_organization_members_read_but_only_registry_members_link(org, who, error):
    before = _counts()
    with pytest.raises(error):
        services.link_version(
            version=org.mnist, user=getattr(org, who), registry=org.model, registered_model_name="digits"
        )
    assert _counts() == before


def test_a_registry_refuses_types_it_does_not_accept_and_a_collection_keeps_its_type(org):
    before = _counts()
    with pytest.raises(ValidationError, match="the model registry accepts model"):
        services.link_version(
            version=org.mnist_dataset, user=org.admin, registry=org.model, registered_model_name="digits"
        )
    with pytest.raises(ValidationError, match="the dataset registry accepts dataset"):
        services.link_version(version=org.mnist, user=org.admin, registry=org.dataset, registered_model_name="mnist")
    assert _counts() == before
    anything = services.registry_create(organization=org.org, name="anything", user=org.admin)
    services.link_version(version=org.mnist_dataset, user=org.admin, registry=anything, registered_model_name="mixed")
    before = _counts()
    with pytest.raises(ValidationError, match="accepts versions of type 'dataset'"):
        services.link_version(version=org.mnist, user=org.admin, registry=anything, registered_model_name="mixed")
    assert _counts() == before


def test_a_registry_that_accepts_any_type_takes_datasets_and_models(org):
    anything = services.registry_create(organization=org.org, name="staging-area", user=org.admin)
    assert anything.artifact_types == []
    services.link_version(version=org.mnist, user=org.admin, registry=anything, registered_model_name="m")
    services.link_version(version=org.mnist_dataset, user=org.admin, registry=anything, registered_model_name="d")
    assert sorted(anything.collections.values_list("type", flat=True)) == ["dataset", "model"]


def test_versions_of_another_organization_are_refused(org):
    outsider_org = services.organization_create(name="other-org", teams=[Entity.objects.get(name="otherco")])
    project = make_project(Entity.objects.get(name="otherco"), "theirs")
    theirs = log_version(project, "their_model")
    before = _counts()
    # Even an admin of both sides (a superuser) may not link across organizations.
    root = make_user("root", superuser=True)
    with pytest.raises(ValidationError, match="not a team of the organization 'reviewco-org'"):
        services.link_version(version=theirs, user=root, registry=org.model, registered_model_name="digits")
    assert _counts() == before
    # Nor may a version of a team outside every organization be linked into a registry.
    loner = make_entity("loners", admin=[root])
    lone = log_version(make_project(loner, "solo"), "lone_model")
    with pytest.raises(ValidationError, match="not a team of the organization"):
        services.link_version(version=lone, user=root, registry=org.model, registered_model_name="digits")
    assert outsider_org.registries.count() == 2


def test_protected_aliases_of_a_registry_need_its_admins(org):
    services.registry_member_set(registry=org.model, user=org.member, role="member", actor=org.admin)
    assert org.model.protected_aliases == ["production"]
    link = services.link_version(
        version=org.mnist, user=org.member, registry=org.model, registered_model_name="digits"
    ).link
    with pytest.raises(PermissionDenied, match="protected"):
        services.link_alias_set(link=link, name="production", user=org.member)
    # The team's own protected aliases do not reach the registry, and the registry's do not reach the team.
    services.link_alias_set(link=link, name="staging", user=org.member)
    services.link_alias_set(link=link, name="production", user=org.admin)
    with pytest.raises(PermissionDenied, match="only admins may unlink"):
        services.link_delete(link=link, user=org.member)
    assert Link.objects.filter(pk=link.pk).exists()
    services.registry_protected_alias_remove(registry=org.model, name="production", actor=org.admin)
    services.link_delete(link=link, user=org.member)
    assert not Link.objects.filter(pk=link.pk).exists()


def test_a_restricted_registry_is_invisible_outside_its_members(org):
    secret = services.registry_create(
        organization=org.org, name="secret", user=org.admin, visibility=Visibility.RESTRICTED
    )
    assert permissions.role(org.member, secret) is None
    assert permissions.role(org.admin, secret) == "admin"
    services.registry_member_set(registry=secret, user=org.viewer, role="viewer", actor=org.admin)
    permissions.forget_roles(org.viewer)
    assert permissions.role(org.viewer, secret) == "viewer"
    with pytest.raises(Http404):
        services.link_version(version=org.mnist, user=org.member, registry=secret, registered_model_name="x")


def test_only_organization_admins_create_registries_and_bad_input_writes_nothing(org):
    before = _counts()
    with pytest.raises(PermissionDenied):
        services.registry_create(organization=org.org, name="mine", user=org.member)
    with pytest.raises(Http404):
        services.registry_create(organization=org.org, name="mine", user=org.outsider)
    for bad in ["", "has space", "a/b", "x" * 65]:
        with pytest.raises(ValidationError):
            services.registry_create(organization=org.org, name=bad, user=org.admin)
    with pytest.raises(ValidationError, match="already exists"):
        services.registry_create(organization=org.org, name="model", user=org.admin)
    with pytest.raises(ValidationError):
        services.registry_create(organization=org.org, name="ok", user=org.admin, artifact_types=["bad type"])
    with pytest.raises(ValidationError):
        services.registry_create(organization=org.org, name="ok", user=org.admin, visibility="public")
    assert _counts() == before


def test_an_accepted_type_in_use_cannot_be_removed(org):
    with pytest.raises(ValidationError, match="hold type model"):
        services.registry_update(registry=org.model, user=org.admin, artifact_types=["checkpoint"])
    assert Registry.objects.get(pk=org.model.pk).artifact_types == ["model"]
    services.registry_update(registry=org.model, user=org.admin, artifact_types=["model", "checkpoint"])
    assert Registry.objects.get(pk=org.model.pk).artifact_types == ["model", "checkpoint"]
    with pytest.raises(PermissionDenied):
        services.registry_update(registry=org.model, user=org.member, description="mine")


def test_a_registry_member_from_outside_the_organization_sees_that_registry_only(org):
    """W&B's server takes users from outside the organization (its own SDK tests add them): the registry opens to
    them, the organization does not."""
    services.registry_member_set(registry=org.model, user=org.outsider, role="member", actor=org.admin)
    permissions.forget_roles(org.outsider)
    assert permissions.role(org.outsider, org.model) == "member"
    assert permissions.role(org.outsider, org.dataset) is None
    assert not permissions.is_organization_member(org.outsider, org.org.pk)
    assert permissions.can_view_version(org.outsider, org.model.collections.get().links.get().source)
    # Their own team is outside the organization: nothing of it links here.
    theirs = log_version(make_project(make_entity("oscars", admin=[org.outsider]), "p"), "m")
    with pytest.raises(ValidationError):
        services.link_version(version=theirs, user=org.outsider, registry=org.model, registered_model_name="x")


def test_registry_member_refusals_write_nothing(org):
    before = snapshot()
    with pytest.raises(PermissionDenied):
        services.registry_member_set(registry=org.model, user=org.viewer, role="admin", actor=org.member)
    with pytest.raises(ValidationError, match="Unknown role"):
        services.registry_member_set(registry=org.model, user=org.viewer, role="owner", actor=org.admin)
    org.outsider.is_active = False
    org.outsider.save(update_fields=["is_active"])
    with pytest.raises(ValidationError, match="deactivated"):
        services.registry_member_set(registry=org.model, user=org.outsider, role="viewer", actor=org.admin)
    with pytest.raises(ValidationError, match="deactivated"):
        services.registry_members_add(registry=org.model, actor=org.admin, users=[org.viewer, org.outsider])
    with pytest.raises(ValidationError, match="Unknown role"):
        services.registry_members_add(registry=org.model, actor=org.admin, users=[org.viewer], role="owner")
    with pytest.raises(PermissionDenied):
        services.registry_members_add(registry=org.model, actor=org.member, users=[org.viewer])
    with pytest.raises(PermissionDenied):
        services.registry_members_remove(registry=org.model, actor=org.member, users=[org.admin])
    assert snapshot() == before


def test_a_teams_registry_role_reaches_its_members_while_they_are_in_it(org):
    """W&B's inherited roles: the highest of a user's own role and those of teams they are in."""
    secret = services.registry_create(organization=org.org, name="secret", user=org.admin, visibility="restricted")
    lena = make_user("lena")
    labs = make_entity("labs", admin=[lena], member=[org.outsider])
    services.registry_team_member_set(registry=secret, team=labs, role="member", actor=org.admin)
    assert permissions.role(org.outsider, secret) == "member"
    assert permissions.can_change(lena, secret)
    # A lower own role does not lower the team's; a higher one wins.
    services.registry_member_set(registry=secret, user=org.outsider, role="restricted_viewer", actor=org.admin)
    assert permissions.role(org.outsider, secret) == "member"
    services.registry_member_set(registry=secret, user=org.outsider, role="admin", actor=org.admin)
    assert permissions.role(org.outsider, secret) == "admin"
    services.registry_member_remove(registry=secret, user=org.outsider, actor=org.admin)
    assert permissions.role(org.outsider, secret) == "member"
    # Leaving the team leaves the registry (membership changes forget the cached roles).
    artifact_services.membership_remove(entity=labs, user=org.outsider, actor=lena)
    assert permissions.role(org.outsider, secret) is None
    assert not Registry.objects.filter(permissions.visible_registries_q(org.outsider), pk=secret.pk).exists()
    services.registry_team_member_remove(registry=secret, team=labs, actor=org.admin)
    permissions.forget_roles(lena)
    assert permissions.role(lena, secret) is None


def test_registry_team_member_refusals_write_nothing(org):
    labs = make_entity("labs")
    before = snapshot()
    with pytest.raises(ValidationError, match="not a team"):
        services.registry_team_member_set(registry=org.model, team=org.org.entity, role="viewer", actor=org.admin)
    with pytest.raises(ValidationError, match="not a team"):
        services.registry_members_add(registry=org.model, actor=org.admin, users=[org.viewer], teams=[org.org.entity])
    with pytest.raises(ValidationError, match="Unknown role"):
        services.registry_team_member_set(registry=org.model, team=labs, role="owner", actor=org.admin)
    with pytest.raises(PermissionDenied):
        services.registry_team_member_set(registry=org.model, team=labs, role="viewer", actor=org.member)
    with pytest.raises(ValidationError, match="no team named"):
        services.registry_team_member_add(registry=org.model, team_name="nope", role="viewer", actor=org.admin)
    with pytest.raises(ValidationError, match="not a member"):
        services.registry_team_member_remove(registry=org.model, team=labs, actor=org.admin)
    assert snapshot() == before
    services.registry_team_member_add(registry=org.model, team_name="labs", role="viewer", actor=org.admin)
    with pytest.raises(ValidationError, match="already in"):
        services.registry_team_member_add(registry=org.model, team_name="labs", role="admin", actor=org.admin)
    assert RegistryTeamMember.objects.get().role == "viewer"


def test_add_members_makes_viewers_keeps_existing_roles_and_remove_members_is_idempotent(org):
    labs = make_entity("labs")
    services.registry_member_set(registry=org.model, user=org.member, role="admin", actor=org.admin)
    services.registry_members_add(registry=org.model, actor=org.admin, users=[org.member, org.viewer], teams=[labs])
    assert dict(RegistryMember.objects.values_list("user__username", "role")) == {"bob": "admin", "vera": "viewer"}
    assert list(RegistryTeamMember.objects.values_list("team__name", "role")) == [("labs", "viewer")]
    everyone = [org.viewer, org.outsider]
    services.registry_members_remove(registry=org.model, actor=org.admin, users=everyone, teams=[labs])
    services.registry_members_remove(registry=org.model, actor=org.admin, users=[org.viewer], teams=[labs])
    assert list(RegistryMember.objects.values_list("user__username", flat=True)) == ["bob"]
    assert not RegistryTeamMember.objects.exists()


def test_a_restricted_viewer_sees_versions_but_downloads_nothing(org):
    source = org.model.collections.get().links.get().source
    services.registry_member_set(registry=org.model, user=org.outsider, role="restricted_viewer", actor=org.admin)
    assert permissions.can_view(org.outsider, org.model) and not permissions.can_change(org.outsider, org.model)
    assert permissions.can_view_version(org.outsider, source)
    assert not permissions.can_download_version(org.outsider, source)
    with pytest.raises(PermissionDenied):
        permissions.require_download_version(org.outsider, source)
    with pytest.raises(Http404):
        permissions.require_download_version(make_user("nobody"), source)
    # A viewer downloads; so do the source team's readers, whatever their registry role.
    services.registry_member_set(registry=org.model, user=org.outsider, role="viewer", actor=org.admin)
    assert permissions.can_download_version(org.outsider, source)
    services.registry_member_set(registry=org.model, user=org.viewer, role="restricted_viewer", actor=org.admin)
    assert permissions.can_download_version(org.viewer, source)


def test_only_site_admins_create_teams_and_refusals_write_nothing(org):
    root = make_user("root", superuser=True)
    before = snapshot()
    with pytest.raises(PermissionDenied):
        artifact_services.team_create(name="labs", actor=org.admin)
    with pytest.raises(ValidationError, match="no user named"):
        artifact_services.team_create(name="labs", actor=root, admin_username="nobody")
    with pytest.raises(ValidationError, match="already exists"):
        artifact_services.team_create(name="reviewco", actor=root)
    with pytest.raises(ValidationError):
        artifact_services.team_create(name="has space", actor=root)
    assert snapshot() == before
    labs = artifact_services.team_create(name="labs", actor=root, admin_username="bob")
    assert labs.organization is None
    assert list(labs.memberships.values_list("user__username", "role")) == [("bob", "admin")]


def test_a_collections_type_must_be_accepted_by_its_registry(org):
    before = _counts()
    with pytest.raises(ValidationError, match="accepts model"):
        services.registered_model_create(registry=org.model, name="data", type="dataset", user=org.admin)
    collection = services.registered_model_create(
        registry=org.model, name="empty", type="model", description="Soon.", tags=["a"], user=org.admin
    )
    assert (collection.entity, collection.num_versions) == (org.org.entity, 0)
    assert _counts()[1] == before[1] + 1


def test_deleting_a_collection_needs_a_registry_admin(org):
    collection = RegisteredModel.objects.get(registry=org.model, name="mnist-classifier")
    services.registry_member_set(registry=org.model, user=org.member, role="member", actor=org.admin)
    with pytest.raises(PermissionDenied, match="Only admins of the model registry"):
        services.registered_model_delete(registered_model=collection, user=org.member)
    services.registered_model_delete(registered_model=collection, user=org.admin)
    assert not RegisteredModel.objects.filter(pk=collection.pk).exists()
    # The source version stays.
    assert ArtifactVersion.committed.filter(artifact__name="mnist_model", index=0).exists()


def test_the_team_roles_do_not_change_who_sees_the_legacy_registry(org):
    legacy = RegisteredModel.objects.get(registry=None, name="MNIST-dev")
    assert permissions.can_view_model(org.viewer, legacy)
    assert not permissions.can_view_model(org.outsider, legacy)
    assert permissions.can_change(org.member, legacy.scope)


# The pages.


def _client(client, user):
    client.force_login(user)
    return client


def test_the_registry_home_shows_cards_recent_collections_and_search(client, org):
    page = _client(client, org.member).get("/registry")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Model Registry" in text and f'href="/orgs/{ORG}/registry/model"' in text
    assert "mnist-classifier" in text  # recently updated
    assert "Create registry" not in text  # bob is not an organization admin
    found = client.get("/registry?q=staging").content.decode()
    assert "mnist-classifier:staging" in found
    by_description = client.get(
        "/registry?q=promoted", headers={"HX-Request": "true", "HX-Target": "registry-search-results"}
    )
    assert "Results for" in by_description.content.decode() and "mnist-classifier" in by_description.content.decode()
    assert "Nothing matches" in client.get("/registry?q=zzz").content.decode()


def test_someone_outside_the_organization_sees_no_registry(client, org):
    text = _client(client, org.outsider).get("/registry?q=mnist").content.decode()
    assert "mnist-classifier" not in text and f"/orgs/{ORG}/" not in text
    assert client.get(f"/orgs/{ORG}/registry/model").status_code == 404
    assert client.get(f"/orgs/{ORG}/registry/model/c/mnist-classifier").status_code == 404
    assert client.get(f"/orgs/{ORG}/registry/model/c/mnist-classifier/v0").status_code == 404


def test_the_registry_page_collection_page_and_version_panel(client, org):
    _client(client, org.viewer)
    page = client.get(f"/orgs/{ORG}/registry/model").content.decode()
    assert 'target_path="wandb-registry-model/&lt;collection&gt;"' in page
    assert "mnist-classifier" in page and "Create collection" not in page
    detail = client.get(f"/orgs/{ORG}/registry/model/c/mnist-classifier")
    assert detail.status_code == 200 and "Digit classifier candidates" in detail.content.decode()
    panel = client.get(f"/orgs/{ORG}/registry/model/c/mnist-classifier/v0").content.decode()
    assert "wandb-registry-model/mnist-classifier:v0" in panel
    assert "mnist_model:v0" in panel  # Source Version
    # And the source version's Linked To lists the collection beside the legacy models.
    source = client.get("/reviewco/mnist/artifacts/model/mnist_model/v0").content.decode()
    assert "wandb-registry-model/mnist-classifier:v0" in source and "MNIST-dev:v0" in source


def test_create_collection_with_a_linked_version(client, org):
    _client(client, org.admin)
    url = f"/orgs/{ORG}/registry/model/collections/new"
    # The cascade: choosing a team lists its projects holding the type.
    form = client.get(
        url, {"type": "model", "team": "reviewco"}, headers={"HX-Request": "true", "HX-Target": "collection-form"}
    )
    assert 'value="mnist"' in form.content.decode()
    r = client.post(
        url,
        {
            "name": "digits",
            "type": "model",
            "description": "Digits.",
            "tags": "vision, cnn",
            "team": "reviewco",
            "project": "mnist",
            "artifact": "mnist_model",
            "version": "1",
        },
    )
    collection = RegisteredModel.objects.get(registry=org.model, name="digits")
    assert r.status_code == 302 and r["Location"] == collection.get_absolute_url()
    assert collection.tags == ["vision", "cnn"]
    assert collection.links.get().source == org.mnist


def test_create_collection_refusals_write_nothing(client, org):
    url = f"/orgs/{ORG}/registry/model/collections/new"
    before = _counts()
    assert _client(client, org.member).post(url, {"name": "digits", "type": "model"}).status_code == 403
    _client(client, org.admin)
    r = client.post(url, {"name": "bad name", "type": "model"})
    assert r.status_code == 200 and "collection name" in r.content.decode()
    r = client.post(url, {"name": "mnist-classifier", "type": "model"})
    assert "already exists" in r.content.decode()
    r = client.post(url, {"name": "digits", "type": "dataset"})
    assert r.status_code == 200 and "Select a valid choice" in r.content.decode()
    assert _counts() == before


def test_link_new_version_of_a_collection_goes_team_project_artifact_version(client, org):
    _client(client, org.admin)
    url = f"/orgs/{ORG}/registry/model/c/mnist-classifier/link"
    dialog = client.get(url).content.decode()
    assert 'name="team"' in dialog and "reviewco" in dialog
    r = client.post(url, {"team": "reviewco", "project": "mnist", "artifact": "mnist_model", "version": "1"})
    assert r.status_code == 302
    collection = RegisteredModel.objects.get(registry=org.model, name="mnist-classifier")
    assert list(collection.links.order_by("index").values_list("index", "source")) == [
        (0, ArtifactVersion.committed.get(artifact__name="mnist_model", index=0).pk),
        (1, org.mnist.pk),
    ]


def test_link_to_registry_from_the_artifact_browser_offers_registries(client, org):
    _client(client, org.admin)
    url = "/reviewco/mnist/artifacts/dataset/mnist-dataset/v0/link"
    step1 = client.get(url).content.decode()
    assert "Select a collection" in step1  # a dataset goes to the Dataset registry only
    step2 = client.post(url, {"step": "1", "registry": "dataset", "new_name": "digits-data"})
    assert "Step 2 of 2" in step2.content.decode()
    done = client.post(url, {"step": "2", "registry": "dataset", "new_name": "digits-data", "aliases": "golden"})
    assert done.status_code == 302
    link = Link.objects.get(registered_model__registry=org.dataset, registered_model__name="digits-data")
    assert sorted(link.aliases.values_list("name", flat=True)) == ["golden", "latest"]
    # A model may go to the team's Model Registry or to the model registry.
    model_url = "/reviewco/mnist/artifacts/model/mnist_model/v1/link"
    choices = client.get(model_url).content.decode()
    assert "Model Registry (reviewco)" in choices and "model (wandb-registry-model)" in choices
    r = client.post(model_url, {"step": "2", "registry": "model", "registered_model": "mnist-classifier"})
    assert r.status_code == 302
    assert Link.objects.filter(registered_model__registry=org.model, source=org.mnist).exists()


def test_registry_settings_types_protected_aliases_and_members(client, org):
    base = f"/orgs/{ORG}/registry/model/settings"
    _client(client, org.member)
    assert client.get(base).status_code == 200  # viewers read the settings
    assert (
        client.post(base, {"description": "x", "artifact_types": "model", "visibility": "organization"}).status_code
        == 403
    )
    assert client.post(f"{base}/members", {"username": "bob", "role": "admin"}).status_code == 403
    _client(client, org.admin)
    r = client.post(base, {"description": "Models.", "artifact_types": "model, checkpoint", "visibility": "restricted"})
    assert r.status_code == 302
    registry = Registry.objects.get(pk=org.model.pk)
    assert (registry.artifact_types, registry.visibility) == (["model", "checkpoint"], "restricted")
    r = client.post(base, {"description": "", "artifact_types": "checkpoint", "visibility": "restricted"})
    assert "hold type model" in r.content.decode()
    assert Registry.objects.get(pk=org.model.pk).artifact_types == ["model", "checkpoint"]
    assert client.post(f"{base}/protected-aliases", {"alias": "champion"}).status_code == 302
    assert Registry.objects.get(pk=org.model.pk).protected_aliases == ["production", "champion"]
    assert client.post(f"{base}/members", {"username": "bob", "role": "member"}).status_code == 302
    assert client.post(f"{base}/members", {"username": "nobody", "role": "member"}).status_code == 302
    assert list(RegistryMember.objects.values_list("user__username", "role")) == [("bob", "member")]
    # bob now links on the (restricted) registry; vera no longer sees it.
    _client(client, org.member)
    assert client.get(f"/orgs/{ORG}/registry/model").content.decode().count("Create collection") >= 1
    _client(client, org.viewer)
    assert client.get(f"/orgs/{ORG}/registry/model").status_code == 404


def test_create_registry_page_for_organization_admins(client, org):
    assert _client(client, org.member).get("/registry/new").status_code == 403
    _client(client, org.admin)
    assert "Create registry" in client.get("/registry").content.decode()
    r = client.post(
        "/registry/new",
        {
            "organization": ORG,
            "name": "evals",
            "description": "Eval sets.",
            "artifact_types": "dataset, eval",
            "visibility": "organization",
        },
    )
    assert r.status_code == 302 and r["Location"] == f"/orgs/{ORG}/registry/evals"
    assert Registry.objects.get(name="evals").artifact_types == ["dataset", "eval"]
    before = _counts()
    assert (
        "already exists"
        in client.post(
            "/registry/new", {"organization": ORG, "name": "evals", "visibility": "organization"}
        ).content.decode()
    )
    assert _counts() == before


@pytest.mark.parametrize(
    ("who", "read", "write", "admin"),
    [
        ("admin", 200, 302, 302),
        ("registry_member", 200, 302, 403),
        ("member", 200, 403, 403),
        ("viewer", 200, 403, 403),
        ("outsider", 404, 404, 404),
    ],
)
def test_registry_roles_by_route(client, org, who, read, write, admin):
    """Each role against reading, linking (member) and administering (admin) routes."""
    if who == "registry_member":
        services.registry_member_set(registry=org.model, user=org.member, role="member", actor=org.admin)
        who = "member"
    _client(client, getattr(org, who))
    base = f"/orgs/{ORG}/registry/model"
    collection = f"{base}/c/mnist-classifier"
    for url in [base, f"{base}/settings", collection, f"{collection}/v0", f"{collection}/v0/lineage"]:
        assert client.get(url).status_code == read, url
    assert client.post(f"{collection}/tags", {"tag": "new"}).status_code == write
    assert client.post(f"{collection}/v0/aliases", {"alias": "candidate"}).status_code == write
    assert client.post(f"{base}/settings/protected-aliases", {"alias": "gold"}).status_code == admin
    assert client.post(f"{collection}/delete").status_code == admin


def test_signed_out_browsers_are_sent_to_sign_in_alike_for_real_and_missing_registries(client, org):
    for url in [f"/orgs/{ORG}/registry/model", f"/orgs/{ORG}/registry/missing", "/orgs/nope/registry/x"]:
        r = client.get(url, headers={"Accept": "text/html"})
        assert r.status_code == 302 and r["Location"].endswith(f"?next={url.replace('/', '%2F')}"), url
    # The Registry home itself is public but shows nothing private.
    assert "mnist-classifier" not in client.get("/registry").content.decode()


def test_organization_roles_follow_team_membership_changes(org):
    assert permissions.is_organization_admin(org.admin, org.org.pk)
    artifact_services.membership_set(entity=org.entity, user=org.viewer, role="admin", actor=org.admin)
    assert permissions.is_organization_admin(org.viewer, org.org.pk)


def test_a_team_viewer_who_is_a_registry_member_links_from_the_artifact_browser(client, org):
    services.registry_member_set(registry=org.model, user=org.viewer, role="member", actor=org.admin)
    url = "/reviewco/mnist/artifacts/model/mnist_model/v1/link"
    _client(client, org.viewer)
    dialog = client.get(url).content.decode()
    assert "Model Registry (reviewco)" not in dialog  # not a writer of the team's own registry
    r = client.post(url, {"step": "2", "registry": "model", "registered_model": "mnist-classifier"})
    assert r.status_code == 302
    assert Link.objects.filter(registered_model__registry=org.model, source=org.mnist).exists()
    # Without a registry to link to, a team viewer is refused as before.
    RegistryMember.objects.all().delete()
    permissions.forget_roles(org.viewer)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    ("who", "read", "write"), [("org_member", 404, 404), ("viewer", 200, 403), ("member", 200, 302)]
)
def test_a_restricted_registrys_routes_by_role(client, org, who, read, write):
    """A restricted registry: invisible (404) to the organization's other members, read-only (403) to its
    viewers, writable by its members."""
    secret = services.registry_create(organization=org.org, name="secret", user=org.admin, visibility="restricted")
    services.link_version(version=org.mnist, user=org.admin, registry=secret, registered_model_name="quiet-one")
    if who != "org_member":
        services.registry_member_set(registry=secret, user=org.member, role=who, actor=org.admin)
    _client(client, org.member)
    base = f"/orgs/{ORG}/registry/secret"
    for url in [base, f"{base}/settings", f"{base}/c/quiet-one", f"{base}/c/quiet-one/v0", f"{base}/c/quiet-one/link"]:
        expected = read if not url.endswith("/link") else (write if write != 302 else 200)
        assert client.get(url).status_code == expected, url
    assert client.post(f"{base}/c/quiet-one/v0/aliases", {"alias": "candidate"}).status_code == write
    assert client.post(f"{base}/collections/new", {"name": "more", "type": "model"}).status_code == write
    home = client.get("/registry?q=quiet-one").content.decode()
    assert ('/c/quiet-one"' in home) == (who != "org_member")


def test_a_collections_versions_table_shows_the_source_versions_tags(client, org):
    artifact_services.version_update(version=org.mnist, user=org.admin, tags_add=["best-so-far"])
    services.link_version(version=org.mnist, user=org.admin, registry=org.model, registered_model_name="digits")
    page = _client(client, org.viewer).get(f"/orgs/{ORG}/registry/model/c/digits").content.decode()
    assert ">Tags</th>" in page
    assert '<span class="tag">best-so-far</span>' in page


def test_the_registry_search_finds_versions_by_their_tags(client, org):
    artifact_services.version_update(version=org.mnist, user=org.admin, tags_add=["release-candidate"])
    services.link_version(version=org.mnist, user=org.admin, registry=org.model, registered_model_name="digits")
    page = _client(client, org.member).get("/registry?q=release-candidate").content.decode()
    assert f'href="/orgs/{ORG}/registry/model/c/digits/v0">digits:v0</a>' in page
    # Not for someone outside the organization.
    page = _client(client, org.outsider).get("/registry?q=release-candidate").content.decode()
    assert "digits:v0" not in page


def test_the_settings_page_lists_team_members_and_offers_the_restricted_viewer_role(client, org):
    services.registry_team_member_set(registry=org.model, team=make_entity("labs"), role="member", actor=org.admin)
    page = _client(client, org.viewer).get(f"/orgs/{ORG}/registry/model/settings").content.decode()
    assert "<td>labs</td>" in page and ">Member</span>" in page
    page = _client(client, org.admin).get(f"/orgs/{ORG}/registry/model/settings").content.decode()
    assert '<option value="restricted_viewer">Restricted viewer</option>' in page


def test_registry_members_roles_change_and_removal_on_the_settings_page(client, org):
    services.registry_member_set(registry=org.model, user=org.member, role="viewer", actor=org.admin)
    base = f"/orgs/{ORG}/registry/model/settings"
    page = _client(client, org.admin).get(base).content.decode()
    assert f'action="{base}/members/bob/role"' in page and f'action="{base}/members/bob/remove"' in page
    assert f'action="{base}/protected-aliases/production/delete"' in page
    hx = {"HX-Request": "true"}
    r = client.post(f"{base}/members/bob/role", {"role": "admin"}, headers=hx)
    assert 'id="registry-members"' in r.content.decode()
    assert RegistryMember.objects.get(user=org.member).role == "admin"
    r = client.post(f"{base}/members/bob/role", {"role": "owner"}, headers=hx)
    assert "Unknown role" in r.content.decode() and RegistryMember.objects.get(user=org.member).role == "admin"
    client.post(f"{base}/members/bob/remove", headers=hx)
    assert not RegistryMember.objects.exists()
    assert client.post(f"{base}/members/bob/remove").status_code == 404
    client.post(f"{base}/protected-aliases/production/delete")
    assert Registry.objects.get(pk=org.model.pk).protected_aliases == []


def test_an_error_in_the_create_collection_dialog_answers_in_the_dialog(client, org):
    before = _counts()
    r = _client(client, org.admin).post(
        f"/orgs/{ORG}/registry/model/collections/new",
        {"name": "mnist-classifier", "type": "model", "team": ""},
        headers={"HX-Request": "true", "HX-Target": "collection-form"},
    )
    assert r.status_code == 200
    assert 'id="collection-form"' in r.content.decode() and "already exists" in r.content.decode()
    r = client.post(
        "/registry/new",
        {"organization": ORG, "name": "model", "visibility": "organization"},
        headers={"HX-Request": "true", "HX-Target": "new-registry-form"},
    )
    assert r.status_code == 200 and "already exists" in r.content.decode()
    assert _counts() == before


def test_registry_admins_add_change_and_remove_teams_on_the_settings_page(client, org):
    base = f"/orgs/{ORG}/registry/model/settings"
    labs = make_entity("labs", admin=[make_user("lena")])
    hx = {"HX-Request": "true", "HX-Target": "registry-teams"}
    _client(client, org.member)
    assert client.post(f"{base}/teams", {"team": "labs", "role": "member"}).status_code == 403
    assertNotContains(client.get(base), "Add team")
    _client(client, org.admin)
    assertContains(client.get(base), "Add team")
    before = snapshot()
    for team, role, error in [
        ("nope", "viewer", "no team named"),
        (org.org.entity.name, "viewer", "not a team"),
        ("labs", "owner", "Unknown role"),
    ]:
        r = client.post(f"{base}/teams", {"team": team, "role": role}, headers=hx)
        assertContains(r, error)
        assertContains(r, f'value="{team}"')  # what was typed stays
    assert snapshot() == before
    r = client.post(f"{base}/teams", {"team": "labs", "role": "member"}, headers=hx)
    assertContains(r, 'id="registry-teams"')
    assert "Added the team labs as member." in r["HX-Trigger"]
    assert RegistryTeamMember.objects.get(team=labs).role == "member"
    assertContains(client.post(f"{base}/teams", {"team": "labs", "role": "admin"}, headers=hx), "already in")
    client.post(f"{base}/teams/labs/role", {"role": "viewer"}, headers=hx)
    assert RegistryTeamMember.objects.get(team=labs).role == "viewer"
    assert client.post(f"{base}/teams/other/role", {"role": "viewer"}, headers=hx).status_code == 404
    client.post(f"{base}/teams/labs/remove", headers=hx)
    assert not RegistryTeamMember.objects.filter(team=labs).exists()


def test_a_registry_page_reads_its_collections_by_an_index_however_many_it_holds(client, org):
    """As for the team's Model Registry list (test_registry_pages): with statistics that say every collection is
    in one registry, SQLite must still read a page by the sort's index, not sort all of them."""
    RegisteredModel.objects.bulk_create(
        RegisteredModel(entity=org.model.organization.entity, registry=org.model, name=f"bulk-{i:04}", type="model")
        for i in range(2000)
    )
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    _client(client, org.member)
    for url, limit in ((f"/orgs/{ORG}/registry/model", 50), ("/registry", 8)):
        with CaptureQueriesContext(connection) as page:
            assert client.get(url).status_code == 200
        [listed] = [
            q["sql"] for q in page.captured_queries if re.search(rf"ORDER BY .*updated_at.*LIMIT {limit}$", q["sql"])
        ]
        # Their scopes are prefetched, not joined.
        assert "artifacts_entity" not in listed and "artifacts_organization" not in listed, listed
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN QUERY PLAN " + listed)
                plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
            if limit == 50:
                assert "TEMP B-TREE" not in plan, plan
            else:
                # Each registry's newest 8 by its index; only those are sorted together.
                assert "USING COVERING INDEX collection_updated" in plan and "registry_id_" not in plan, plan
                assert "SCAN registry_registeredmodel" not in plan, plan


def test_the_registry_home_shows_the_newest_collections_of_a_thousand_registries(client, org):
    """One condition per registry would make too deep a query for SQLite at about a thousand registries (a site
    admin sees every organization's): past RECENT_PER_REGISTRY_UP_TO the page reads them all at once."""
    many = Registry.objects.bulk_create(Registry(organization=org.org, name=f"bulk-{i:04}") for i in range(1000))
    RegisteredModel.objects.create(
        entity=org.org.entity, registry=many[-1], name="newest-of-all", type="model", description="shown"
    )
    for user in (make_user("site-admin", superuser=True), org.member):
        page = _client(client, user).get("/registry")
        assert page.status_code == 200
        assert [c.name for c in page.context["recent"]][0] == "newest-of-all"


def test_create_collection_finds_and_links_a_version_among_many(client, org):
    """As Link new version: the newest 100 are listed, a search finds any other, and it can be linked."""
    from tests.factories import bulk_versions
    from tests.registry.test_registry_pages import options

    bulk_versions(Project.objects.get(entity__name="reviewco", name="mnist"), "big_model", 130)
    _client(client, org.admin)
    url = f"/orgs/{ORG}/registry/model/collections/new"
    cascade = {"type": "model", "team": "reviewco", "project": "mnist", "artifact": "big_model"}
    form = client.get(url, cascade, headers={"HX-Request": "true", "HX-Target": "collection-form"})
    assertContains(form, 'name="version_q"')
    listed = options(form, "version")
    assert len(listed) == 100 and "v3 (b3)" not in listed
    found = client.get(
        url, {**cascade, "version_q": "v3"}, headers={"HX-Request": "true", "HX-Target": "collection-version-field"}
    )
    assert options(found, "version") == ["v3 (b3)"]
    assertContains(found, "1 match “v3”")
    r = client.post(url, {**cascade, "name": "big", "version": "3"})
    collection = RegisteredModel.objects.get(registry=org.model, name="big")
    assert r.status_code == 302
    assert collection.links.get().source.index == 3
