"""Listing through GraphQL, as the SDK's documents ask: a collection's versions, a project's or a registry's types and
collections; pages by cursor that cost the same queries at any size, and nothing for those who may not see."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql import parse, validate
from wandb.sdk.artifacts._generated import (
    ARTIFACT_TYPE_ARTIFACT_COLLECTIONS_GQL,
    PROJECT_ARTIFACT_COLLECTION_GQL,
    PROJECT_ARTIFACT_COLLECTIONS_GQL,
    PROJECT_ARTIFACT_TYPE_GQL,
    PROJECT_ARTIFACT_TYPES_GQL,
    PROJECT_ARTIFACTS_GQL,
)

from artifacts import services
from artifacts.models import Artifact
from registry import services as registry_services
from tests.factories import bulk_versions, link, log_version, make_entity, make_project, make_run, make_user
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key
from wandb_api.schema import SCHEMA

LISTING_DOCUMENTS = [
    ARTIFACT_TYPE_ARTIFACT_COLLECTIONS_GQL,
    PROJECT_ARTIFACT_COLLECTION_GQL,
    PROJECT_ARTIFACT_COLLECTIONS_GQL,
    PROJECT_ARTIFACT_TYPE_GQL,
    PROJECT_ARTIFACT_TYPES_GQL,
    PROJECT_ARTIFACTS_GQL,
]
COMMITTED = json.dumps({"state": "COMMITTED"})


@pytest.mark.parametrize("document", LISTING_DOCUMENTS)
def test_every_listing_document_of_the_sdk_validates_against_the_schema(document):
    assert validate(SCHEMA, parse(document)) == []


def _versions(gql, key, project, collection, *, entity="reviewco", type="model", **variables):
    variables = {"entity": entity, "project": project, "type": type, "collection": collection} | variables
    body = gql(PROJECT_ARTIFACTS_GQL, {"filters": COMMITTED, **variables}, key=key)
    assert "errors" not in body, body
    artifact_type = body["data"]["project"] and body["data"]["project"]["artifactType"]
    return artifact_type and artifact_type["artifactCollection"] and artifact_type["artifactCollection"]["artifacts"]


def _all_pages(fetch, **variables) -> tuple[list[dict], int]:
    """Every edge of a list, following the cursors, and how many pages that took."""
    edges, cursor, pages = [], None, 0
    while True:
        page = fetch(cursor=cursor, **variables)
        pages += 1
        edges += page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            return edges, pages
        cursor = page["pageInfo"]["endCursor"]


def test_an_artifacts_versions_page_newest_first_by_cursor(gql, team, project):
    for i in range(5):
        log_version(project, "mnist_model", content=f"weights {i}".encode(), aliases=["best"] if i == 1 else ())
    key = api_key(team.viewer)

    def fetch(**variables):
        return _versions(gql, key, "mnist", "mnist_model", **variables)

    edges, pages = _all_pages(fetch, perPage=2)
    assert pages == 3
    assert [e["version"] for e in edges] == ["v4", "v3", "v2", "v1", "v0"]
    assert [e["node"]["versionIndex"] for e in edges] == [4, 3, 2, 1, 0]
    assert {a["alias"] for a in edges[3]["node"]["aliases"]} == {"best"}
    assert {a["alias"] for a in edges[0]["node"]["aliases"]} == {"latest"}
    assert fetch(perPage=2)["totalCount"] == 5
    ascending, _ = _all_pages(fetch, perPage=2, order="+version_index")
    assert [e["version"] for e in ascending] == ["v0", "v1", "v2", "v3", "v4"]
    assert [e["version"] for e in fetch(perPage=10, order="-createdAt")["edges"]] == ["v4", "v3", "v2", "v1", "v0"]


def test_a_registered_models_versions_are_its_links_with_their_own_index_and_aliases(gql, team, project):
    log_version(project, "mnist_model", content=b"never linked")
    for i in range(3):
        link(log_version(project, "mnist_model", content=f"linked {i}".encode()), aliases=["staging"] if i == 0 else ())
    key = api_key(team.viewer)
    page = _versions(gql, key, "model-registry", "MNIST-dev", perPage=10)
    assert page["totalCount"] == 3
    assert page["edges"][0]["node"]["artifactSequence"]["name"] == "mnist_model"
    assert [e["version"] for e in page["edges"]] == ["v2", "v1", "v0"]
    assert [e["node"]["versionIndex"] for e in page["edges"]] == [3, 2, 1]
    in_model = [
        {a["alias"] for a in e["node"]["aliases"] if a["artifactCollection"]["__typename"] == "ArtifactPortfolio"}
        for e in page["edges"]
    ]
    assert in_model == [{"v2", "latest"}, {"v1"}, {"v0", "staging"}]
    edges, pages = _all_pages(lambda **v: _versions(gql, key, "model-registry", "MNIST-dev", **v), perPage=2)
    assert ([e["version"] for e in edges], pages) == (["v2", "v1", "v0"], 2)


def _list_queries(gql, key, project, collection, per_page) -> int:
    """The queries one request for a whole page of `per_page` versions makes."""
    with CaptureQueriesContext(connection) as queries:
        page = _versions(gql, key, project, collection, perPage=per_page)
    assert len(page["edges"]) == per_page
    return len(queries.captured_queries)


def test_a_page_of_versions_costs_the_same_queries_for_5_rows_as_for_50(gql, team, project):
    key = api_key(team.member)
    link(log_version(project, "small", content=b"small"), "Small")
    bulk_versions(project, "small", 4, link_to="Small", start=1)
    link(log_version(project, "large", content=b"large"), "Large")
    bulk_versions(project, "large", 49, link_to="Large", start=1)
    gql(documents.VIEWER, key=key)

    assert _list_queries(gql, key, "mnist", "small", 5) == _list_queries(gql, key, "mnist", "large", 50)
    assert _list_queries(gql, key, "model-registry", "Small", 5) == _list_queries(
        gql, key, "model-registry", "Large", 50
    )


def test_a_deep_page_costs_the_same_queries_as_the_first(gql, team, project):
    key = api_key(team.member)
    link(log_version(project, "large", content=b"large"), "Large")
    bulk_versions(project, "large", 299, link_to="Large", start=1)
    gql(documents.VIEWER, key=key)
    for name, collection in (("mnist", "large"), ("model-registry", "Large")):
        with CaptureQueriesContext(connection) as first:
            top = _versions(gql, key, name, collection, perPage=50)
        with CaptureQueriesContext(connection) as deep:
            page = _versions(gql, key, name, collection, perPage=50, cursor="60")
        assert len(deep.captured_queries) == len(first.captured_queries)
        assert [e["version"] for e in page["edges"]][:2] == ["v59", "v58"]
        assert top["totalCount"] == page["totalCount"] == 300


def test_a_page_is_at_most_a_thousand_versions(gql, team, project):
    log_version(project, "large", content=b"large")
    bulk_versions(project, "large", 1000, start=1)
    page = _versions(gql, api_key(team.member), "mnist", "large", perPage=5000)
    assert len(page["edges"]) == 1000 and page["pageInfo"]["hasNextPage"]


def _pending(team, project, name, *, type):
    """A version created and never committed: its artifact lists nowhere."""
    services.version_create(run=make_run(project), user=team.member, name=name, type=type, digest="0" * 32)


def _types(gql, key, project, **variables):
    variables = {"entity": "reviewco", "project": project} | variables
    project = gql(PROJECT_ARTIFACT_TYPES_GQL, variables, key=key)["data"]["project"]
    return project and project["artifactTypes"]


def test_types_list_by_name_with_committed_versions_only(gql, team, project):
    log_version(project, "mnist_model", type="model")
    log_version(project, "digits", type="dataset")
    log_version(project, "curves", type="plots")
    _pending(team, project, "draft", type="drafts")
    key = api_key(team.viewer)
    edges, pages = _all_pages(lambda **v: _types(gql, key, "mnist", **v), perPage=1)
    assert ([e["node"]["name"] for e in edges], pages) == (["dataset", "model", "plots"], 3)
    assert all(e["node"]["createdAt"] for e in edges)
    one = gql(PROJECT_ARTIFACT_TYPE_GQL, {"entity": "reviewco", "project": "mnist", "type": "dataset"}, key=key)
    assert one["data"]["project"]["artifactType"]["name"] == "dataset"
    missing = gql(PROJECT_ARTIFACT_TYPE_GQL, {"entity": "reviewco", "project": "mnist", "type": "nope"}, key=key)
    assert missing["data"]["project"]["artifactType"] is None


def _collections(gql, key, project, type, **variables):
    variables = {"entity": "reviewco", "project": project, "type": type} | variables
    body = gql(ARTIFACT_TYPE_ARTIFACT_COLLECTIONS_GQL, variables, key=key)
    assert "errors" not in body, body
    artifact_type = body["data"]["project"] and body["data"]["project"]["artifactType"]
    return artifact_type and artifact_type["artifactCollections"]


def test_collections_list_newest_first_with_descriptions_and_no_tags(gql, team, project):
    for name in ("first", "second", "third"):
        log_version(project, name)
    log_version(project, "digits", type="dataset")
    _pending(team, project, "draft", type="model")
    Artifact.objects.filter(name="second").update(description="The second one")
    key = api_key(team.viewer)
    edges, pages = _all_pages(lambda **v: _collections(gql, key, "mnist", "model", **v), perPage=2)
    assert [e["node"]["name"] for e in edges] == ["third", "second", "first"] and pages == 2
    second = edges[1]["node"]
    assert (second["__typename"], second["description"], second["tags"]) == (
        "ArtifactSequence",
        "The second one",
        {"edges": []},
    )
    assert (second["type"], second["project"]["name"]) == ({"name": "model"}, "mnist")
    assert edges[0]["node"]["description"] is None
    assert _collections(gql, key, "mnist", "model", perPage=2)["totalCount"] == 3
    everything = gql(PROJECT_ARTIFACT_COLLECTIONS_GQL, {"entity": "reviewco", "project": "mnist"}, key=key)
    assert [e["node"]["name"] for e in everything["data"]["project"]["artifactCollections"]["edges"]] == [
        "digits",
        "third",
        "second",
        "first",
    ]


def test_a_registry_lists_its_model_types_and_registered_models(gql, team, project):
    registry_services.registered_model_create(
        entity=team.entity, name="Empty", user=team.admin, type="small-model", description="Nothing yet"
    )
    link(log_version(project, "mnist_model"), "MNIST-dev")
    key = api_key(team.viewer)
    assert [e["node"]["name"] for e in _types(gql, key, "model-registry")["edges"]] == ["model", "small-model"]
    models = _collections(gql, key, "model-registry", "small-model")
    assert [(e["node"]["__typename"], e["node"]["name"]) for e in models["edges"]] == [("ArtifactPortfolio", "Empty")]
    assert models["edges"][0]["node"]["description"] == "Nothing yet"
    assert models["edges"][0]["node"]["project"]["name"] == "model-registry"
    assert models["totalCount"] == 1
    assert _versions(gql, key, "model-registry", "Empty", type="small-model")["totalCount"] == 0


def test_a_collection_of_another_type_is_not_found_under_a_type(gql, team, project):
    link(log_version(project, "mnist_model"), "MNIST-dev")
    log_version(project, "digits", type="dataset")
    registry_services.registered_model_create(entity=team.entity, name="Other", user=team.admin, type="other-model")
    key = api_key(team.viewer)

    def collection(project_name, type, name):
        variables = {"entity": "reviewco", "project": project_name, "type": type, "name": name}
        artifact_type = gql(PROJECT_ARTIFACT_COLLECTION_GQL, variables, key=key)["data"]["project"]["artifactType"]
        return artifact_type and artifact_type["artifactCollection"]

    assert collection("model-registry", "model", "MNIST-dev")["name"] == "MNIST-dev"
    assert collection("model-registry", "other-model", "MNIST-dev") is None
    assert collection("mnist", "model", "mnist_model")["name"] == "mnist_model"
    assert collection("mnist", "dataset", "mnist_model") is None


def test_what_the_sdk_cannot_send_is_refused_with_a_graphql_error(gql, team, project):
    log_version(project, "mnist_model")
    key = api_key(team.viewer)
    variables = {"entity": "reviewco", "project": "mnist", "type": "model", "collection": "mnist_model"}
    for extra in (
        {"order": "-size"},
        {"filters": json.dumps({"state": "PENDING"})},
        {"filters": "[1]"},
        {"cursor": "not-a-cursor"},
    ):
        body = gql(PROJECT_ARTIFACTS_GQL, variables | extra, key=key)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", extra
    for extra in ({"order": "+name"}, {"filters": json.dumps({"name": "x"})}):
        body = gql(ARTIFACT_TYPE_ARTIFACT_COLLECTIONS_GQL, variables | extra, key=key)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", extra
    assert "errors" not in gql(ARTIFACT_TYPE_ARTIFACT_COLLECTIONS_GQL, variables | {"filters": "{}"}, key=key)
    unknown = gql(
        '{ project(name: "mnist", entityName: "reviewco") { artifactCollection(name: "mnist_model") { nope } } }',
        key=key,
    )
    assert "nope" in unknown["errors"][0]["message"] and "data" not in unknown


@pytest.fixture
def private_team(db):
    """Another team, `rivalco`, with a private project holding a linked version; `team.member` is not in it."""
    rival = make_user("rita")
    entity = make_entity("rivalco", admin=[rival])
    secret = make_project(entity, "secret")
    link(log_version(secret, "secret_model", content=b"secret"), "Secret-Model")
    return entity


def test_another_teams_private_project_and_registry_list_as_if_they_did_not_exist(gql, team, project, private_team):
    key = api_key(team.member)

    def everything(entity, project_name, collection):
        base = {"entity": entity, "project": project_name}
        return [
            gql(PROJECT_ARTIFACTS_GQL, base | {"type": "model", "collection": collection}, key=key),
            gql(PROJECT_ARTIFACT_TYPES_GQL, base, key=key),
            gql(PROJECT_ARTIFACT_TYPE_GQL, base | {"type": "model"}, key=key),
            gql(ARTIFACT_TYPE_ARTIFACT_COLLECTIONS_GQL, base | {"type": "model"}, key=key),
            gql(PROJECT_ARTIFACT_COLLECTIONS_GQL, base, key=key),
            gql(PROJECT_ARTIFACT_COLLECTION_GQL, base | {"type": "model", "name": collection}, key=key),
        ]

    nothing = everything("rivalco", "no-such-project", "no-such-model")
    assert all(body == {"data": {"project": None}} for body in nothing)
    assert everything("rivalco", "secret", "secret_model") == nothing
    assert everything("rivalco", "model-registry", "Secret-Model") == nothing
    assert everything("no-such-entity", "model-registry", "Secret-Model") == nothing


def test_versions_of_a_public_project_never_show_the_registry_of_its_team(gql, team, private_team):
    public = make_project(private_team, "open", public=True)
    link(log_version(public, "open_model", content=b"open"), "Open-Model", aliases=["production"])

    def aliases(user):
        page = _versions(gql, api_key(user), "open", "open_model", entity="rivalco", perPage=10)
        return {(a["alias"], a["artifactCollection"]["name"]) for a in page["edges"][0]["node"]["aliases"]}

    assert aliases(team.member) == {("latest", "open_model")}
    rival = private_team.memberships.get().user
    assert aliases(rival) == {
        ("latest", "open_model"),
        ("v0", "Open-Model"),
        ("latest", "Open-Model"),
        ("production", "Open-Model"),
    }


COLLECTIONS_PAGE = (
    'query($after: String) { project(name: "mnist", entityName: "reviewco") { artifactType(name: "model") {'
    " artifactCollections(first: 2, after: $after) { totalCount edges { cursor node { __typename name } }"
    " pageInfo { hasNextPage endCursor } } } } }"
)


def test_a_projects_collections_page_through_its_artifacts_then_its_portfolios(gql, team, project):
    for name in ("a1", "a2", "a3"):
        log_version(project, name)
    source = log_version(project, "a1")
    for name in ("p1", "p2", "p3"):
        registry_services.link_version(version=source, user=team.admin, project=project, registered_model_name=name)
    key = api_key(team.member)
    seen, after = [], None
    for _ in range(5):
        body = gql(COLLECTIONS_PAGE, {"after": after}, key=key)
        page = body["data"]["project"]["artifactType"]["artifactCollections"]
        assert page["totalCount"] == 6
        seen += [(edge["node"]["__typename"], edge["node"]["name"]) for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # Newest first: every artifact, then every portfolio, each once, whatever page boundary falls between them.
    assert seen == [
        ("ArtifactSequence", "a3"),
        ("ArtifactSequence", "a2"),
        ("ArtifactSequence", "a1"),
        ("ArtifactPortfolio", "p3"),
        ("ArtifactPortfolio", "p2"),
        ("ArtifactPortfolio", "p1"),
    ]
