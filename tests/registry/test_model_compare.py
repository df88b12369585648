"""Compare two versions of a registered model, a registry's collection or a project's collection:
`<registered model url>/compare/v1...v3`, comparing the two links' source versions."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains

from artifacts.models import ArtifactVersion, Organization
from registry import services
from tests.factories import link, log_version, make_user

MODEL = "/registry/model/reviewco/MNIST-dev"


@pytest.fixture
def linked(team, project):
    """MNIST-dev v0 (mnist_model:v0) and v1 (other_model:v0, another artifact), v1 with `production`."""
    first = log_version(project, "mnist_model", files={"model.pt": b"one", "cfg.json": b"{}"}, metadata={"acc": 0.9})
    second = log_version(project, "other_model", files={"model.pt": b"two", "cfg.json": b"{}"}, metadata={"acc": 0.95})
    link(first, "MNIST-dev")
    link(second, "MNIST-dev", aliases=["production"])
    return first, second


def _statuses(response) -> dict[str, str]:
    return {row["path"]: row["status"] for row in response.context["files"]}


def test_it_compares_the_links_source_versions(client, team, linked):
    client.force_login(team.viewer)
    r = client.get(f"{MODEL}/compare/v0...v1")
    assert r.status_code == 200
    assert _statuses(r) == {"cfg.json": "unchanged", "model.pt": "changed"}
    assert [s.full_name for s in r.context["sides"]] == [
        "reviewco/model-registry/MNIST-dev:v0",
        "reviewco/model-registry/MNIST-dev:v1",
    ]
    assert [s.aliases for s in r.context["sides"]] == [[], ["latest", "production"]]
    assertContains(r, "Source Version")
    assertContains(r, "mnist_model:v0")
    assertContains(r, "other_model:v0")
    assert r.context["metadata"]["rows"] == [{"key": "acc", "status": "changed", "old": "0.9", "new": "0.95"}]
    assertContains(r, f'href="{MODEL}/compare/v1...v0"')
    assertContains(r, '<a href="/registry/model">Model Registry</a>')


def test_the_versions_table_offers_compare_selected(client, team, linked):
    client.force_login(team.member)
    r = client.get(MODEL)
    assertContains(r, f'action="{MODEL}/compare"')
    assertContains(r, '<input type="checkbox" name="v" value="1" form="compare-form" aria-label="Compare v1">')


def test_picking_two_goes_to_the_compare_page(client, team, linked):
    client.force_login(team.member)
    r = client.get(f"{MODEL}/compare", {"v": ["1", "0"]})
    assert r.status_code == 302
    assert r["Location"] == f"{MODEL}/compare/v0...v1"
    r = client.get(f"{MODEL}/compare", {"v": ["0", "1"]}, headers={"HX-Request": "true"})
    assert r["HX-Redirect"] == f"{MODEL}/compare/v0...v1"


def test_bad_input_says_why(client, team, linked):
    client.force_login(team.member)
    assertContains(client.get(f"{MODEL}/compare", {"v": ["0"]}), "Tick two different versions", status_code=400)
    assertContains(client.get(f"{MODEL}/compare", {"v": ["0", "5"]}), "MNIST-dev has no version v5.", status_code=400)
    assertContains(client.get(f"{MODEL}/compare/v0...v5"), "MNIST-dev has no version v5.", status_code=404)
    assertContains(client.get(f"{MODEL}/compare/v1...v1"), "compares v1 with itself", status_code=400)
    assertContains(client.get(f"{MODEL}/compare/v{10**30}...v1"), "no version v1000", status_code=404)


def test_outsiders_get_404(client, team, linked):
    client.force_login(team.outsider)
    for url in [f"{MODEL}/compare/v0...v1", f"{MODEL}/compare?v=0&v=1"]:
        r = client.get(url)
        assert r.status_code == 404
        assertNotContains(r, "MNIST-dev", status_code=404)


def test_a_page_costs_the_same_queries_whatever_the_files(client, team, project):
    from tests.artifacts.test_version_compare import bulk_pair

    client.force_login(team.member)
    for name, count in [("small", 10), ("large", 3000)]:
        for version in bulk_pair(project, name, count, type="model"):
            services.link_version(
                version=version, user=team.admin, entity=team.entity, registered_model_name=f"rm-{name}"
            )
    counts = []
    for name in ("small", "large"):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/registry/model/reviewco/rm-{name}/compare/v0...v1?page=2").status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


@pytest.fixture
def collection(demo):
    """mnist_model v0 and v1 linked into the demo organization's `model` registry as `mnist-classifier`."""
    registry = Organization.objects.get(name="reviewco-org").registries.get(name="model")
    for index in (0, 1):
        services.link_version(
            version=ArtifactVersion.committed.get(artifact__name="mnist_model", index=index),
            user=demo.admin,
            registry=registry,
            registered_model_name="mnist-classifier",
        )
    return demo


COLLECTION = "/orgs/reviewco-org/registry/model/c/mnist-classifier"


def test_a_registry_collection_compares_at_its_own_url(client, collection):
    client.force_login(collection.viewer)
    r = client.get(COLLECTION)
    assertContains(r, f'action="{COLLECTION}/compare"')
    assert client.get(f"{COLLECTION}/compare", {"v": ["0", "1"]})["Location"] == f"{COLLECTION}/compare/v0...v1"
    r = client.get(f"{COLLECTION}/compare/v0...v1")
    assert r.status_code == 200
    assert [s.full_name for s in r.context["sides"]] == [
        "wandb-registry-model/mnist-classifier:v0",
        "wandb-registry-model/mnist-classifier:v1",
    ]
    assertContains(r, '<a href="/registry">Registry</a>')


def test_a_restricted_registrys_collection_is_404_outside_its_members(client, collection):
    services.registry_update(
        registry=Organization.objects.get(name="reviewco-org").registries.get(name="model"),
        user=collection.admin,
        visibility="restricted",
    )
    client.force_login(collection.viewer)
    assert client.get(f"{COLLECTION}/compare/v0...v1").status_code == 404
    stranger = make_user("stranger")
    client.force_login(stranger)
    assert client.get(f"{COLLECTION}/compare/v0...v1").status_code == 404


def test_a_projects_collection_compares_too(client, team, project):
    first = log_version(project, "mnist_model", files={"a": b"1"})
    second = log_version(project, "mnist_model", files={"a": b"1", "b": b"2"})
    for version in (first, second):
        services.link_version(version=version, user=team.admin, project=project, registered_model_name="best")
    client.force_login(team.viewer)
    url = "/reviewco/mnist/portfolios/best"
    assert client.get(f"{url}/compare", {"v": ["1", "0"]})["Location"] == f"{url}/compare/v0...v1"
    r = client.get(f"{url}/compare/v0...v1")
    assert _statuses(r) == {"a": "unchanged", "b": "added"}
    client.force_login(team.outsider)
    assert client.get(f"{url}/compare/v0...v1").status_code == 404
