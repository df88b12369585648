"""Who moved an alias, when: the events the registry's services record with each change, and the model card's
History tab that reads them."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from artifacts.models import Event, EventKind
from registry import services
from registry.models import Link, RegisteredModel
from tests.factories import link, log_version, snapshot

HX = {"HX-Request": "true", "HX-Target": "history-list"}
HISTORY = "/registry/model/reviewco/MNIST-dev/history"


LINK_KINDS = ["link.created", "link.removed", "alias.set", "alias.moved", "alias.removed"]


def _events(**filters) -> list[tuple]:
    """The registry's link and alias events (artifact-side and other registry events are tested elsewhere)."""
    rows = Event.objects.filter(registered_model_id__isnull=False, kind__in=LINK_KINDS, **filters).order_by("id")
    return [(e.kind, e.alias, e.actor_name, e.version_before, e.version_after) for e in rows]


def _two_links(team, project) -> tuple[Link, Link]:
    v0 = link(log_version(project), aliases=["staging"])
    v1 = link(log_version(project))
    return v0, v1


def test_a_first_link_records_the_link_and_the_aliases_it_sets(team, project):
    lk = link(log_version(project), aliases=["staging"])
    assert _events() == [
        ("link.created", "", "alice", "", "v0"),
        ("alias.set", "latest", "alice", "", "v0"),
        ("alias.set", "staging", "alice", "", "v0"),
    ]
    created = Event.objects.get(kind=EventKind.LINK_CREATED)
    assert created.actor == team.admin
    assert created.registered_model_id == lk.registered_model_id
    assert created.version == lk.source
    assert created.entity == team.entity
    assert created.object_id == lk.pk
    assert created.object_label == "MNIST-dev:v0"
    assert created.after == {"version": "v0", "source": "mnist_model:v0"}


def test_linking_a_newer_version_records_latest_and_the_given_aliases_moving(team, project):
    v0, _ = _two_links(team, project)
    before = Event.objects.count()
    v2 = services.link_version(
        version=log_version(project), user=team.admin, registered_model=v0.registered_model, aliases=["staging"]
    ).link
    assert v2.label == "v2"
    assert _events(id__gt=Event.objects.order_by("id")[before - 1].pk) == [
        ("link.created", "", "alice", "", "v2"),
        ("alias.moved", "latest", "alice", "v1", "v2"),
        ("alias.moved", "staging", "alice", "v0", "v2"),
    ]
    # One operation, one time.
    linked = Event.objects.filter(registered_model_id=v2.registered_model_id, object_id=v2.pk)
    assert len(set(linked.values_list("created_at", flat=True))) == 1


def test_linking_a_version_already_linked_records_only_the_aliases_it_gains(team, project):
    v0, _ = _two_links(team, project)
    before = Event.objects.count()
    services.link_version(version=v0.source, user=team.member, registered_model=v0.registered_model, aliases=["a"])
    services.link_version(version=v0.source, user=team.member, registered_model=v0.registered_model, aliases=["a"])
    assert Event.objects.count() == before + 1
    assert _events(alias="a") == [("alias.set", "a", "bob", "", "v0")]


def test_moving_an_alias_records_who_moved_it_from_which_version_to_which(team, project):
    v0, v1 = _two_links(team, project)
    services.link_alias_set(link=v1, name="staging", user=team.member)
    assert _events(alias="staging")[-1] == ("alias.moved", "staging", "bob", "v0", "v1")
    moved = Event.objects.filter(alias="staging").latest("id")
    assert moved.before == {"version": "v0"} and moved.after == {"version": "v1"}
    assert moved.object_id == v1.pk and moved.object_label == "MNIST-dev:v1"


def test_setting_an_alias_the_version_already_holds_records_nothing(team, project):
    v0, _ = _two_links(team, project)
    before = snapshot()
    services.link_alias_set(link=v0, name="staging", user=team.member)
    assert snapshot() == before


def test_removing_an_alias_records_the_version_it_left(team, project):
    v0, _ = _two_links(team, project)
    services.link_alias_remove(link=v0, name="staging", user=team.member)
    assert _events(kind=EventKind.ALIAS_REMOVED) == [("alias.removed", "staging", "bob", "v0", "")]


def test_unlinking_records_the_link_its_aliases_and_latest_moving_back(team, project):
    v0, v1 = _two_links(team, project)
    services.link_alias_set(link=v1, name="candidate", user=team.member)
    before = Event.objects.count()
    services.link_delete(link=v1, user=team.member)
    assert _events(id__gt=Event.objects.order_by("id")[before - 1].pk) == [
        ("link.removed", "", "bob", "v1", ""),
        ("alias.removed", "candidate", "bob", "v1", ""),
        ("alias.moved", "latest", "bob", "v1", "v0"),
    ]
    removed = Event.objects.get(kind=EventKind.LINK_REMOVED)
    assert removed.object_label == "MNIST-dev:v1" and removed.before["source"] == "mnist_model:v1"
    assert Event.objects.filter(alias="latest").latest("id").object_id == v0.pk


def test_unlinking_the_last_version_records_latest_removed(team, project):
    v0 = link(log_version(project))
    services.link_delete(link=v0, user=team.member)
    assert _events(kind=EventKind.ALIAS_REMOVED) == [("alias.removed", "latest", "bob", "v0", "")]


@pytest.mark.parametrize(
    "refused",
    [
        lambda team, lk: services.link_alias_set(link=lk, name="production", user=team.member),
        lambda team, lk: services.link_alias_set(link=lk, name="bad name!", user=team.member),
        lambda team, lk: services.link_alias_set(link=lk, name="x", user=team.viewer),
        lambda team, lk: services.link_alias_remove(link=lk, name="missing", user=team.member),
        lambda team, lk: services.link_alias_remove(link=lk, name="latest", user=team.member),
        lambda team, lk: services.link_delete(link=lk, user=team.viewer),
        lambda team, lk: services.link_version(
            version=lk.source, user=team.viewer, registered_model=lk.registered_model, aliases=["x"]
        ),
    ],
)
def test_a_refused_change_records_nothing(team, project, refused):
    _, v1 = _two_links(team, project)
    before = snapshot()
    with pytest.raises((ValidationError, PermissionDenied)):
        refused(team, v1)
    assert snapshot() == before


def test_a_member_refused_unlinking_a_protected_version_records_nothing(team, project):
    _, v1 = _two_links(team, project)
    services.link_alias_set(link=v1, name="production", user=team.admin)
    before = snapshot()
    with pytest.raises(PermissionDenied):
        services.link_delete(link=v1, user=team.member)
    assert snapshot() == before


def test_a_change_and_its_events_commit_together(team, project, monkeypatch):
    _, v1 = _two_links(team, project)
    v1_pk = v1.pk
    v2 = log_version(project)
    before = snapshot()

    def failing(*args, **kwargs):
        raise RuntimeError("the event insert failed")

    monkeypatch.setattr(Event.objects, "bulk_create", failing)
    with pytest.raises(RuntimeError):
        services.link_alias_set(link=v1, name="staging", user=team.member)
    with pytest.raises(RuntimeError):
        services.link_version(version=v2, user=team.member, registered_model=v1.registered_model)
    with pytest.raises(RuntimeError):
        services.link_delete(link=v1, user=team.member)
    after = snapshot()
    # log_version made its run, version and files: nothing of the registry changed.
    registry_tables = ["RegisteredModel", "Link", "LinkAlias", "Event"]
    assert {k: after[k] for k in registry_tables} == {k: before[k] for k in registry_tables}
    assert Link.objects.get(pk=v1_pk).aliases.filter(name="staging").count() == 0


def test_an_event_keeps_its_actors_name_when_the_user_is_gone(team, project):
    v0, _ = _two_links(team, project)
    services.link_alias_remove(link=v0, name="staging", user=team.member)
    team.member.delete()
    removed = Event.objects.get(kind=EventKind.ALIAS_REMOVED)
    assert removed.actor is None and removed.actor_name == "bob"


def test_a_registered_models_history_outlives_it(team, project):
    v0, _ = _two_links(team, project)
    rm_pk = v0.registered_model_id
    kept = Event.objects.filter(registered_model_id=rm_pk).count()
    services.registered_model_delete(registered_model=v0.registered_model, user=team.admin)
    assert Event.objects.filter(registered_model_id=rm_pk).count() == kept + 1
    assert Event.objects.filter(registered_model_id=rm_pk).first().kind == EventKind.MODEL_DELETED


# The History tab.


@pytest.fixture
def history(client, team, project):
    v0, v1 = _two_links(team, project)
    services.link_alias_set(link=v0, name="production", user=team.admin)
    services.link_alias_set(link=v1, name="production", user=team.admin)
    client.force_login(team.viewer)
    return v0.registered_model


def test_the_history_tab_tells_who_moved_an_alias_when(client, history):
    r = client.get(HISTORY)
    assertContains(r, "<html")
    assertContains(r, 'aria-current="page">History</a>')
    text = " ".join(r.content.decode().split())
    assert '<span class="actor">alice</span> moved <span class="alias">production</span> from <strong>v0</strong> ' in (
        text
    )
    assert "to <strong>v1</strong>" in text
    assert "linked <code>mnist_model:v1</code> as <strong>v1</strong>" in text
    moved = Event.objects.get(kind=EventKind.ALIAS_MOVED, alias="production")
    assertContains(r, timezone.localtime(moved.created_at).strftime("%Y-%m-%d %H:%M"))


def test_the_model_card_links_to_its_history(client, history):
    r = client.get(history.get_absolute_url())
    assertContains(r, f'href="{HISTORY}"')


def test_the_history_filters_by_alias_and_by_kind(client, history):
    r = client.get(HISTORY, {"alias": "production"})
    kinds = [e.kind for e in r.context["events"]]
    assert kinds == ["alias.moved", "alias.set"]
    r = client.get(HISTORY, {"kind": "link.created"})
    assert [e.version_after for e in r.context["events"]] == ["v1", "v0"]
    r = client.get(HISTORY, {"hide_latest": "1"})
    # Two links, their staging and production, and the registered model created by the first.
    assert all(e.alias != "latest" for e in r.context["events"]) and len(r.context["events"]) == 6
    # The alias list offers every alias the history names; an unknown kind is no filter.
    assert client.get(HISTORY).context["aliases"] == ["latest", "production", "staging"]
    assert len(client.get(HISTORY, {"kind": "nonsense"}).context["events"]) == 8


def test_the_filter_swaps_only_the_list_for_htmx(client, history):
    r = client.get(HISTORY, {"alias": "staging"}, headers=HX)
    assertNotContains(r, "<html")
    assertContains(r, '<div id="history-list">')
    assertNotContains(r, "<select")
    assertContains(r, 'set <span class="alias">staging</span>')
    assert "HX-Request" in r["Vary"]


def test_the_filter_works_without_javascript(client, history):
    r = client.get(HISTORY)
    assertContains(r, f'action="{HISTORY}" hx-get="{HISTORY}"')
    assertContains(r, '<select id="history-alias" name="alias">')


def _bulk_events(rm: RegisteredModel, count: int) -> None:
    start = timezone.now() - datetime.timedelta(days=1)
    Event.objects.bulk_create(
        Event(
            kind=EventKind.ALIAS_MOVED,
            actor_name="alice",
            # Pairs share a time: paging goes by (time, id).
            created_at=start + datetime.timedelta(seconds=i // 2),
            registered_model_id=rm.pk,
            entity_id=rm.entity_id,
            object_label=f"{rm.name}:v{i}",
            alias="staging",
            before={"version": f"v{i}"},
            after={"version": f"v{i + 1}"},
        )
        for i in range(count)
    )


def test_the_history_pages_by_fifty_newest_first(client, history):
    Event.objects.all().delete()
    _bulk_events(history, 120)
    seen, url, pages = [], HISTORY, 0
    while url:
        r = client.get(url if url.startswith("/") else HISTORY + url)
        seen += [e.pk for e in r.context["events"]]
        url, pages = r.context["older_url"], pages + 1
        if pages > 1:
            assert r.context["newest_url"]
    assert pages == 3
    assert seen == list(Event.objects.order_by("-created_at", "-id").values_list("pk", flat=True))


def test_paging_keeps_the_filters(client, history):
    _bulk_events(history, 60)
    r = client.get(HISTORY, {"alias": "staging", "hide_latest": "1"})
    assert "alias=staging" in r.context["older_url"] and "hide_latest=1" in r.context["older_url"]
    r = client.get(HISTORY + r.context["older_url"], headers=HX)
    assert r.content.decode().count('<li data-kind="alias.') == 61 - 50


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_a_history_page_costs_the_same_queries_at_any_size(client, history):
    small = _queries(client, HISTORY)
    _bulk_events(history, 300)
    assert _queries(client, HISTORY) == small
    older = client.get(HISTORY).context["older_url"]
    assert _queries(client, HISTORY + older) == small


def test_who_may_not_see_the_registered_model_gets_404(client, history, team):
    client.force_login(team.outsider)
    assert client.get(HISTORY).status_code == 404
    assert client.get(HISTORY, headers=HX).status_code == 404


def test_a_project_collection_has_its_history_too(client, team, project):
    services.link_version(
        version=log_version(project), user=team.admin, project=project, registered_model_name="best", aliases=["x"]
    )
    client.force_login(team.member)
    url = reverse("registry:portfolio_model_history", args=["reviewco", "mnist", "best"])
    r = client.get(url)
    assert [e.kind for e in r.context["events"]] == ["alias.set", "alias.set", "link.created", "model.created"]


def test_the_admin_lists_events_read_only(client, history, team):
    from tests.factories import make_user

    root = make_user("root", superuser=True)
    client.force_login(root)
    r = client.get(reverse("admin:artifacts_event_changelist"))
    assertContains(r, "MNIST-dev:v1")
    assertNotContains(r, reverse("admin:artifacts_event_add"))
    event = Event.objects.first()
    r = client.get(reverse("admin:artifacts_event_change", args=[event.pk]))
    assert r.status_code == 200
    assertNotContains(r, 'name="_save"')
    assert client.post(reverse("admin:artifacts_event_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert Event.objects.filter(pk=event.pk).exists()
