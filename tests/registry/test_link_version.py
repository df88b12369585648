import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from registry import services
from registry.models import Link, LinkAlias, RegisteredModel
from tests.factories import link, log_version, make_entity, make_project, snapshot


def test_linking_to_a_missing_name_creates_the_registered_model_at_v0(team, project):
    version = log_version(project, "mnist_model")
    result = services.link_version(
        version=version, user=team.member, entity=team.entity, registered_model_name="MNIST-dev"
    )
    assert result.created
    assert result.link.label == "v0"
    assert result.link.full_name == "reviewco/model-registry/MNIST-dev:v0"
    assert result.link.source_name == "mnist_model:v0"
    assert RegisteredModel.objects.get(entity=team.entity, name="MNIST-dev").created_by == team.member


def test_links_are_numbered_per_registered_model_and_latest_moves(team, project):
    versions = [log_version(project, "review-model", content=f"{i}".encode()) for i in range(4)]
    links = [link(v, "Fine-Tuned-Review-Autocompletion") for v in versions[:3]]
    assert [lk.label for lk in links] == ["v0", "v1", "v2"]
    fourth = link(versions[3], "Fine-Tuned-Review-Autocompletion")
    assert fourth.label == "v3"
    assert LinkAlias.objects.get(registered_model=fourth.registered_model, name="latest").link == fourth
    other = link(versions[0], "Another-Model")
    assert other.label == "v0"


def test_linking_the_same_source_again_returns_the_existing_link_and_merges_aliases(team, project):
    version = log_version(project)
    first = link(version)
    before = snapshot()
    again = services.link_version(
        version=version, user=team.member, entity=team.entity, registered_model_name="MNIST-dev", aliases=["staging"]
    )
    assert not again.created
    assert again.link == first
    assert snapshot()["Link"] == before["Link"]
    assert set(first.aliases.values_list("name", flat=True)) == {"latest", "staging"}


def test_aliases_given_when_linking_move_onto_the_new_link(team, project):
    v0, v1 = log_version(project, content=b"a"), log_version(project, content=b"b")
    first = link(v0, aliases=["staging"])
    second = link(v1, aliases=["staging"])
    assert list(first.aliases.values_list("name", flat=True)) == []
    assert set(second.aliases.values_list("name", flat=True)) == {"latest", "staging"}


def test_link_indexes_are_never_reused(team, project):
    v0, v1, v2 = (log_version(project, content=c) for c in (b"a", b"b", b"c"))
    link(v0)
    second = link(v1)
    services.link_delete(link=second, user=team.member)
    assert LinkAlias.objects.get(name="latest").link.source == v0
    assert link(v2).label == "v2"


def _link_fails(exc, **kwargs):
    before = snapshot()
    with pytest.raises(exc) as info:
        services.link_version(**kwargs)
    assert snapshot() == before
    return str(info.value)


def test_a_non_model_artifact_cannot_be_linked(team, project):
    dataset = log_version(project, "mnist-dataset", type="dataset")
    message = _link_fails(
        ValidationError, version=dataset, user=team.member, entity=team.entity, registered_model_name="MNIST-dev"
    )
    assert "contains 'model'" in message


def test_a_type_containing_model_can_be_linked(team, project):
    version = log_version(project, "tuned", type="fine-tuned-model")
    assert link(version).label == "v0"


def test_a_version_from_another_entitys_project_cannot_be_linked(team, project):
    other_entity = make_entity("labco", admin=[team.member])
    other_version = log_version(make_project(other_entity, "vision"))
    message = _link_fails(
        ValidationError,
        version=other_version,
        user=team.member,
        entity=team.entity,
        registered_model_name="MNIST-dev",
    )
    assert "belongs to 'labco'" in message


def test_a_viewer_cannot_link(team, project):
    version = log_version(project)
    _link_fails(
        PermissionDenied, version=version, user=team.viewer, entity=team.entity, registered_model_name="MNIST-dev"
    )


def test_an_outsider_gets_not_found(team, project):
    version = log_version(project)
    _link_fails(Http404, version=version, user=team.outsider, entity=team.entity, registered_model_name="MNIST-dev")


@pytest.mark.parametrize("alias", ["latest", "v3", "no spaces"])
def test_a_reserved_or_malformed_alias_is_rejected(team, project, alias):
    version = log_version(project)
    _link_fails(
        ValidationError,
        version=version,
        user=team.member,
        entity=team.entity,
        registered_model_name="MNIST-dev",
        aliases=[alias],
    )


def test_a_malformed_registered_model_name_is_rejected(team, project):
    version = log_version(project)
    message = _link_fails(
        ValidationError, version=version, user=team.member, entity=team.entity, registered_model_name="MNIST dev"
    )
    assert "registered model name" in message


def test_a_protected_alias_needs_an_admin(team, project):
    version = log_version(project)
    message = _link_fails(
        PermissionDenied,
        version=version,
        user=team.member,
        entity=team.entity,
        registered_model_name="MNIST-dev",
        aliases=["production"],
    )
    assert "protected" in message
    result = services.link_version(
        version=version, user=team.admin, entity=team.entity, registered_model_name="MNIST-dev", aliases=["production"]
    )
    assert result.link.aliases.filter(name="production").exists()


def test_a_member_cannot_move_or_remove_a_protected_alias(team, project):
    lk = link(log_version(project), aliases=["production"])
    with pytest.raises(PermissionDenied):
        services.link_alias_remove(link=lk, name="production", user=team.member)
    with pytest.raises(PermissionDenied):
        services.link_alias_set(link=link(log_version(project)), name="production", user=team.member)
    assert LinkAlias.objects.get(name="production").link == lk


def test_registered_model_names_are_unique_per_entity(team):
    services.registered_model_create(entity=team.entity, name="MNIST-dev", user=team.member)
    with pytest.raises(ValidationError, match="already exists"):
        services.registered_model_create(entity=team.entity, name="MNIST-dev", user=team.member)
    assert RegisteredModel.objects.count() == 1


def test_tags_are_validated_and_deduplicated(team):
    rm = services.registered_model_create(
        entity=team.entity, name="M", user=team.member, tags=["vision", " vision ", "", "cnn"]
    )
    assert rm.tags == ["vision", "cnn"]
    with pytest.raises(ValidationError):
        services.registered_model_update(registered_model=rm, user=team.member, tags=["bad tag"])
    rm.refresh_from_db()
    assert rm.tags == ["vision", "cnn"]


def test_only_admins_delete_a_registered_model(team, project):
    lk = link(log_version(project))
    with pytest.raises(PermissionDenied):
        services.registered_model_delete(registered_model=lk.registered_model, user=team.member)
    services.registered_model_delete(registered_model=lk.registered_model, user=team.admin)
    assert not Link.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_while_the_registered_model_is_locked_only_the_writes_and_alias_reads_run(team, project):
    """What needs no lock (is the version linked there already, which automations may fire) is read before it,
    so concurrent links wait on one another for as few statements as possible."""
    link(log_version(project, content=b"v0"))
    version = log_version(project, content=b"v1")
    with CaptureQueriesContext(connection) as ctx:
        result = services.link_version(
            version=version, user=team.member, entity=team.entity, registered_model_name="MNIST-dev"
        )
    assert result.created and result.link.label == "v1"
    sql = [q["sql"] for q in ctx.captured_queries]
    begin = next(i for i, s in enumerate(sql) if s.startswith("BEGIN"))
    locked = sql[begin : sql.index("COMMIT", begin)]
    reads = ('FROM "registry_link"', 'FROM "registry_automation"')
    assert not [s for s in locked if s.startswith("SELECT") and any(r in s for r in reads)], locked
    assert all(any(r in s for s in sql[:begin]) for r in reads), sql[:begin]
    # The lock hands out the new link's index, counts it and stamps the model: one statement on its row.
    on_model = [s for s in locked if '"registry_registeredmodel"' in s]
    assert len(on_model) == 1 and on_model[0].startswith("UPDATE") and "RETURNING" in on_model[0], locked


@pytest.mark.django_db(transaction=True)
def test_a_version_linked_meanwhile_by_a_concurrent_caller_gets_that_link(team, project, monkeypatch):
    version = log_version(project)
    first = link(version)
    before = snapshot()
    # As if the other caller linked it between this caller's read (before the lock) and its insert.
    reads = [[], [first]]
    real = services._LINK_OF
    monkeypatch.setattr(services, "_LINK_OF", lambda *args: reads.pop(0) if reads else real(*args))
    again = services.link_version(
        version=version, user=team.member, entity=team.entity, registered_model_name="MNIST-dev", aliases=["staging"]
    )
    assert not again.created and again.link == first
    assert LinkAlias.objects.get(registered_model=first.registered_model, name="staging").link == first
    assert Link.objects.filter(source=version).count() == 1
    assert snapshot()["Link"] == before["Link"]


@pytest.mark.django_db(transaction=True)
def test_a_link_unlinked_between_the_read_and_the_lock_is_made_anew(team, project, monkeypatch):
    version = log_version(project)
    stale = link(version)
    services.link_delete(link=stale, user=team.admin)
    # As if the unlink ran between this caller's read (before the lock) and its taking the lock.
    reads = [[stale]]
    real = services._LINK_OF
    monkeypatch.setattr(services, "_LINK_OF", lambda *args: reads.pop(0) if reads else real(*args))
    again = services.link_version(
        version=version, user=team.member, entity=team.entity, registered_model_name="MNIST-dev"
    )
    assert again.created and again.link.pk != stale.pk and again.link.label == "v1"
    assert list(Link.objects.filter(source=version)) == [again.link]
