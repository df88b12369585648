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
