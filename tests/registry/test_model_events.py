"""The registry's other events: registered models (collections) created, edited and deleted, registry members and
protected aliases; the History tab's new kinds; the registry version panel's own events; the admin's list."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from artifacts import services as artifact_services
from artifacts.models import Event, EventKind
from registry import services
from registry.models import RegisteredModel
from tests.factories import link, log_version, make_entity, make_user, snapshot

HISTORY = "/registry/model/reviewco/MNIST-dev/history"


def _last_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _since(start: int) -> list[tuple]:
    rows = Event.objects.filter(id__gt=start).order_by("id")
    return [(e.kind, e.object_label, e.alias, e.actor_name, e.before, e.after) for e in rows]


@pytest.fixture
def org(team):
    """An organization whose teams are `team`'s entity, alice its admin, and a registry `model` of it."""
    organization = services.organization_create(name="acme", teams=[team.entity], core_registries=False)
    artifact_services.membership_set(entity=organization.entity, user=team.admin, role="admin")
    team.org = organization
    team.registry = services.registry_create(organization=organization, name="model", user=team.admin)
    return team


def test_creating_editing_and_deleting_a_registered_model_is_recorded(team):
    start = _last_id()
    rm = services.registered_model_create(
        name="cnn", user=team.member, entity=team.entity, description="First.", tags=["vision"]
    )
    rm_pk = rm.pk
    services.registered_model_update(registered_model=rm, user=team.member, name="cnn2", tags=["vision", "big"])
    services.registered_model_update(registered_model=rm, user=team.member, description="x" * 300)
    services.registered_model_update(registered_model=rm, user=team.member, tags=["vision", "big"])
    services.registered_model_delete(registered_model=rm, user=team.admin)
    created, renamed, described, deleted = Event.objects.filter(id__gt=start).order_by("id")
    assert (created.kind, created.actor_name, created.registered_model_id) == ("model.created", "bob", rm_pk)
    assert created.after == {"name": "cnn", "type": "model", "description": "First.", "tags": ["vision"]}
    assert (renamed.kind, renamed.object_label) == ("model.edited", "cnn2")
    assert renamed.before == {"name": "cnn", "tags": ["vision"]}
    assert renamed.after == {"name": "cnn2", "tags": ["vision", "big"]}
    assert described.before == {"description": "First."} and len(described.after["description"]) == 200
    assert (deleted.kind, deleted.actor_name, deleted.before["versions"]) == ("model.deleted", "alice", 0)
    assert not RegisteredModel.objects.filter(pk=rm_pk).exists()
    assert Event.objects.filter(registered_model_id=rm_pk).count() == 4
    assert {e.entity_id for e in (created, deleted)} == {team.entity.pk}


def test_a_model_created_by_its_first_link_is_recorded_in_the_links_one_insert(team, project):
    version = log_version(project)
    with CaptureQueriesContext(connection) as captured:
        lk = link(version, aliases=["staging"])
    inserts = [q["sql"] for q in captured if q["sql"].startswith('INSERT INTO "artifacts_event"')]
    assert len(inserts) == 1
    kinds = list(Event.objects.filter(registered_model_id=lk.registered_model_id).order_by("id").values_list("kind"))
    assert kinds == [("model.created",), ("link.created",), ("alias.set",), ("alias.set",)]


def test_registry_members_and_protected_aliases_are_recorded(org):
    carol, dan = make_user("carol"), make_user("dan")
    crew = make_entity("crew", admin=[dan])
    registry = org.registry
    start = _last_id()
    services.registry_member_add(registry=registry, username="carol", role="viewer", actor=org.admin)
    services.registry_member_set(registry=registry, user=carol, role="member", actor=org.admin)
    services.registry_member_set(registry=registry, user=carol, role="member", actor=org.admin)
    services.registry_member_remove(registry=registry, user=carol, actor=org.admin)
    services.registry_team_member_add(registry=registry, team_name="crew", role="viewer", actor=org.admin)
    services.registry_team_member_set(registry=registry, team=crew, role="admin", actor=org.admin)
    services.registry_team_member_remove(registry=registry, team=crew, actor=org.admin)
    services.registry_members_add(registry=registry, actor=org.admin, users=[carol, dan], teams=[crew])
    services.registry_members_add(registry=registry, actor=org.admin, users=[carol])
    services.registry_members_remove(registry=registry, actor=org.admin, users=[carol], teams=[crew])
    services.registry_protected_alias_add(registry=registry, name="gold", actor=org.admin)
    services.registry_protected_alias_remove(registry=registry, name="gold", actor=org.admin)
    label = "acme/wandb-registry-model"
    assert _since(start) == [
        ("member.added", label, "", "alice", None, {"member": "carol", "role": "viewer"}),
        (
            "member.changed",
            label,
            "",
            "alice",
            {"member": "carol", "role": "viewer"},
            {"member": "carol", "role": "member"},
        ),
        ("member.removed", label, "", "alice", {"member": "carol", "role": "member"}, None),
        ("member.added", label, "", "alice", None, {"member": "team crew", "role": "viewer"}),
        (
            "member.changed",
            label,
            "",
            "alice",
            {"member": "team crew", "role": "viewer"},
            {"member": "team crew", "role": "admin"},
        ),
        ("member.removed", label, "", "alice", {"member": "team crew", "role": "admin"}, None),
        ("member.added", label, "", "alice", None, {"member": "carol", "role": "viewer"}),
        ("member.added", label, "", "alice", None, {"member": "dan", "role": "viewer"}),
        ("member.added", label, "", "alice", None, {"member": "team crew", "role": "viewer"}),
        ("member.removed", label, "", "alice", {"member": "carol", "role": "viewer"}, None),
        ("member.removed", label, "", "alice", {"member": "team crew", "role": "viewer"}, None),
        ("protected_alias.added", label, "gold", "alice", None, None),
        ("protected_alias.removed", label, "gold", "alice", None, None),
    ]
    events = Event.objects.filter(id__gt=start)
    assert set(events.values_list("object_id", "entity_id", "registered_model_id")) == {
        (registry.pk, org.org.entity_id, None)
    }


@pytest.mark.parametrize(
    "refused",
    [
        lambda t: services.registered_model_create(name="x", user=t.viewer, entity=t.entity),
        lambda t: services.registered_model_create(name="bad name!", user=t.member, entity=t.entity),
        lambda t: services.registered_model_update(registered_model=t.rm, user=t.viewer, description="no"),
        lambda t: services.registered_model_update(registered_model=t.rm, user=t.member, name="MNIST-other"),
        lambda t: services.registered_model_delete(registered_model=t.rm, user=t.member),
        lambda t: services.registry_member_set(registry=t.registry, user=t.viewer, role="admin", actor=t.member),
        lambda t: services.registry_member_remove(registry=t.registry, user=t.viewer, actor=t.admin),
        lambda t: services.registry_members_remove(registry=t.registry, actor=t.member, users=[t.admin]),
        lambda t: services.registry_protected_alias_add(registry=t.registry, name="gold", actor=t.member),
        lambda t: services.registry_protected_alias_remove(registry=t.registry, name="missing", actor=t.admin),
    ],
)
def test_a_refused_change_records_nothing(org, project, refused):
    org.rm = link(log_version(project)).registered_model
    services.registered_model_create(name="MNIST-other", user=org.admin, entity=org.entity)
    before = snapshot()
    with pytest.raises((ValidationError, PermissionDenied)):
        refused(org)
    assert snapshot() == before


def test_the_admin_lists_a_deleted_registered_models_deletion(client, team, project):
    lk = link(log_version(project))
    services.registered_model_delete(registered_model=lk.registered_model, user=team.admin)
    client.force_login(make_user("root", superuser=True))
    r = client.get(reverse("admin:artifacts_event_changelist"), {"kind__exact": "model.deleted"})
    assertContains(r, "MNIST-dev")
    assertContains(r, "1 event")
    event = Event.objects.get(kind=EventKind.MODEL_DELETED)
    assert client.get(reverse("admin:artifacts_event_change", args=[event.pk])).status_code == 200


# The History tab's new kinds.


@pytest.fixture
def history(client, team, project):
    lk = link(log_version(project), aliases=["staging"])
    services.registered_model_update(registered_model=lk.registered_model, user=team.member, tags=["vision"])
    client.force_login(team.viewer)
    return lk


def test_the_history_tab_tells_who_created_and_edited_the_model(client, history):
    r = client.get(HISTORY)
    assert [e.kind for e in r.context["events"]][0] == "model.edited"
    assert r.context["events"][-1].kind == "model.created"
    assertContains(r, "edited <strong>MNIST-dev</strong>: tags none → vision")
    assertContains(r, "created <strong>MNIST-dev</strong>")
    assertContains(r, '<option value="model.edited">Edited</option>')
    assertContains(r, '<option value="model.created">Created</option>')
    assertNotContains(r, '<option value="model.deleted">')


def test_the_history_filters_the_new_kinds(client, history):
    r = client.get(HISTORY, {"kind": "model.edited"})
    assert [e.kind for e in r.context["events"]] == ["model.edited"]
    # Artifact-side kinds are not the History's: no filter.
    r = client.get(HISTORY, {"kind": "version.created"})
    assert r.context["kind"] == "" and len(r.context["events"]) == 5


def test_the_history_names_the_api_key_an_actor_acted_through(client, team, project):
    from artifacts.events import acting_via

    version = log_version(project)
    user = acting_via(type(team.admin).objects.get(pk=team.admin.pk), "API key ci")
    services.link_version(version=version, user=user, entity=team.entity, registered_model_name="MNIST-dev")
    client.force_login(team.viewer)
    assertContains(client.get(HISTORY), '<span class="actor">alice</span> <span class="muted">via API key ci</span>')


# The registry version panel.


def _bulk(lk, count: int) -> None:
    start = timezone.now() - datetime.timedelta(days=1)
    Event.objects.bulk_create(
        Event(
            kind=EventKind.ALIAS_MOVED,
            actor_name="alice",
            created_at=start + datetime.timedelta(seconds=i),
            entity_id=lk.registered_model.entity_id,
            registered_model_id=lk.registered_model_id,
            object_id=lk.pk,
            object_label=f"MNIST-dev:{lk.label}",
            alias="staging",
            before={"version": "v9"},
            after={"version": lk.label},
        )
        for i in range(count)
    )


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_registry_version_panel_lists_its_own_events_and_links_the_history(client, team, project, history):
    other = link(log_version(project))
    r = client.get(history.get_absolute_url())
    assert [e.kind for e in r.context["events"]] == ["alias.set", "alias.set", "link.created"]
    assert all(e.object_id == history.pk for e in r.context["events"])
    assertContains(r, f'<a href="{HISTORY}">Full history</a>')
    assert [e.kind for e in client.get(other.get_absolute_url()).context["events"]] == [
        "alias.moved",
        "link.created",
    ]


def test_the_registry_version_panel_costs_the_same_queries_with_many_events(client, history):
    small = _queries(client, history.get_absolute_url())
    _bulk(history, 300)
    assert _queries(client, history.get_absolute_url()) == small
    r = client.get(history.get_absolute_url())
    assert len(r.context["events"]) == 10 and r.context["more_events"]


def test_deleting_a_registry_records_each_of_its_collections_deleted(org, project):
    services.link_version(
        version=log_version(project), user=org.admin, registry=org.registry, registered_model_name="digits"
    )
    rm_pk = RegisteredModel.objects.get(name="digits").pk
    services.registry_delete(registry=org.registry, user=org.admin)
    deleted = Event.objects.get(kind=EventKind.MODEL_DELETED)
    assert (deleted.registered_model_id, deleted.object_label, deleted.actor_name) == (rm_pk, "digits", "alice")
    assert deleted.before["versions"] == 1


def test_an_edit_set_on_the_instance_before_the_call_is_recorded_as_the_admin_makes_it(team):
    rm = services.registered_model_create(name="cnn", user=team.admin, entity=team.entity, description="Old.")
    rm.description = "New."
    services.registered_model_update(registered_model=rm, user=team.admin, description=rm.description)
    edited = Event.objects.get(kind=EventKind.MODEL_EDITED)
    assert (edited.before, edited.after) == ({"description": "Old."}, {"description": "New."})


def test_creating_editing_and_deleting_a_registry_is_recorded(org, client):
    start = _last_id()
    registry = services.registry_create(
        organization=org.org, name="evals", user=org.admin, description="Evaluations.", artifact_types=["dataset"]
    )
    registry_pk = registry.pk
    registry = services.registry_update(
        registry=registry, user=org.admin, artifact_types=["dataset", "model"], name="evals2"
    )
    services.registry_update(registry=registry, user=org.admin, visibility="organization")
    services.registry_delete(registry=registry, user=org.admin)
    rows = Event.objects.filter(id__gt=start).order_by("id")
    assert [(e.kind, e.object_id, e.object_label, e.before, e.after) for e in rows] == [
        (
            "registry.created",
            registry_pk,
            "acme/wandb-registry-evals",
            None,
            {
                "name": "evals",
                "description": "Evaluations.",
                "artifact_types": ["dataset"],
                "visibility": "organization",
            },
        ),
        (
            "registry.edited",
            registry_pk,
            "acme/wandb-registry-evals2",
            {"name": "evals", "artifact_types": ["dataset"]},
            {"name": "evals2", "artifact_types": ["dataset", "model"]},
        ),
        (
            "registry.deleted",
            registry_pk,
            "acme/wandb-registry-evals2",
            {
                "name": "evals2",
                "description": "Evaluations.",
                "artifact_types": ["dataset", "model"],
                "visibility": "organization",
            },
            None,
        ),
    ]
    assert {e.entity_id for e in rows} == {org.org.entity_id}
    client.force_login(make_user("root", superuser=True))
    r = client.get(reverse("admin:artifacts_event_changelist"), {"kind__exact": "registry.deleted"})
    assertContains(r, "acme/wandb-registry-evals2")


def test_a_refused_registry_change_records_nothing(org):
    before = snapshot()
    with pytest.raises(PermissionDenied):
        services.registry_create(organization=org.org, name="evals", user=org.member)
    with pytest.raises(PermissionDenied):
        services.registry_update(registry=org.registry, user=org.member, description="no")
    with pytest.raises(ValidationError):
        services.registry_update(registry=org.registry, user=org.admin, visibility="secret")
    with pytest.raises(PermissionDenied):
        services.registry_delete(registry=org.registry, user=org.member)
    assert snapshot() == before
