"""updateArtifact, addAliases, deleteAliases, Artifact.createdBy and Artifact.usedBy, as the SDK sends them."""

import json

import pytest
from graphql import parse, validate
from wandb.apis._generated import IS_PROJECT_READ_ONLY_GQL
from wandb.apis.public.runs import LIGHTWEIGHT_RUN_FRAGMENT
from wandb.sdk.artifacts._generated import (
    ADD_ALIASES_GQL,
    ADD_ARTIFACT_COLLECTION_TAGS_GQL,
    ARTIFACT_CREATED_BY_GQL,
    ARTIFACT_USED_BY_GQL,
    DELETE_ALIASES_GQL,
    DELETE_ARTIFACT_COLLECTION_TAGS_GQL,
    DELETE_ARTIFACT_GQL,
    RUN_INPUT_ARTIFACTS_GQL,
    RUN_OUTPUT_ARTIFACTS_GQL,
    UNLINK_ARTIFACT_GQL,
    UPDATE_ARTIFACT_GQL,
    UPDATE_ARTIFACT_PORTFOLIO_GQL,
    UPDATE_ARTIFACT_SEQUENCE_GQL,
    UPDATE_ARTIFACT_SEQUENCE_TYPE_GQL,
)

from artifacts import services
from artifacts.models import Artifact, ArtifactAlias, ArtifactUsage, ArtifactVersion
from registry.models import LinkAlias, RegisteredModel
from tests.factories import link, log_version, make_project, make_run, snapshot
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key
from wandb_api import ids
from wandb_api.schema import SCHEMA

pytestmark = pytest.mark.django_db

RUN_QUERY = (
    "query Run($project: String!, $entity: String!, $name: String!) {"
    " project(name: $project, entityName: $entity) { run(name: $name) { projectId ...LightweightRunFragment } } }\n"
    + LIGHTWEIGHT_RUN_FRAGMENT
)


@pytest.mark.parametrize(
    "document",
    [
        UPDATE_ARTIFACT_GQL,
        ADD_ALIASES_GQL,
        DELETE_ALIASES_GQL,
        ARTIFACT_CREATED_BY_GQL,
        ARTIFACT_USED_BY_GQL,
        IS_PROJECT_READ_ONLY_GQL,
        RUN_QUERY,
        RUN_INPUT_ARTIFACTS_GQL,
        RUN_OUTPUT_ARTIFACTS_GQL,
        UPDATE_ARTIFACT_SEQUENCE_GQL,
        UPDATE_ARTIFACT_SEQUENCE_TYPE_GQL,
        UPDATE_ARTIFACT_PORTFOLIO_GQL,
        ADD_ARTIFACT_COLLECTION_TAGS_GQL,
        DELETE_ARTIFACT_COLLECTION_TAGS_GQL,
    ],
)
def test_the_documents_of_save_logged_by_and_used_by_validate(document):
    assert validate(SCHEMA, parse(document)) == []


def _aliases(version, *names, project="mnist", collection="mnist_model") -> dict:
    return {
        "input": {
            "artifactID": ids.encode("Artifact", version.pk),
            "aliases": [
                {"entityName": "reviewco", "projectName": project, "artifactCollectionName": collection, "alias": n}
                for n in names
            ],
        }
    }


def _names(version) -> set[str]:
    return set(ArtifactAlias.objects.filter(version=version).values_list("name", flat=True))


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["good", "latest"], "The alias 'latest' is managed automatically and cannot be set."),
        (["good", "v3"], "Invalid alias 'v3': names like v3 are version numbers, not aliases."),
    ],
)
def test_reserved_aliases_are_refused_and_nothing_is_written(gql, team, project, names, message):
    version = log_version(project)
    key = api_key(team.member)
    before = snapshot()
    body = gql(ADD_ALIASES_GQL, _aliases(version, *names), key=key)
    assert body["errors"][0]["message"] == message
    assert snapshot() == before
    assert _names(version) == {"latest"}


def test_aliases_of_another_collection_are_not_found(gql, team, project):
    version = log_version(project)
    log_version(project, "other")
    body = gql(ADD_ALIASES_GQL, _aliases(version, "good", collection="other"), key=api_key(team.member))
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = gql(ADD_ALIASES_GQL, _aliases(version, "good"), key=api_key(team.outsider))
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert _names(version) == {"latest"}


def test_registry_aliases_go_through_the_registry_services(gql, team, project):
    version = log_version(project)
    link(version)
    variables = _aliases(version, "production", project="model-registry", collection="MNIST-dev")
    body = gql(ADD_ALIASES_GQL, variables, key=api_key(team.member))
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_ERROR"
    assert gql(ADD_ALIASES_GQL, variables, key=api_key(team.admin)) == {"data": {"result": {"success": True}}}
    assert set(LinkAlias.objects.values_list("name", flat=True)) == {"latest", "production"}
    body = gql(DELETE_ALIASES_GQL, variables, key=api_key(team.member))
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_ERROR"
    assert gql(DELETE_ALIASES_GQL, variables, key=api_key(team.admin)) == {"data": {"result": {"success": True}}}
    assert set(LinkAlias.objects.values_list("name", flat=True)) == {"latest"}
    assert _names(version) == {"latest"}


def test_update_artifact_edits_description_metadata_and_tags_and_refuses_the_rest(gql, team, project):
    version = log_version(project, metadata={"acc": 0.9})
    key = api_key(team.member)
    artifact_id = ids.encode("Artifact", version.pk)
    changes = {
        "description": "d",
        "metadata": json.dumps({"acc": 0.95, "note": "re-evaluated"}),
        "tagsToAdd": [{"tagName": "best model"}, {"tagName": "sota"}],
    }
    body = gql(UPDATE_ARTIFACT_GQL, {"input": {"artifactID": artifact_id, **changes}}, key=key)
    assert body["data"]["result"]["artifact"]["description"] == "d"
    version.refresh_from_db()
    assert (version.description, version.metadata) == ("d", {"acc": 0.95, "note": "re-evaluated"})
    assert list(version.tags.values_list("name", flat=True)) == ["best model", "sota"]
    body = gql(
        UPDATE_ARTIFACT_GQL, {"input": {"artifactID": artifact_id, "tagsToDelete": [{"tagName": "sota"}]}}, key=key
    )
    assert "errors" not in body
    assert list(version.tags.values_list("name", flat=True)) == ["best model"]
    digest, files = version.digest, list(version.files.values_list("path", "blob"))
    before = snapshot()
    for change, message in [
        ({"tagsToAdd": [{"tagName": "no/slashes"}]}, "Invalid tag 'no/slashes'"),
        ({"tagsToAdd": [{"tagName": "two  spaces"}]}, "Invalid tag 'two  spaces'"),
        ({"metadata": json.dumps([1, 2])}, "must be a JSON object"),
        ({"ttlDurationSeconds": 3600}, "a TTL cannot be set"),
    ]:
        variables = {"input": {"artifactID": artifact_id, "description": "changed", **change}}
        assert message in gql(UPDATE_ARTIFACT_GQL, variables, key=key)["errors"][0]["message"]
    version.refresh_from_db()
    assert version.description == "d" and snapshot() == before
    assert list(version.tags.values_list("name", flat=True)) == ["best model"]
    # The content never changes.
    assert (version.digest, list(version.files.values_list("path", "blob"))) == (digest, files)
    body = gql(
        UPDATE_ARTIFACT_GQL, {"input": {"artifactID": artifact_id, "description": "v"}}, key=api_key(team.viewer)
    )
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_ERROR"


def test_used_by_answers_only_runs_the_user_may_see(gql, team):
    public = make_project(team.entity, "open", public=True)
    version = log_version(public, run=make_run(public, "trainer"))
    services.version_use(run=make_run(public, "here"), version=version, user=team.member)
    hidden = make_project(team.outsider.memberships.get().entity, "private")
    services.version_use(run=make_run(hidden, "there"), version=version, user=team.outsider)
    variables = {"id": ids.encode("Artifact", version.pk)}

    def used_by(user) -> list[str]:
        edges = gql(ARTIFACT_USED_BY_GQL, variables, key=api_key(user))["data"]["artifact"]["usedBy"]["edges"]
        return sorted(f"{e['node']['project']['entity']['name']}/{e['node']['name']}" for e in edges)

    assert used_by(team.member) == ["reviewco/here"]
    assert used_by(team.outsider) == ["otherco/there", "reviewco/here"]
    creator = gql(ARTIFACT_CREATED_BY_GQL, variables, key=api_key(team.outsider))["data"]["artifact"]["createdBy"]
    assert (creator["__typename"], creator["name"], creator["project"]["name"]) == ("Run", "trainer", "open")


def test_a_runs_used_and_logged_versions_are_only_those_the_user_may_see(gql, team):
    public = make_project(team.entity, "open", public=True)
    evaluator = make_run(public, "evaluator")
    logged = log_version(public, "cnn", run=evaluator)
    services.version_use(run=evaluator, version=log_version(public, "data"), user=team.member)
    hidden = make_project(team.outsider.memberships.get().entity, "private")
    # Used by someone who could see both projects then; no service call here can set that up with these personas.
    ArtifactUsage.objects.create(run=evaluator, version=log_version(hidden, "secret"))
    variables = {"entity": "reviewco", "project": "open", "run": "evaluator", "perPage": 1}

    def names(document, user) -> list[str]:
        found, cursor = [], None
        while True:
            body = gql(document, variables | {"cursor": cursor}, key=api_key(user))
            page = body["data"]["project"]["run"]["artifacts"]
            found += [f"{e['node']['artifactSequence']['name']}:v{e['node']['versionIndex']}" for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return found
            cursor = page["pageInfo"]["endCursor"]

    assert names(RUN_INPUT_ARTIFACTS_GQL, team.member) == ["data:v0"]
    assert names(RUN_INPUT_ARTIFACTS_GQL, team.outsider) == ["data:v0", "secret:v0"]
    assert names(RUN_OUTPUT_ARTIFACTS_GQL, team.outsider) == [f"cnn:v{logged.index}"]


def test_delete_artifact_and_unlink_artifact_apply_the_pages_rules(gql, team, project):
    version = log_version(project, "cnn")
    services.alias_set(version=version, name="staging", user=team.admin)
    linked = link(version, "CNN-dev", aliases=["production"])
    member, admin, viewer = api_key(team.member), api_key(team.admin), api_key(team.viewer)
    version_id = ids.encode("Artifact", version.pk)
    unlink = {
        "input": {
            "artifactID": version_id,
            "artifactPortfolioID": ids.encode("ArtifactPortfolio", linked.registered_model_id),
        }
    }
    delete = {"input": {"artifactID": version_id, "deleteAliases": False}}
    before = snapshot()
    for variables, key, message in [
        (delete, member, "unlink it there first"),
        (unlink, viewer, "member or admin role"),
        (unlink, member, "only admins may unlink it"),  # `production` is protected
        (
            {"input": {**unlink["input"], "artifactPortfolioID": ids.encode("ArtifactPortfolio", 999)}},
            admin,
            "not linked",
        ),
    ]:
        query = DELETE_ARTIFACT_GQL if "deleteAliases" in variables["input"] else UNLINK_ARTIFACT_GQL
        assert message in gql(query, variables, key=key)["errors"][0]["message"]
    assert snapshot() == before
    assert gql(UNLINK_ARTIFACT_GQL, unlink, key=admin)["data"]["result"]["success"] is True
    assert not version.links.exists()
    assert "confirm removing them" in gql(DELETE_ARTIFACT_GQL, delete, key=member)["errors"][0]["message"]
    body = gql(DELETE_ARTIFACT_GQL, {"input": {**delete["input"], "deleteAliases": True}}, key=member)
    assert body["data"]["result"]["artifact"]["id"] == version_id
    assert not ArtifactVersion.objects.filter(pk=version.pk).exists()


def test_update_artifact_sequence_renames_and_describes_an_artifact_for_members_only(gql, team, project):
    version = log_version(project, "cnn")
    log_version(project, "taken")
    sequence_id = ids.encode("ArtifactSequence", version.artifact_id)

    def update(user, **fields) -> dict:
        variables = {"input": {"artifactSequenceID": sequence_id, **fields}}
        return gql(UPDATE_ARTIFACT_SEQUENCE_GQL, variables, key=keys[user])

    keys = {user: api_key(user) for user in (team.viewer, team.member, team.outsider)}
    before = snapshot()
    assert update(team.viewer, name="renamed")["errors"][0]["extensions"]["code"] == "PERMISSION_ERROR"
    assert "Not found" in update(team.outsider, name="renamed")["errors"][0]["message"]
    assert "already has an artifact named 'taken'" in update(team.member, name="taken")["errors"][0]["message"]
    assert "Invalid artifact name" in update(team.member, name="a/b", description="d")["errors"][0]["message"]
    assert snapshot() == before
    assert Artifact.objects.get(pk=version.artifact_id).name == "cnn"
    body = update(team.member, name="renamed", description="Convolutional.")
    collection = body["data"]["result"]["artifactCollection"]
    assert (collection["name"], collection["description"], collection["type"]) == (
        "renamed",
        "Convolutional.",
        {"name": "model"},
    )
    assert version.aliases.get().name == "latest" and Artifact.objects.get(pk=version.artifact_id).name == "renamed"


def test_a_sequence_description_is_null_until_given_and_an_empty_one_is_kept(gql, team, project):
    version = log_version(project, "cnn")
    sequence_id = ids.encode("ArtifactSequence", version.artifact_id)

    def description(**fields) -> str | None:
        variables = {"input": {"artifactSequenceID": sequence_id, "name": "cnn", **fields}}
        body = gql(UPDATE_ARTIFACT_SEQUENCE_GQL, variables, key=api_key(team.member))
        return body["data"]["result"]["artifactCollection"]["description"]

    assert description(description=None) is None
    assert description(description="Convolutional.") == "Convolutional."
    # The SDK sends the description on every save: null leaves it as it is.
    assert description(description=None) == "Convolutional."
    assert description(description="") == ""
    assert Artifact.objects.get(pk=version.artifact_id).description == ""


def test_move_artifact_sequence_changes_the_type_unless_linked_or_internal(gql, team, project):
    data = log_version(project, "images", type="dataset")
    linked = log_version(project, "cnn")
    link(linked)
    internal = log_version(project, "run-history", type="wandb-history")

    def move(user, version, type) -> dict:
        variables = {"input": {"artifactSequenceID": ids.encode("ArtifactSequence", version.artifact_id)}}
        variables["input"]["destinationArtifactTypeName"] = type
        return gql(UPDATE_ARTIFACT_SEQUENCE_TYPE_GQL, variables, key=keys[user])

    keys = {user: api_key(user) for user in (team.viewer, team.member)}
    before = snapshot()
    assert move(team.viewer, data, "images")["errors"][0]["extensions"]["code"] == "PERMISSION_ERROR"
    assert "unlink them" in move(team.member, linked, "weights")["errors"][0]["message"]
    assert "reserved" in move(team.member, internal, "dataset")["errors"][0]["message"]
    assert "reserved" in move(team.member, data, "wandb-mine")["errors"][0]["message"]
    assert snapshot() == before
    body = move(team.member, data, "images")
    assert body["data"]["result"]["artifactCollection"]["type"] == {"name": "images"}
    assert Artifact.objects.get(pk=data.artifact_id).type == "images"


def test_update_artifact_portfolio_renames_and_describes_a_registered_model(gql, team, project):
    model = link(log_version(project)).registered_model
    link(log_version(project, "other"), "Taken")
    portfolio_id = ids.encode("ArtifactPortfolio", model.pk)
    keys = {user: api_key(user) for user in (team.member, team.viewer, team.outsider)}

    def update(user, **fields) -> dict:
        variables = {"input": {"artifactPortfolioID": portfolio_id, **fields}}
        return gql(UPDATE_ARTIFACT_PORTFOLIO_GQL, variables, key=keys[user])

    before = snapshot()
    assert "already exists" in update(team.member, name="Taken", description="x")["errors"][0]["message"]
    assert update(team.viewer, name="Other", description="x")["errors"][0]["extensions"]["code"] == ("PERMISSION_ERROR")
    assert update(team.outsider, name="Other")["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    model.refresh_from_db()
    # Made by linking, it has no description at all (null, as W&B tells it apart from an empty one).
    assert (model.name, model.description) == ("MNIST-dev", None)
    assert snapshot() == before
    body = update(team.member, name="MNIST-prod", description="The card.")
    assert body["data"]["result"]["artifactCollection"]["description"] == "The card."
    model.refresh_from_db()
    assert (model.name, model.description) == ("MNIST-prod", "The card.")
    # The SDK sends the description on every save: null leaves it, an empty one clears it.
    assert update(team.member, description=None)["data"]["result"]["artifactCollection"]["description"] == "The card."
    assert update(team.member, description="")["data"]["result"]["artifactCollection"]["description"] == ""


DELETE_SEQUENCE = (
    "mutation($id: ID!) { result: deleteArtifactSequence(input: {artifactSequenceID: $id})"
    " { artifactCollection { __typename state } } }"
)
DELETE_PORTFOLIO = (
    "mutation($id: ID!) { result: deleteArtifactPortfolio(input: {artifactPortfolioID: $id})"
    " { artifactCollection { __typename state } } }"
)
COLLECTION = "query($id: ID!) { artifactCollection(id: $id) { __typename name aliases { edges { node { alias } } } } }"


def test_collections_by_id_and_their_deletion(gql, team, project):
    version = log_version(project, aliases=["best"])
    model = link(version, aliases=["candidate"]).registered_model
    sequence_id = ids.encode("ArtifactSequence", version.artifact_id)
    portfolio_id = ids.encode("ArtifactPortfolio", model.pk)
    keys = {user: api_key(user) for user in (team.admin, team.member, team.viewer, team.outsider)}

    def aliases(body) -> list[str]:
        return [edge["node"]["alias"] for edge in body["data"]["artifactCollection"]["aliases"]["edges"]]

    assert aliases(gql(COLLECTION, {"id": sequence_id}, key=keys[team.viewer])) == ["best", "latest"]
    assert aliases(gql(COLLECTION, {"id": portfolio_id}, key=keys[team.viewer])) == ["candidate", "latest"]
    for collection_id in (sequence_id, portfolio_id, "bm90LWFuLWlk"):
        assert gql(COLLECTION, {"id": collection_id}, key=keys[team.outsider])["data"]["artifactCollection"] is None
    before = snapshot()
    # Linked versions keep their artifact; viewers and outsiders delete nothing; members don't delete models.
    assert "is linked" in gql(DELETE_SEQUENCE, {"id": sequence_id}, key=keys[team.admin])["errors"][0]["message"]
    assert gql(DELETE_SEQUENCE, {"id": sequence_id}, key=keys[team.viewer])["errors"][0]["extensions"]["code"] == (
        "PERMISSION_ERROR"
    )
    assert gql(DELETE_PORTFOLIO, {"id": portfolio_id}, key=keys[team.outsider])["errors"][0]["extensions"]["code"] == (
        "NOT_FOUND"
    )
    assert gql(DELETE_PORTFOLIO, {"id": portfolio_id}, key=keys[team.member])["errors"][0]["extensions"]["code"] == (
        "PERMISSION_ERROR"
    )
    assert snapshot() == before
    body = gql(DELETE_PORTFOLIO, {"id": portfolio_id}, key=keys[team.admin])
    assert body["data"]["result"]["artifactCollection"] == {"__typename": "ArtifactPortfolio", "state": "DELETED"}
    body = gql(DELETE_SEQUENCE, {"id": sequence_id}, key=keys[team.member])
    assert body["data"]["result"]["artifactCollection"] == {"__typename": "ArtifactSequence", "state": "DELETED"}
    assert not ArtifactVersion.objects.filter(pk=version.pk).exists()
    assert not Artifact.objects.filter(pk=version.artifact_id).exists()


def test_deleting_latest_is_accepted_and_latest_stays(gql, team, project):
    version = log_version(project, aliases=["best"])
    body = gql(DELETE_ALIASES_GQL, _aliases(version, "latest", "best"), key=api_key(team.member))
    assert "errors" not in body
    assert _names(version) == {"latest"}


def _collection_tags(project: str, collection: str, *tags: str) -> dict:
    return {
        "input": {
            "entityName": "reviewco",
            "projectName": project,
            "artifactCollectionName": collection,
            "tags": [{"tagName": tag} for tag in tags],
        }
    }


def test_collection_tags_are_added_and_removed_on_an_artifact_by_members_only(gql, team, project):
    version = log_version(project, "cnn")
    keys = {user: api_key(user) for user in (team.viewer, team.member, team.outsider)}
    body = gql(
        ADD_ARTIFACT_COLLECTION_TAGS_GQL,
        _collection_tags("mnist", "cnn", "baseline", "small net"),
        key=keys[team.member],
    )
    assert [tag["name"] for tag in body["data"]["result"]["tags"]] == ["baseline", "small net"]
    gql(ADD_ARTIFACT_COLLECTION_TAGS_GQL, _collection_tags("mnist", "cnn", "baseline", "v2"), key=keys[team.member])
    assert Artifact.objects.get(pk=version.artifact_id).tags == ["baseline", "small net", "v2"]
    body = gql(
        DELETE_ARTIFACT_COLLECTION_TAGS_GQL,
        _collection_tags("mnist", "cnn", "small net", "absent"),
        key=keys[team.member],
    )
    assert body == {"data": {"result": {"success": True}}}
    assert Artifact.objects.get(pk=version.artifact_id).tags == ["baseline", "v2"]


def test_collection_tags_refuse_viewers_outsiders_and_bad_tags_and_write_nothing(gql, team, project):
    version = log_version(project, "cnn")
    services.artifact_tags_change(artifact=version.artifact, user=team.member, add=["baseline"])
    keys = {user: api_key(user) for user in (team.viewer, team.member, team.outsider)}
    add = _collection_tags("mnist", "cnn", "new")
    assert gql(ADD_ARTIFACT_COLLECTION_TAGS_GQL, add, key=keys[team.viewer])["errors"][0]["extensions"]["code"] == (
        "PERMISSION_ERROR"
    )
    remove = _collection_tags("mnist", "cnn", "baseline")
    assert (
        gql(DELETE_ARTIFACT_COLLECTION_TAGS_GQL, remove, key=keys[team.outsider])["errors"][0]["extensions"]["code"]
        == "NOT_FOUND"
    )
    bad = _collection_tags("mnist", "cnn", "fine", "not/a tag")
    assert (
        "Invalid tag 'not/a tag'"
        in gql(ADD_ARTIFACT_COLLECTION_TAGS_GQL, bad, key=keys[team.member])["errors"][0]["message"]
    )
    missing = _collection_tags("mnist", "absent", "new")
    assert gql(ADD_ARTIFACT_COLLECTION_TAGS_GQL, missing, key=keys[team.member])["errors"][0]["extensions"]["code"] == (
        "NOT_FOUND"
    )
    assert Artifact.objects.get(pk=version.artifact_id).tags == ["baseline"]


def test_collection_tags_of_a_registered_model_go_through_the_registry_services(gql, team, project):
    link(log_version(project))
    variables = _collection_tags("model-registry", "MNIST-dev", "reviewed")
    body = gql(ADD_ARTIFACT_COLLECTION_TAGS_GQL, variables, key=api_key(team.viewer))
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_ERROR"
    assert RegisteredModel.objects.get(name="MNIST-dev").tags == []
    gql(ADD_ARTIFACT_COLLECTION_TAGS_GQL, variables, key=api_key(team.member))
    assert RegisteredModel.objects.get(name="MNIST-dev").tags == ["reviewed"]
    gql(DELETE_ARTIFACT_COLLECTION_TAGS_GQL, variables, key=api_key(team.member))
    assert RegisteredModel.objects.get(name="MNIST-dev").tags == []


def test_an_incremental_manifest_needs_a_committed_base_and_a_patch_a_distributed_version(gql, team, project):
    other = log_version(project, "other")
    base = log_version(project, "data", files={"a.txt": b"a"})
    digest = "0" * 32
    pending = services.version_create(run=make_run(project), user=team.member, name="data", type="model", digest=digest)
    pending = pending.version
    key = api_key(team.member)

    def manifest(type: str, base_version) -> dict:
        variables = {
            "artifactID": ids.encode("Artifact", pending.pk),
            "baseArtifactID": ids.encode("Artifact", base_version.pk),
            "name": "wandb_manifest.json",
            "digest": "0" * 32,
            "entityName": "reviewco",
            "projectName": "mnist",
            "runName": "r",
            "manifestType": type,
            "includeUpload": False,
        }
        return gql(documents.CREATE_ARTIFACT_MANIFEST, variables, key=key)

    assert "adds to a committed version of the same artifact" in manifest("INCREMENTAL", other)["errors"][0]["message"]
    assert "part of a distributed artifact" in manifest("PATCH", base)["errors"][0]["message"]
    assert ArtifactVersion.objects.get(pk=pending.pk).base is None
    assert "errors" not in manifest("INCREMENTAL", base)
    assert ArtifactVersion.objects.get(pk=pending.pk).base == base
