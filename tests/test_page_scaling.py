"""Pages cost the same at any size: no page counts or aggregates over every link or version, and the kept
counts (Artifact.num_versions, RegisteredModel.num_versions) follow every commit, link, unlink and delete."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from artifacts import services
from artifacts.models import Artifact
from registry import services as registry_services
from registry.models import RegisteredModel
from tests.factories import bulk_versions, link, log_version, make_run

PAGES = [
    "/registry/model",
    "/registry/model?sort=name",
    "/registry/model/reviewco/MNIST-dev",
    "/registry/model/reviewco/MNIST-dev/v3",
    "/reviewco/mnist",
    "/reviewco/mnist/runs",
    "/reviewco/mnist/artifacts",
    "/reviewco/mnist/artifacts/model/mnist_model",
    "/reviewco/mnist/artifacts/model/mnist_model/v3",
    "/reviewco",
]
# A COUNT, MAX or GROUP BY reading the links or versions tables outright: its cost grows with every row stored.
AGGREGATE = re.compile(r"\b(COUNT|MAX|MIN|SUM)\(|GROUP BY", re.IGNORECASE)
BIG_TABLES = ("registry_link", "artifacts_artifactversion")


def _aggregates_over_big_tables(sql: str) -> bool:
    """An aggregate in the outer query of a statement that reads a big table; a correlated subquery counting
    the rows of one page row (queries.count_of) is allowed."""
    outer = re.sub(r"\(SELECT .*?\bWHERE\b[^()]*= \(?\"\w+\"\.\"id\"\)?\)", "(subquery)", sql)
    if '"index" > ' in outer:
        return False  # where a selected version stands in its model (queries.link_position): a range of one index
    return bool(AGGREGATE.search(outer)) and any(f'FROM "{t}"' in outer or f'JOIN "{t}"' in outer for t in BIG_TABLES)


@pytest.fixture
def grown(client, team, project):
    link(log_version(project, "mnist_model"), "MNIST-dev")
    bulk_versions(project, "mnist_model", 120, link_to="MNIST-dev", start=1)
    client.force_login(team.member)
    return client


@pytest.mark.parametrize("url", PAGES)
def test_no_page_aggregates_over_every_link_or_version(grown, url):
    with CaptureQueriesContext(connection) as queries:
        assert grown.get(url).status_code == 200
    offending = [q["sql"] for q in queries.captured_queries if _aggregates_over_big_tables(q["sql"])]
    assert offending == []


def test_the_kept_counts_follow_commits_links_unlinks_and_deletes(team, project):
    first = log_version(project, "mnist_model", content=b"one")
    second = log_version(project, "mnist_model", content=b"two")
    log_version(project, "mnist_model", content=b"one")  # the same content again: no new version
    artifact = Artifact.objects.get(name="mnist_model")
    assert artifact.num_versions == 2

    lk = link(first, "MNIST-dev")
    link(second, "MNIST-dev")
    link(first, "MNIST-dev")  # already linked: no new version
    assert RegisteredModel.objects.get(name="MNIST-dev").num_versions == 2

    registry_services.link_delete(link=lk, user=team.admin)
    assert RegisteredModel.objects.get(name="MNIST-dev").num_versions == 1

    services.version_delete(version=first, user=team.admin)
    artifact.refresh_from_db()
    assert artifact.num_versions == 1
    assert artifact.next_index == 2


def test_a_refused_delete_leaves_the_count(team, project):
    version = log_version(project, "mnist_model")
    link(version, "MNIST-dev")
    with pytest.raises(Exception, match="linked"):
        services.version_delete(version=version, user=team.admin)
    assert Artifact.objects.get(name="mnist_model").num_versions == 1


def test_the_migrations_fill_the_kept_counts_from_the_rows(team, project):
    import importlib

    from django.apps import apps

    log_version(project, "mnist_model", content=b"one")
    link(log_version(project, "mnist_model", content=b"two"), "MNIST-dev")
    services.version_create(run=make_run(project), user=team.admin, name="mnist_model", type="model", digest="f" * 32)
    Artifact.objects.update(num_versions=0)
    RegisteredModel.objects.update(num_versions=0)
    for module in ("artifacts.migrations.0004_version_counts", "registry.migrations.0002_version_counts"):
        importlib.import_module(module).count_versions(apps, None)
    assert Artifact.objects.get(name="mnist_model").num_versions == 2  # the pending version is not counted
    assert RegisteredModel.objects.get(name="MNIST-dev").num_versions == 1


def test_lists_count_no_further_than_the_cap(grown, team, project, monkeypatch):
    from artifacts import queries as artifact_queries
    from registry import queries as registry_queries

    monkeypatch.setattr(artifact_queries.CappedPaginator, "CAP", 3)
    monkeypatch.setattr(registry_queries, "MODELS_PER_PAGE", 2)
    for i in range(5):
        registry_services.registered_model_create(entity=team.entity, name=f"capped-{i}", user=team.member)
    with CaptureQueriesContext(connection) as queries:
        first = grown.get("/registry/model?sort=name")
    assert "1 - 2 of 3+" in first.content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"]]
    assert len(counts) == 1 and "LIMIT 4" in counts[0]
    assert "3 - 4 of 3+" in grown.get("/registry/model?sort=name&page=2").content.decode()
    # Below the cap the total is exact.
    monkeypatch.setattr(artifact_queries.CappedPaginator, "CAP", 100)
    assert "1 - 2 of 6" in grown.get("/registry/model?sort=name").content.decode()


REGISTRY_PAGES = [
    "/registry",
    "/registry?q=digits",
    "/orgs/acme/registry/model",
    "/orgs/acme/registry/model/c/digits",
    "/orgs/acme/registry/model/c/digits/v1",
    "/orgs/acme/registry/model/settings",
]


def _registry_queries(client) -> dict[str, int]:
    counts = {}
    for url in REGISTRY_PAGES:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        offending = [q["sql"] for q in queries.captured_queries if _aggregates_over_big_tables(q["sql"])]
        assert offending == [], url
        assert not any(
            "registry_registeredmodel" in q["sql"] and "COUNT(" in q["sql"] and "LIMIT" not in q["sql"]
            for q in queries.captured_queries
        ), url
        counts[url] = len(queries.captured_queries)
    return counts


def test_the_registry_pages_cost_the_same_queries_at_any_size(client, team, project):
    """W&B's Registry pages: the same number of queries with 2 links and 2 collections as with 122 links and
    62 collections, and no aggregate over every link or collection."""
    organization = registry_services.organization_create(name="acme", teams=[team.entity])
    model = organization.registries.get(name="model")
    registry_services.registry_member_set(registry=model, user=team.member, role="member")
    for i in range(2):
        registry_services.link_version(
            version=log_version(project, "mnist_model", content=f"v{i}".encode()),
            user=team.member,
            registry=model,
            registered_model_name="digits",
        )
    registry_services.registered_model_create(registry=model, name="other", user=team.member)
    client.force_login(team.member)
    small = _registry_queries(client)

    bulk_versions(project, "mnist_model", 120, start=2)
    rm = RegisteredModel.objects.get(registry=model, name="digits")
    from registry.models import Link

    versions = list(Artifact.objects.get(name="mnist_model").versions.filter(index__gte=2))
    Link.objects.bulk_create(Link(registered_model=rm, index=2 + i, source=v) for i, v in enumerate(versions))
    RegisteredModel.objects.filter(pk=rm.pk).update(next_index=122, num_versions=122)
    for i in range(60):
        registry_services.registered_model_create(registry=model, name=f"c{i}", user=team.member, tags=["digits"])
    assert model.__class__.objects.get(pk=model.pk).num_collections == 62
    assert _registry_queries(client) == small


def test_a_registrys_kept_count_follows_collections_made_and_deleted(team, project):
    organization = registry_services.organization_create(name="acme", teams=[team.entity])
    model = organization.registries.get(name="model")
    registry_services.registered_model_create(registry=model, name="made", user=team.admin)
    registry_services.link_version(
        version=log_version(project), user=team.admin, registry=model, registered_model_name="by-link"
    )
    # Linking again into the existing collection counts nothing.
    registry_services.link_version(
        version=log_version(project, content=b"2"), user=team.admin, registry=model, registered_model_name="by-link"
    )
    model.refresh_from_db()
    assert model.num_collections == 2
    registry_services.registered_model_delete(
        registered_model=RegisteredModel.objects.get(name="made"), user=team.admin
    )
    model.refresh_from_db()
    assert model.num_collections == 1
    # A legacy registered model counts in no registry.
    registry_services.registered_model_create(entity=team.entity, name="legacy", user=team.admin)
    model.refresh_from_db()
    assert model.num_collections == 1


DIALOGS = [
    "/reviewco/mnist/artifacts/model/mnist_model/v0/delete",
    "/reviewco/mnist/artifacts/model/mnist_model/v0/link",
    "/registry/model/reviewco/MNIST-dev/v0/unlink",
    "/registry/model/reviewco/MNIST-dev/delete",
    "/registry/model/reviewco/MNIST-dev/link",
    "/registry/model/reviewco/MNIST-dev/link?project=mnist&artifact=mnist_model",
    "/registry/model/reviewco/MNIST-dev/link?project=mnist&artifact=mnist_model&version_q=v1",
]


def _dialog_queries(client) -> dict[str, int]:
    counts = {}
    for url in DIALOGS:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, headers={"HX-Request": "true"}).status_code == 200, url
        offending = [q["sql"] for q in queries.captured_queries if _aggregates_over_big_tables(q["sql"])]
        assert offending == [], url
        counts[url] = len(queries.captured_queries)
    return counts


def test_the_dialogs_cost_the_same_queries_at_any_size(client, team, project):
    """Delete and Link to registry of a version, Unlink, Delete registered model and Link new version (its
    cascade and its search): the same queries with one link as with 120 links of the model, 121 versions of the
    artifact and the version linked into 25 more models."""
    v0 = log_version(project, "mnist_model")
    link(v0, "MNIST-dev")
    bulk_versions(project, "mnist_model", 1, start=1)
    client.force_login(team.admin)
    small = _dialog_queries(client)

    bulk_versions(project, "mnist_model", 119, link_to="MNIST-dev", start=2)
    for i in range(25):
        link(v0, f"also-{i}")
    assert RegisteredModel.objects.get(name="MNIST-dev").num_versions == 120
    assert _dialog_queries(client) == small
