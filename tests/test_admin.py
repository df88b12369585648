import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from artifacts.models import ArtifactAlias, Membership, Role
from registry.models import Link, LinkAlias, RegisteredModel
from tests.factories import link, log_version, make_user, snapshot


@pytest.fixture
def root(team):
    user = make_user("root", superuser=True)
    Membership.objects.create(entity=team.entity, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def staff_member(team):
    """Staff with every admin permission but only the member role in reviewco."""
    from django.contrib.auth.models import Permission

    user = make_user("stella")
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.all())
    Membership.objects.create(entity=team.entity, user=user, role=Role.MEMBER)
    return user


@pytest.mark.parametrize(
    "model",
    [
        "artifacts/entity",
        "artifacts/membership",
        "artifacts/project",
        "artifacts/run",
        "artifacts/artifact",
        "artifacts/artifactversion",
        "artifacts/artifactfile",
        "artifacts/artifactalias",
        "artifacts/artifactusage",
        "artifacts/blob",
        "artifacts/apikey",
        "artifacts/deletedrun",
        "registry/registeredmodel",
        "registry/link",
        "registry/linkalias",
        "artifacts/event",
        "artifacts/organization",
        "registry/registry",
    ],
)
def test_every_concept_has_a_searchable_admin_list(client, root, project, model):
    version = log_version(project, "mnist_model")
    link(version)
    client.force_login(root)
    app, name = model.split("/")
    url = f"/admin/{app}/{name}/"
    if name == "artifactfile":
        # Files are shown inline in their version.
        url = reverse("admin:artifacts_artifactversion_change", args=[version.pk])
        assertContains(client.get(url), "model.pt")
        return
    r = client.get(url, {"q": "mnist"})
    assert r.status_code == 200


def test_adding_a_link_in_the_admin_uses_the_next_index_and_moves_latest(client, root, project):
    v0, v1 = log_version(project, content=b"a"), log_version(project, content=b"b")
    first = link(v0)
    client.force_login(root)
    r = client.post(
        reverse("admin:registry_link_add"),
        {"registered_model": first.registered_model.pk, "source": v1.pk, "aliases": "staging"},
    )
    assert r.status_code == 302, r.content
    new = Link.objects.get(source=v1)
    assert new.index == 1
    assert set(new.aliases.values_list("name", flat=True)) == {"latest", "staging"}


def test_the_admin_cannot_link_a_dataset(client, root, project):
    first = link(log_version(project))
    dataset = log_version(project, "mnist-dataset", type="dataset")
    client.force_login(root)
    before = snapshot()
    r = client.post(
        reverse("admin:registry_link_add"), {"registered_model": first.registered_model.pk, "source": dataset.pk}
    )
    assertContains(r, "contains &#x27;model&#x27;")
    assert snapshot() == before


def test_a_staff_member_cannot_set_a_protected_alias_in_the_admin(client, staff_member, project):
    lk = link(log_version(project))
    client.force_login(staff_member)
    before = snapshot()
    r = client.post(reverse("admin:registry_linkalias_add"), {"link": lk.pk, "name": "production"})
    assertContains(r, "protected")
    assert snapshot() == before


def test_a_reserved_alias_is_a_form_error_in_the_admin(client, root, project):
    lk = link(log_version(project))
    client.force_login(root)
    before = snapshot()
    r = client.post(reverse("admin:registry_linkalias_add"), {"link": lk.pk, "name": "v3"})
    assertContains(r, "version numbers")
    assert snapshot() == before


def test_adding_an_existing_alias_in_the_admin_moves_it(client, root, project):
    v0, v1 = log_version(project, content=b"a", aliases=["best"]), log_version(project, content=b"b")
    client.force_login(root)
    r = client.post(reverse("admin:artifacts_artifactalias_add"), {"version": v1.pk, "name": "best"})
    assert r.status_code == 302, r.content
    assert ArtifactAlias.objects.get(artifact=v0.artifact, name="best").version == v1


def test_latest_cannot_be_deleted_in_the_admin(client, root, project):
    lk = link(log_version(project))
    client.force_login(root)
    latest = LinkAlias.objects.get(link=lk, name="latest")
    r = client.post(reverse("admin:registry_linkalias_delete", args=[latest.pk]), {"post": "yes"})
    assert r.status_code == 403
    assert LinkAlias.objects.filter(pk=latest.pk).exists()


def test_registering_a_model_in_the_admin_validates_the_name_and_uniqueness(client, root, team):
    client.force_login(root)
    data = {"entity": team.entity.pk, "name": "bad name", "type": "model", "description": "", "tags_text": ""}
    data |= {"links-TOTAL_FORMS": 0, "links-INITIAL_FORMS": 0}
    r = client.post(reverse("admin:registry_registeredmodel_add"), data)
    assertContains(r, "Invalid registered model name")
    r = client.post(reverse("admin:registry_registeredmodel_add"), {**data, "name": "MNIST-dev", "tags_text": "a, b"})
    assert r.status_code == 302
    assert RegisteredModel.objects.get().tags == ["a", "b"]
    r = client.post(reverse("admin:registry_registeredmodel_add"), {**data, "name": "MNIST-dev"})
    assertContains(r, "already exists")
    assert RegisteredModel.objects.count() == 1


def test_digest_size_and_index_are_read_only(client, root, project):
    version = log_version(project)
    client.force_login(root)
    digest = version.digest
    r = client.post(
        reverse("admin:artifacts_artifactversion_change", args=[version.pk]),
        {
            "description": "new words",
            "digest": "0" * 32,
            "index": 9,
            "size": 1,
            "aliases-TOTAL_FORMS": 0,
            "aliases-INITIAL_FORMS": 0,
            "files-TOTAL_FORMS": 0,
            "files-INITIAL_FORMS": 0,
        },
    )
    assert r.status_code == 302, r.content
    version.refresh_from_db()
    assert (version.description, version.digest, version.index) == ("new words", digest, 0)


def test_the_blob_list_shows_health_and_verifies_selected_blobs(client, root, project, file_storage):
    from artifacts.models import Blob, BlobStatus

    good = log_version(project, "cnn", content=b"good").files.get().blob
    bad = log_version(project, "other", content=b"bytes").files.get().blob
    (file_storage / bad.storage_key).write_bytes(b"bytez")
    client.force_login(root)
    r = client.post(
        reverse("admin:artifacts_blob_changelist"),
        {"action": "verify", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    assertContains(r, "Verified 2 blob(s): 1 bad or missing.")
    assert Blob.objects.get(pk=bad.pk).status == BlobStatus.BAD
    r = client.get(reverse("admin:artifacts_blob_changelist"), {"status__exact": "bad"})
    assertContains(r, bad.sha256)
    assertContains(r, "Corrupt")
    assert good.sha256 not in r.content.decode()


def _entity_form(entity, *, protected: str, roles: dict, delete: tuple = ()) -> dict:
    """The entity's change form as the admin posts it: its memberships inline, with `roles` by username."""
    rows = list(Membership.objects.filter(entity=entity).select_related("user").order_by("pk"))
    data = {
        "name": entity.name,
        "description": entity.description,
        "protected_aliases": protected,
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(len(rows)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, m in enumerate(rows):
        data.update(
            {
                f"memberships-{i}-id": str(m.pk),
                f"memberships-{i}-entity": str(entity.pk),
                f"memberships-{i}-user": str(m.user_id),
                f"memberships-{i}-role": roles.get(m.user.username, m.role),
            }
        )
        if m.user.username in delete:
            data[f"memberships-{i}-DELETE"] = "on"
    return data


def test_the_entity_admin_changes_protected_aliases_and_roles_through_the_services(client, root, team):
    from artifacts.models import Entity

    client.force_login(root)
    url = reverse("admin:artifacts_entity_change", args=[team.entity.pk])
    r = client.post(url, _entity_form(team.entity, protected='["staging"]', roles={"bob": "viewer"}))
    assert r.status_code == 302
    assert Entity.objects.get(pk=team.entity.pk).protected_aliases == ["staging"]
    assert Membership.objects.get(entity=team.entity, user=team.member).role == "viewer"

    before = snapshot()
    r = client.post(url, _entity_form(team.entity, protected='["latest"]', roles={}))
    assertContains(r, "managed automatically")
    r = client.post(url, _entity_form(team.entity, protected="[]", roles={"alice": "member", "root": "member"}))
    assertContains(r, "must keep at least one admin")
    r = client.post(url, _entity_form(team.entity, protected="[]", roles={}, delete=("alice", "root")))
    assertContains(r, "must keep at least one admin")
    assert snapshot() == before
    assert Entity.objects.get(pk=team.entity.pk).protected_aliases == ["staging"]


def test_a_staff_member_who_is_no_entity_admin_cannot_change_roles_in_the_admin(client, staff_member, team):
    client.force_login(staff_member)
    m = Membership.objects.get(entity=team.entity, user=team.viewer)
    before = snapshot()
    r = client.post(reverse("admin:artifacts_membership_change", args=[m.pk]), {"role": "admin"})
    assert r.status_code == 403
    r = client.post(reverse("admin:artifacts_membership_delete", args=[m.pk]), {"post": "yes"})
    assert r.status_code == 403
    assert snapshot() == before
    assert Membership.objects.get(pk=m.pk).role == "viewer"


def test_an_organization_made_in_the_admin_gets_its_entity_teams_and_core_registries(client, root, team):
    from artifacts.models import Entity, Organization

    client.force_login(root)
    r = client.post("/admin/artifacts/organization/add/", {"name": "acme", "teams": [team.entity.pk]})
    assert r.status_code == 302, r.content.decode()[:2000]
    organization = Organization.objects.get(name="acme")
    assert organization.entity.name == "acme"
    assert Entity.objects.get(pk=team.entity.pk).organization == organization
    assert sorted(organization.registries.values_list("name", flat=True)) == ["dataset", "model"]


def test_registries_in_the_admin_go_through_the_services(client, root, staff_member, team):
    from registry import services
    from registry.models import Registry

    organization = services.organization_create(name="acme", teams=[team.entity], core_registries=False)
    # Staff with every admin permission but only a team member: not an organization admin.
    client.force_login(staff_member)
    before = snapshot()
    data = {
        "organization": organization.pk,
        "name": "evals",
        "description": "",
        "types_text": "dataset",
        "visibility": "organization",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "team_memberships-TOTAL_FORMS": "0",
        "team_memberships-INITIAL_FORMS": "0",
    }
    r = client.post("/admin/registry/registry/add/", data)
    assertContains(r, "Only organization admins may create registries")
    assert not Registry.objects.exists() and snapshot() == before
    client.force_login(root)
    assert client.post("/admin/registry/registry/add/", data).status_code == 302
    assert Registry.objects.get(name="evals").artifact_types == ["dataset"]


def test_registry_members_and_teams_in_the_admin(client, root, team):
    """Users from outside the organization may be members (as W&B's server takes them); teams are teams, not an
    organization's own entity."""
    from registry import services
    from registry.models import RegistryMember, RegistryTeamMember

    organization = services.organization_create(name="acme", teams=[team.entity])
    registry = organization.registries.get(name="model")
    client.force_login(root)
    data = {
        "description": "",
        "types_text": "model",
        "visibility": "organization",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-0-user": team.outsider.pk,
        "memberships-0-role": "restricted_viewer",
        "team_memberships-TOTAL_FORMS": "1",
        "team_memberships-INITIAL_FORMS": "0",
        "team_memberships-0-team": organization.entity.pk,
        "team_memberships-0-role": "member",
    }
    url = f"/admin/registry/registry/{registry.pk}/change/"
    assertContains(client.post(url, data), "Select a valid choice")
    assert not RegistryMember.objects.exists() and not RegistryTeamMember.objects.exists()
    data["team_memberships-0-team"] = team.entity.pk
    assert client.post(url, data).status_code == 302
    assert list(RegistryMember.objects.values_list("user__username", "role")) == [("oscar", "restricted_viewer")]
    assert list(RegistryTeamMember.objects.values_list("team__name", "role")) == [("reviewco", "member")]


def test_edits_in_the_admin_are_recorded_as_events(client, root, project):
    from artifacts.models import Event

    version = log_version(project)
    client.force_login(root)
    r = client.post(
        reverse("admin:artifacts_artifactversion_change", args=[version.pk]),
        {
            "description": "new words",
            "aliases-TOTAL_FORMS": 0,
            "aliases-INITIAL_FORMS": 0,
            "files-TOTAL_FORMS": 0,
            "files-INITIAL_FORMS": 0,
        },
    )
    assert r.status_code == 302, r.content
    edited = Event.objects.get(kind="version.edited")
    assert (edited.actor_name, edited.before, edited.after) == (
        "root",
        {"description": ""},
        {"description": "new words"},
    )


def test_deleted_runs_are_listed_read_only_in_the_admin(client, root, project):
    from artifacts import services
    from artifacts.models import DeletedRun
    from tests.factories import make_run

    run = make_run(project, "gone-run")
    services.run_delete(run=run, user=root)
    client.force_login(root)
    gone = DeletedRun.objects.get(run_id="gone-run")
    assertContains(client.get("/admin/artifacts/deletedrun/", {"q": "gone"}), "gone-run")
    r = client.post(reverse("admin:artifacts_deletedrun_delete", args=[gone.pk]), {"post": "yes"})
    assert r.status_code == 403 and DeletedRun.objects.filter(pk=gone.pk).exists()
