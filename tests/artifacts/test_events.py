"""The events artifacts' services record with each change (artifact versions, their aliases, a team's members and
protected aliases), in the change's transaction, and the artifact version panel that lists a version's own."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from artifacts import services
from artifacts.models import Artifact, Event, EventKind
from tests.factories import link, log_version, make_run, snapshot


def _events(**filters) -> list[tuple]:
    rows = Event.objects.filter(registered_model_id=None, **filters).order_by("id")
    return [(e.kind, e.object_label, e.alias, e.actor_name, e.before, e.after) for e in rows]


def _since(before: int) -> list[tuple]:
    return _events(id__gt=before)


def _last_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_committing_a_version_records_it_and_latest_with_the_run_that_logged_it(team, project):
    run = make_run(project, run_id="abc123")
    start = _last_id()
    v0 = log_version(project, run=run, aliases=["best"])
    created = Event.objects.get(kind=EventKind.VERSION_CREATED)
    assert (created.actor, created.actor_name, created.via) == (team.admin, "alice", "run abc123")
    assert (created.version, created.artifact, created.entity) == (v0, v0.artifact, team.entity)
    assert created.after == {"version": "v0", "digest": v0.digest, "files": 1, "size": v0.size}
    assert [(kind, alias, after) for kind, _, alias, _, _, after in _since(start)] == [
        ("version.created", "", {"version": "v0", "digest": v0.digest, "files": 1, "size": v0.size}),
        ("alias.set", "latest", {"version": "v0"}),
        ("alias.set", "best", {"version": "v0"}),
    ]
    start = _last_id()
    log_version(project, aliases=["best"])
    assert [(kind, label, alias, before) for kind, label, alias, _, before, _ in _since(start)][1:] == [
        ("alias.moved", "mnist_model:v1", "latest", {"version": "v0"}),
        ("alias.moved", "mnist_model:v1", "best", {"version": "v0"}),
    ]


def test_logging_the_same_content_again_records_only_the_aliases_it_gains(team, project):
    log_version(project, content=b"same")
    start = _last_id()
    log_version(project, content=b"same", aliases=["again"])
    assert [(kind, alias) for kind, _, alias, *_ in _since(start)] == [("alias.set", "again")]


def test_setting_moving_and_removing_an_artifact_alias_records_each(team, project):
    v0 = log_version(project)
    v1 = log_version(project)
    start = _last_id()
    services.alias_set(version=v0, name="prod", user=team.member)
    services.alias_set(version=v1, name="prod", user=team.member)
    services.alias_set(version=v1, name="prod", user=team.member)
    services.alias_remove(version=v1, name="prod", user=team.admin)
    assert _since(start) == [
        ("alias.set", "mnist_model:v0", "prod", "bob", None, {"version": "v0"}),
        ("alias.moved", "mnist_model:v1", "prod", "bob", {"version": "v0"}, {"version": "v1"}),
        ("alias.removed", "mnist_model:v1", "prod", "alice", {"version": "v1"}, None),
    ]


def test_editing_a_version_records_what_changed_not_the_whole_metadata(team, project):
    version = log_version(project, metadata={"acc": 0.9, "big": list(range(100)), "gone": 1})
    start = _last_id()
    services.version_update(
        version=version,
        user=team.member,
        description="x" * 500,
        metadata={"acc": 0.95, "big": list(range(100)), "new": 2},
        tags_add=["best", "sota"],
    )
    services.version_update(version=version, user=team.member, tags_remove=["sota"], description="x" * 500)
    services.version_update(version=version, user=team.member, tags_remove=["missing"])
    [first, second] = Event.objects.filter(id__gt=start).order_by("id")
    assert first.kind == EventKind.VERSION_EDITED and first.actor_name == "bob"
    assert first.before == {"description": "", "metadata": ["acc", "gone"], "tags": []}
    assert first.after["metadata"] == ["acc", "new"] and first.after["tags"] == ["best", "sota"]
    assert len(first.after["description"]) == 200 and first.after["description"].endswith("…")
    assert first.metadata_keys == ["acc", "gone", "new"]
    assert (second.before, second.after) == ({"tags": ["best", "sota"]}, {"tags": ["best"]})


def test_deleting_a_version_records_it_its_aliases_and_latest_moving_back(team, project):
    v0 = log_version(project)
    v1 = log_version(project, aliases=["prod"])
    v1_pk, start = v1.pk, _last_id()
    services.version_delete(version=v1, user=team.member, delete_aliases=True)
    assert [(kind, label, alias, before, after) for kind, label, alias, _, before, after in _since(start)] == [
        ("version.deleted", "mnist_model:v1", "", {"version": "v1", "digest": v1.digest}, None),
        ("alias.removed", "mnist_model:v1", "prod", {"version": "v1"}, None),
        ("alias.moved", "mnist_model:v0", "latest", {"version": "v1"}, {"version": "v0"}),
    ]
    deleted = Event.objects.get(kind=EventKind.VERSION_DELETED)
    assert deleted.version is None and deleted.artifact == v0.artifact and deleted.object_id == v1_pk
    # The deleted version's own events stay, no longer pointing at it.
    assert Event.objects.filter(object_label="mnist_model:v1", kind=EventKind.VERSION_CREATED, version=None).exists()


def test_deleting_the_last_version_records_latest_removed(team, project):
    v0 = log_version(project)
    start = _last_id()
    services.version_delete(version=v0, user=team.member)
    assert [(kind, alias) for kind, _, alias, *_ in _since(start)] == [
        ("version.deleted", ""),
        ("alias.removed", "latest"),
    ]


def test_deleting_an_artifact_records_it_and_the_event_outlives_it(team, project):
    v0 = log_version(project, "cnn")
    artifact = v0.artifact
    artifact_pk = artifact.pk
    services.artifact_delete(artifact=artifact, user=team.admin)
    deleted = Event.objects.get(kind=EventKind.ARTIFACT_DELETED)
    assert (deleted.object_label, deleted.object_id, deleted.artifact) == ("cnn", artifact_pk, None)
    assert deleted.before == {"type": "model", "versions": 1} and deleted.entity == team.entity
    assert not Artifact.objects.filter(pk=artifact_pk).exists()
    assert Event.objects.filter(object_label="cnn:v0", artifact=None).count() == 2


def test_deleting_a_run_with_its_artifacts_records_the_versions(team, project):
    run = make_run(project)
    log_version(project, run=run)
    start = _last_id()
    services.run_delete(run=run, user=team.admin, delete_artifacts=True)
    assert [(kind, label) for kind, label, *_ in _since(start)] == [("version.deleted", "mnist_model:v0")]


def test_team_members_and_protected_aliases_are_recorded(team):
    from tests.factories import make_user

    carol = make_user("carol")
    start = _last_id()
    services.membership_add(entity=team.entity, username="carol", role="viewer", actor=team.admin)
    services.membership_set(entity=team.entity, user=carol, role="member", actor=team.admin)
    services.membership_set(entity=team.entity, user=carol, role="member", actor=team.admin)
    services.membership_remove(entity=team.entity, user=carol, actor=team.admin)
    services.entity_protected_alias_add(entity=team.entity, name="gold", actor=team.admin)
    services.entity_protected_alias_remove(entity=team.entity, name="gold", actor=team.admin)
    assert _since(start) == [
        ("member.added", "reviewco", "", "alice", None, {"member": "carol", "role": "viewer"}),
        (
            "member.changed",
            "reviewco",
            "",
            "alice",
            {"member": "carol", "role": "viewer"},
            {"member": "carol", "role": "member"},
        ),
        ("member.removed", "reviewco", "", "alice", {"member": "carol", "role": "member"}, None),
        ("protected_alias.added", "reviewco", "gold", "alice", None, None),
        ("protected_alias.removed", "reviewco", "gold", "alice", None, None),
    ]
    assert set(Event.objects.filter(id__gt=start).values_list("entity", flat=True)) == {team.entity.pk}


@pytest.mark.parametrize(
    "refused",
    [
        lambda team, v: services.alias_set(version=v, name="prod", user=team.viewer),
        lambda team, v: services.alias_set(version=v, name="v9", user=team.member),
        lambda team, v: services.alias_remove(version=v, name="missing", user=team.member),
        lambda team, v: services.alias_remove(version=v, name="latest", user=team.member),
        lambda team, v: services.version_update(version=v, user=team.viewer, description="no"),
        lambda team, v: services.version_update(version=v, user=team.member, metadata=[1]),
        lambda team, v: services.version_delete(version=v, user=team.viewer),
        lambda team, v: services.version_delete(version=v, user=team.member),  # it holds `prod`
        lambda team, v: services.artifact_delete(artifact=v.artifact, user=team.viewer),
        lambda team, v: services.entity_protected_alias_add(entity=team.entity, name="gold", actor=team.member),
        lambda team, v: services.membership_remove(entity=team.entity, user=team.admin, actor=team.admin),
    ],
)
def test_a_refused_change_records_nothing(team, project, refused):
    version = log_version(project, aliases=["prod"])
    before = snapshot()
    with pytest.raises((ValidationError, PermissionDenied)):
        refused(team, version)
    assert snapshot() == before


def test_a_commit_and_its_events_commit_together(team, project, monkeypatch):
    run = make_run(project)
    before = snapshot()

    def failing(*args, **kwargs):
        raise RuntimeError("the event insert failed")

    monkeypatch.setattr(Event.objects, "bulk_create", failing)
    with pytest.raises(RuntimeError):
        log_version(project, run=run)
    after = snapshot()
    # Nothing of the version was written (blobs are content-addressed bytes, written before the transaction).
    assert {k: v for k, v in after.items() if k != "Blob"} == {k: v for k, v in before.items() if k != "Blob"}


# The artifact version panel.


def _panel(version) -> str:
    return version.get_absolute_url()


def test_the_version_panel_lists_its_own_events_newest_first(client, team, project):
    v0 = log_version(project)
    services.alias_set(version=v0, name="prod", user=team.member)
    services.version_update(version=v0, user=team.member, tags_add=["best"])
    log_version(project)
    client.force_login(team.viewer)
    r = client.get(_panel(v0))
    # `latest` moving on to v1 is v1's event.
    assert [e.kind for e in r.context["events"]] == [
        "version.edited",
        "alias.set",
        "alias.set",
        "version.created",
    ]
    assertContains(r, '<ol class="timeline" id="version-events"')
    assertContains(r, 'set <span class="alias">prod</span> on <strong>v0</strong>')
    assertContains(r, "tags none → best")
    assertNotContains(r, "Full history")


def test_the_version_panel_leaves_out_the_registrys_events_of_its_links(client, team, project):
    v0 = log_version(project)
    link(v0, aliases=["staging"])
    client.force_login(team.viewer)
    r = client.get(_panel(v0))
    assert {e.kind for e in r.context["events"]} == {"version.created", "alias.set"}
    assert all(e.registered_model_id is None for e in r.context["events"])


def _bulk(version, count: int) -> None:
    start = timezone.now() - datetime.timedelta(days=1)
    Event.objects.bulk_create(
        Event(
            kind=EventKind.ALIAS_MOVED,
            actor_name="alice",
            created_at=start + datetime.timedelta(seconds=i),
            entity_id=version.artifact.project.entity_id,
            artifact=version.artifact,
            version=version,
            object_id=version.pk,
            object_label=f"mnist_model:{version.label}",
            alias="prod",
            before={"version": "v9"},
            after={"version": version.label},
        )
        for i in range(count)
    )


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_version_panel_shows_ten_events_at_the_same_cost_however_many(client, team, project):
    v0 = log_version(project)
    client.force_login(team.viewer)
    small = _queries(client, _panel(v0))
    _bulk(v0, 300)
    assert _queries(client, _panel(v0)) == small
    r = client.get(_panel(v0))
    assert len(r.context["events"]) == 10 and r.context["more_events"]
    assertContains(r, "The newest 10 shown.")


def test_an_api_keys_and_a_runs_changes_name_them(team, project):
    from artifacts.events import acting_via

    run = make_run(project, run_id="run42")
    v0 = log_version(project, run=run)
    user = acting_via(type(team.member).objects.get(pk=team.member.pk), "API key laptop")
    services.alias_set(version=v0, name="prod", user=user)
    assert Event.objects.get(kind=EventKind.VERSION_CREATED).via == "run run42"
    assert Event.objects.get(alias="prod").via == "API key laptop"


def test_renaming_describing_tagging_and_retyping_an_artifact_is_recorded(team, project):
    artifact = log_version(project, "cnn").artifact
    start = _last_id()
    services.artifact_update(artifact=artifact, user=team.member, name="cnn2", description="Convolutions.")
    services.artifact_update(artifact=artifact, user=team.member, name="cnn2")
    services.artifact_tags_change(artifact=artifact, user=team.member, add=["vision"])
    services.artifact_type_change(artifact=artifact, user=team.member, type="model-v2")
    assert [(kind, label, before, after) for kind, label, _, _, before, after in _since(start)] == [
        (
            "artifact.edited",
            "cnn2",
            {"name": "cnn", "description": None},
            {"name": "cnn2", "description": "Convolutions."},
        ),
        ("artifact.edited", "cnn2", {"tags": []}, {"tags": ["vision"]}),
        ("artifact.edited", "cnn2", {"type": "model"}, {"type": "model-v2"}),
    ]
    assert set(Event.objects.filter(id__gt=start).values_list("artifact", flat=True)) == {artifact.pk}
