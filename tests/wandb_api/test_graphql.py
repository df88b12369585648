import json
import logging

import pytest
from graphql import parse, validate
from wandb.sdk.artifacts._generated import (
    ARTIFACT_BY_ID_GQL,
    ARTIFACT_MEMBERSHIP_BY_NAME_GQL,
    ARTIFACT_TYPE_GQL,
    FETCH_ARTIFACT_MANIFEST_GQL,
    GET_ARTIFACT_MEMBERSHIP_FILE_URLS_GQL,
    LINK_ARTIFACT_GQL,
)
from wandb.sdk.internal._generated import SERVER_FEATURES_QUERY_GQL

from artifacts import services
from artifacts.models import ArtifactVersion, Run
from artifacts.storage import manifest_digest
from registry.models import Link, LinkAlias
from tests.factories import link, log_version, make_project, make_run, snapshot
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, b64md5, basic_auth
from wandb_api import ids, lookups, schema
from wandb_api.schema import SCHEMA

MEMBERSHIP_BY_NAME = ARTIFACT_MEMBERSHIP_BY_NAME_GQL


def artifact_id(version: ArtifactVersion) -> str:
    return ids.encode("Artifact", version.pk)


@pytest.mark.parametrize(
    "document",
    [
        *(v for k, v in vars(documents).items() if k.isupper()),
        ARTIFACT_BY_ID_GQL,
        ARTIFACT_MEMBERSHIP_BY_NAME_GQL,
        ARTIFACT_TYPE_GQL,
        FETCH_ARTIFACT_MANIFEST_GQL,
        GET_ARTIFACT_MEMBERSHIP_FILE_URLS_GQL,
        LINK_ARTIFACT_GQL,
        SERVER_FEATURES_QUERY_GQL,
    ],
)
def test_every_document_the_sdk_sends_validates_against_the_schema(document):
    assert validate(SCHEMA, parse(document)) == []


def test_every_root_field_has_a_resolver():
    for root in (SCHEMA.query_type, SCHEMA.mutation_type):
        assert [name for name, field in root.fields.items() if field.resolve is None] == []


def test_a_wrong_missing_or_revoked_key_answers_401_at_once(client, team):
    key, secret = services.api_key_create(user=team.member, name="laptop")
    services.api_key_revoke(key=key, user=team.member)
    body = json.dumps({"query": "{ viewer { username } }"})
    for headers in ({}, {"Authorization": basic_auth("0" * 40)}, {"Authorization": basic_auth(secret)}):
        response = client.post("/graphql", data=body, content_type="application/json", headers=headers)
        assert response.status_code == 401
        assert "API key" in response.json()["errors"][0]["message"]
    assert (
        client.post("/files/reviewco/mnist/abc/file_stream", data="{}", content_type="application/json").status_code
        == 401
    )


def test_viewer_names_the_user_and_their_entity(gql, team):
    data = gql(documents.VIEWER, key=api_key(team.member))["data"]["viewer"]
    assert data["username"] == "bob"
    assert data["entity"] == "reviewco"
    assert data["teams"]["edges"] == [{"node": {"name": "reviewco"}}]


# wandb 0.21's `wandb.Api().viewer` (wandb/apis/public/api.py, VIEWER_QUERY), byte for byte.
VIEWER_0_21 = """
        query Viewer{
            viewer {
                id
                flags
                entity
                username
                email
                admin
                apiKeys {
                    edges {
                        node {
                            id
                            name
                            description
                        }
                    }
                }
                teams {
                    edges {
                        node {
                            name
                        }
                    }
                }
            }
        }
        """


def test_api_keys_are_the_viewers_active_ones_named_by_their_prefix_never_their_secrets(gql, team):
    laptop, secret = services.api_key_create(user=team.member, name="laptop")
    old, old_secret = services.api_key_create(user=team.member, name="old")
    services.api_key_revoke(key=old, user=team.member)
    services.api_key_create(user=team.viewer, name="someone else's")
    response = gql(VIEWER_0_21, key=secret)
    assert response["data"]["viewer"]["apiKeys"] == {
        "edges": [{"node": {"id": ids.encode("ApiKey", laptop.pk), "name": secret[:8], "description": "laptop"}}]
    }
    # W&B's `viewer.api_keys` lists key ids, each a start of its key.
    assert secret.startswith(response["data"]["viewer"]["apiKeys"]["edges"][0]["node"]["name"])
    assert secret not in json.dumps(response) and old_secret not in json.dumps(response)


def test_the_server_advertises_the_membership_in_link_responses(gql, team):
    features = gql(SERVER_FEATURES_QUERY_GQL, key=api_key(team.member))["data"]["serverInfo"]["features"]
    assert {"name": "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE", "isEnabled": True} in features


def test_the_viewer_query_of_older_sdks_learns_this_server_is_not_out_of_date(gql, team):
    # wandb 0.28's Viewer query (sdk/internal/internal_api.py): without the field it treats the server as stale.
    query = """
    query Viewer { viewer { id entity } serverInfo { cliVersionInfo
        latestLocalVersionInfo { outOfDate latestVersionString versionOnThisInstanceString } } }
    """
    info = gql(query, key=api_key(team.member))["data"]["serverInfo"]["latestLocalVersionInfo"]
    assert info["outOfDate"] is False
    assert info["latestVersionString"] == info["versionOnThisInstanceString"]


def test_aliases_fragments_directives_and_typename_work_for_any_selection(gql, team, project):
    link(log_version(project, "mnist_model"), "MNIST-dev", aliases=["staging"])
    query = """
    query ($entity: String!, $withAliases: Boolean!) {
      registry: project(name: "model-registry", entityName: $entity) {
        __typename
        first: artifactCollectionMembership(name: "MNIST-dev:v0") { ...Member }
        byAlias: artifactCollectionMembership(name: "MNIST-dev:staging") { versionIndex }
      }
    }
    fragment Member on ArtifactCollectionMembership {
      __typename
      index: versionIndex
      aliases @include(if: $withAliases) { alias }
      artifactCollection { __typename name ... on ArtifactPortfolio { kind: __typename } }
      artifact { __typename artifactSequence { name project { name } } }
    }
    """
    data = gql(query, {"entity": "reviewco", "withAliases": False}, key=api_key(team.member))["data"]
    assert data == {
        "registry": {
            "__typename": "Project",
            "first": {
                "__typename": "ArtifactCollectionMembership",
                "index": 0,
                "artifactCollection": {
                    "__typename": "ArtifactPortfolio",
                    "name": "MNIST-dev",
                    "kind": "ArtifactPortfolio",
                },
                "artifact": {
                    "__typename": "Artifact",
                    "artifactSequence": {"name": "mnist_model", "project": {"name": "mnist"}},
                },
            },
            "byAlias": {"versionIndex": 0},
        }
    }


def test_unknown_fields_and_bad_documents_are_graphql_errors_never_server_errors(client, gql, team):
    key = api_key(team.member)
    for query in ("{ viewer { nope } }", "{ viewer {", "mutation { deleteEverything }", "subscription { x }"):
        body = gql(query, key=key)
        assert body["errors"] and "data" not in body
    for raw in ("not json", json.dumps(["batched"]), json.dumps({"query": "{ viewer { id } }", "variables": 3})):
        response = client.post(
            "/graphql", data=raw, content_type="application/json", headers={"Authorization": basic_auth(key)}
        )
        assert response.status_code == 400
        assert response.json()["errors"]


def test_each_unknown_name_a_newer_sdk_sends_is_logged_once(gql, team, project, caplog, monkeypatch):
    monkeypatch.setattr(schema, "_logged_unknown", set())
    key = api_key(team.member)
    commit = "mutation($input: CommitArtifactInput!) { commitArtifact(input: $input) { clientMutationId } }"
    sent = [
        ("{ viewer { id fromTheFuture } }", None),
        ("mutation { futureMutation(input: {a: 1}) { ok } }", None),
        ('{ project(name: "mnist", futureArg: 1) { id } }', None),
        ("query($x: FutureInput) { viewer { id } }", None),
        (commit, {"input": {"artifactID": "QXJ0aWZhY3Q6MQ==", "futureFlag": True}}),
        # Again, the same documents, and others asking for the same names.
        ("{ viewer { id fromTheFuture } }", None),
        ("{ viewer { fromTheFuture } }", None),
        (commit, {"input": {"artifactID": "QXJ0aWZhY3Q6MQ==", "futureFlag": False}}),
        (commit.replace("clientMutationId", "clientMutationId "), {"input": {"artifactID": "x", "futureFlag": 1}}),
    ]
    with caplog.at_level(logging.WARNING, logger="wandb_api.schema"):
        for query, variables in sent:
            body = gql(query, variables, key=key)
            assert body["errors"] and body.get("data") is None
    logged = [r.getMessage() for r in caplog.records if r.name == "wandb_api.schema"]
    assert [r.levelname for r in caplog.records if r.name == "wandb_api.schema"] == ["WARNING"] * 5
    assert [m.split(" GraphQL ")[1].split(";")[0] for m in logged] == [
        "field User.fromTheFuture",
        "field Mutation.futureMutation",
        "argument futureArg of Query.project",
        "type FutureInput",
        "field CommitArtifactInput.futureFlag",
    ]


def test_unknown_names_stop_being_logged_past_the_cap(gql, team, caplog, monkeypatch):
    monkeypatch.setattr(schema, "_logged_unknown", set())
    monkeypatch.setattr(schema, "MAX_LOGGED_UNKNOWN", 2)
    key = api_key(team.member)
    with caplog.at_level(logging.WARNING, logger="wandb_api.schema"):
        for name in ("one", "two", "three"):
            assert gql(f"{{ viewer {{ {name} }} }}", key=key)["errors"]
    assert len([r for r in caplog.records if r.name == "wandb_api.schema"]) == 2
    assert schema._logged_unknown == {"field User.one", "field User.two"}


def test_memberships_resolve_versions_aliases_and_registered_models_by_name(gql, team, project):
    v0 = log_version(project, "mnist_model", content=b"zero")
    v1 = log_version(project, "mnist_model", content=b"one", aliases=["best"])
    link(v1, "MNIST-dev", aliases=["staging"])
    key = api_key(team.member)

    def member(project_name, name):
        variables = {"entity": "reviewco", "project": project_name, "name": name, "includeAliases": True}
        return gql(MEMBERSHIP_BY_NAME, variables, key=key)["data"]["project"]["artifactCollectionMembership"]

    assert member("mnist", "mnist_model:v0")["artifact"]["id"] == artifact_id(v0)
    assert member("mnist", "mnist_model:latest")["artifact"]["id"] == artifact_id(v1)
    best = member("mnist", "mnist_model:best")
    assert best["artifactCollection"]["__typename"] == "ArtifactSequence"
    assert {a["alias"] for a in best["aliases"]} == {"latest", "best"}
    linked = member("model-registry", "MNIST-dev:staging")
    assert linked["versionIndex"] == 0
    collection = linked["artifactCollection"]
    assert (collection["__typename"], collection["name"]) == ("ArtifactPortfolio", "MNIST-dev")
    assert (collection["project"]["name"], collection["project"]["entity"]) == ("model-registry", {"name": "reviewco"})
    assert {a["alias"] for a in linked["aliases"]} == {"latest", "staging"}
    assert linked["artifact"]["id"] == artifact_id(v1)
    portfolio_aliases = {
        a["alias"] for a in linked["artifact"]["aliases"] if a["artifactCollection"]["name"] == "MNIST-dev"
    }
    # The version's aliases in the registered model include its index there, as W&B lists them.
    assert portfolio_aliases == {"v0", "latest", "staging"}
    assert member("model-registry", "MNIST-dev:v7") is None
    assert member("mnist", "None:latest") is None


def test_a_pending_version_is_never_returned_by_name_or_alias(gql, team, project):
    run = make_run(project)
    pending = services.version_create(
        run=run, user=team.member, name="mnist_model", type="model", digest="0" * 32, aliases=["best"]
    ).version
    key = api_key(team.member)
    for name in ("mnist_model:latest", "mnist_model:best", "mnist_model:v0"):
        variables = {"entity": "reviewco", "project": "mnist", "name": name}
        assert gql(MEMBERSHIP_BY_NAME, variables, key=key)["data"]["project"]["artifactCollectionMembership"] is None
    by_id = gql(ARTIFACT_BY_ID_GQL, {"id": artifact_id(pending)}, key=key)["data"]["artifact"]
    assert by_id["state"] == "PENDING"
    assert gql(ARTIFACT_BY_ID_GQL, {"id": artifact_id(pending)}, key=api_key(team.viewer))["data"]["artifact"] is None


def test_an_outsider_cannot_reach_a_private_project(gql, team, project):
    version = log_version(project)
    key = api_key(team.outsider)
    variables = {"entity": "reviewco", "project": "mnist", "name": "mnist_model:v0"}
    assert gql(MEMBERSHIP_BY_NAME, variables, key=key)["data"] == {"project": None}
    missing = {"entity": "reviewco", "project": "no-such-project", "name": "mnist_model:v0"}
    assert gql(MEMBERSHIP_BY_NAME, missing, key=key)["data"] == {"project": None}
    registry = {"entity": "reviewco", "project": "model-registry", "name": "MNIST-dev:v0"}
    assert gql(MEMBERSHIP_BY_NAME, registry, key=key)["data"] == {"project": None}
    assert gql(ARTIFACT_BY_ID_GQL, {"id": artifact_id(version)}, key=key)["data"] == {"artifact": None}
    before = snapshot()
    # A private project answers exactly as one that does not exist.
    for entity, name in (("reviewco", "mnist"), ("reviewco", "no-such-project"), ("no-such-entity", "mnist")):
        body = gql(documents.UPSERT_BUCKET, {"entity": entity, "project": name, "name": "intruder"}, key=key)
        assert body["errors"][0]["message"] == "not found: No such project."
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert snapshot() == before


def test_upsert_bucket_creates_the_run_then_updates_its_config_and_summary_keeping_the_sdks_own_entries(
    gql, team, project
):
    key = api_key(team.member)
    config = {"lr": {"value": 0.1, "desc": None}, "_wandb": {"value": {"cli_version": "0.31.0"}}}
    variables = {"entity": "reviewco", "project": "mnist", "name": "abc123", "config": json.dumps(config)}
    created = gql(documents.UPSERT_BUCKET, variables, key=key)["data"]["upsertBucket"]
    assert created["inserted"] is True
    assert created["bucket"]["name"] == "abc123"
    assert created["bucket"]["project"]["entity"]["name"] == "reviewco"
    run = Run.objects.get(project=project, run_id="abc123")
    # W&B keeps the SDK's `_wandb` entry: `Api().run(...).update()` sends it back from `rawconfig`.
    assert run.config == {"lr": 0.1, "_wandb": {"cli_version": "0.31.0"}}
    assert run.created_by == team.member

    summary = json.dumps({"acc": 0.9, "_wandb": {"runtime": 3}})
    variables = {"id": created["bucket"]["id"], "summaryMetrics": summary, "displayName": "happy-run"}
    updated = gql(documents.UPSERT_BUCKET, variables, key=key)["data"]["upsertBucket"]
    assert updated["inserted"] is False
    run.refresh_from_db()
    assert (run.summary, run.display_name) == ({"acc": 0.9, "_wandb": {"runtime": 3}}, "happy-run")
    assert json.loads(updated["bucket"]["config"]) == {
        "lr": {"value": 0.1},
        "_wandb": {"value": {"cli_version": "0.31.0"}},
    }


def test_upsert_bucket_creates_a_missing_project_for_members_only(gql, team):
    variables = {"entity": "reviewco", "project": "fresh", "name": "run1"}
    body = gql(documents.UPSERT_BUCKET, variables, key=api_key(team.viewer))
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_ERROR"
    assert not Run.objects.exists()
    assert gql(documents.UPSERT_BUCKET, variables, key=api_key(team.member))["data"]["upsertBucket"]["inserted"]


def _create(gql, key, run, content, name="mnist_model", aliases=("latest",)):
    variables = {
        "input": {
            "entityName": "reviewco",
            "projectName": run.project.name,
            "runName": run.run_id,
            "artifactCollectionName": name,
            "artifactTypeName": "model",
            "digest": manifest_digest({"model.pt": b64md5(content)}),
            "digestAlgorithm": "MANIFEST_MD5",
            "aliases": [{"alias": a, "artifactCollectionName": name} for a in aliases],
            "enableDigestDeduplication": True,
        }
    }
    return gql(documents.CREATE_ARTIFACT, variables, key=key)


def _create_files(gql, key, version_id, content, name="model.pt"):
    spec = {"artifactID": version_id, "name": name, "md5": b64md5(content), "artifactManifestID": None}
    variables = {"input": {"storageLayout": "V2", "artifactFiles": [spec]}}
    return gql(documents.CREATE_ARTIFACT_FILES, variables, key=key)


def test_an_artifact_created_without_a_run_is_logged_into_the_project_by_no_run(gql, client, team, project):
    variables = {
        "input": {
            "entityName": "reviewco",
            "projectName": "mnist",
            "artifactCollectionName": "runless",
            "artifactTypeName": "dataset",
            "digest": manifest_digest({}),
        }
    }
    before = snapshot()
    body = gql(documents.CREATE_ARTIFACT, variables, key=api_key(team.viewer))
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_ERROR"
    unknown = {"input": {**variables["input"], "projectName": "no-such-project"}}
    assert (
        "No project reviewco/no-such-project"
        in gql(documents.CREATE_ARTIFACT, unknown, key=api_key(team.member))["errors"][0]["message"]
    )
    assert {k: v for k, v in snapshot().items() if k != "ApiKey"} == {k: v for k, v in before.items() if k != "ApiKey"}
    body = gql(documents.CREATE_ARTIFACT, variables, key=api_key(team.member))
    version = ArtifactVersion.objects.get(
        pk=ids.decode_int(body["data"]["createArtifact"]["artifact"]["id"], "Artifact")
    )
    assert (version.artifact.project, version.created_by_run, version.created_by) == (project, None, team.member)
    assert services.version_commit(version=version, user=team.member).index == 0
    client.force_login(team.viewer)
    for tab in ("", "/lineage", "/usage"):
        assert client.get(f"/reviewco/mnist/artifacts/dataset/runless/v0{tab}").status_code == 200


def test_create_artifact_takes_its_collection_from_a_list_of_one_name(gql, team, project):
    existing = log_version(project, "mnist_model", content=b"weights")
    run = make_run(project)
    variables = {
        "input": {
            "entityName": "reviewco",
            "projectName": "mnist",
            "runName": run.run_id,
            "artifactTypeName": "model",
            "digest": manifest_digest({"model.pt": b64md5(b"weights")}),
        }
    }
    before = snapshot()
    for names in ([], ["mnist_model", "other"]):
        bad = {"input": {**variables["input"], "artifactCollectionNames": names}}
        body = gql(documents.CREATE_ARTIFACT, bad, key=api_key(team.member))
        assert "Name exactly one collection" in body["errors"][0]["message"]
    assert {k: v for k, v in snapshot().items() if k != "ApiKey"} == {k: v for k, v in before.items() if k != "ApiKey"}
    good = {"input": {**variables["input"], "artifactCollectionNames": ["mnist_model"]}}
    body = gql(documents.CREATE_ARTIFACT, good, key=api_key(team.member))
    assert body["data"]["createArtifact"]["artifact"]["id"] == artifact_id(existing)


def test_create_artifact_keeps_a_history_step_and_refuses_a_negative_one(gql, team, project):
    run = make_run(project)
    variables = {
        "input": {
            "entityName": "reviewco",
            "projectName": "mnist",
            "runName": run.run_id,
            "artifactCollectionName": "stepped",
            "artifactTypeName": "dataset",
            "digest": manifest_digest({}),
        }
    }
    key = api_key(team.member)
    before = snapshot()
    body = gql(documents.CREATE_ARTIFACT, {"input": {**variables["input"], "historyStep": -1}}, key=key)
    assert "history step" in body["errors"][0]["message"]
    assert snapshot() == before
    body = gql(documents.CREATE_ARTIFACT, {"input": {**variables["input"], "historyStep": 3}}, key=key)
    pk = ids.decode_int(body["data"]["createArtifact"]["artifact"]["id"], "Artifact")
    assert ArtifactVersion.objects.get(pk=pk).history_step == 3


def test_create_artifact_with_a_known_digest_returns_the_committed_version_with_aliases_merged(gql, team, project):
    existing = log_version(project, "mnist_model", content=b"weights")
    key = api_key(team.member)
    run = make_run(project)
    body = _create(gql, key, run, b"weights", aliases=("latest", "candidate"))
    artifact = body["data"]["createArtifact"]["artifact"]
    assert artifact == {
        "id": artifact_id(existing),
        "state": "COMMITTED",
        "artifactSequence": artifact["artifactSequence"],
    }
    assert artifact["artifactSequence"]["latestArtifact"] == {"id": artifact_id(existing)}
    assert ArtifactVersion.objects.count() == 1
    assert set(existing.aliases.values_list("name", flat=True)) == {"latest", "candidate"}


def test_create_artifact_files_skips_the_upload_of_bytes_the_entity_already_stores(gql, team, project):
    log_version(project, "other_model", content=b"shared bytes")
    key = api_key(team.member)
    run = make_run(project)
    created = _create(gql, key, run, b"shared bytes")["data"]["createArtifact"]["artifact"]
    assert created["state"] == "PENDING"
    node = _create_files(gql, key, created["id"], b"shared bytes")["data"]["createArtifactFiles"]["files"]["edges"][0][
        "node"
    ]
    assert node["uploadUrl"] is None
    version = ArtifactVersion.objects.get(pk=ids.decode_int(created["id"], "Artifact"))
    assert list(version.files.values_list("path", flat=True)) == ["model.pt"]
    committed = gql(documents.COMMIT_ARTIFACT, {"artifactID": created["id"]}, key=key)["data"]["commitArtifact"][
        "artifact"
    ]
    assert committed["digest"] == version.digest
    version.refresh_from_db()
    assert version.is_committed and version.index == 0

    fresh = _create(gql, key, run, b"new bytes", name="fresh_model")["data"]["createArtifact"]["artifact"]
    node = _create_files(gql, key, fresh["id"], b"new bytes")["data"]["createArtifactFiles"]["files"]["edges"][0][
        "node"
    ]
    assert node["uploadUrl"].startswith("http://testserver/files/upload/")


def test_bytes_of_another_entity_are_never_reused(gql, team, project):
    other_project = make_project(team.outsider.entities.get(), "secret")
    log_version(other_project, "their_model", content=b"their bytes")
    key = api_key(team.member)
    created = _create(gql, key, make_run(project), b"their bytes")["data"]["createArtifact"]["artifact"]
    node = _create_files(gql, key, created["id"], b"their bytes")["data"]["createArtifactFiles"]["files"]["edges"][0][
        "node"
    ]
    assert node["uploadUrl"] is not None


def test_link_artifact_links_strips_latest_and_returns_the_membership(gql, team, project):
    version = log_version(project, "mnist_model")
    variables = {
        "input": {
            "artifactID": artifact_id(version),
            "artifactPortfolioName": "MNIST-dev",
            "entityName": "reviewco",
            "projectName": "model-registry",
            "aliases": [{"alias": a, "artifactCollectionName": "MNIST-dev"} for a in ("latest", "staging")],
        }
    }
    result = gql(LINK_ARTIFACT_GQL, variables, key=api_key(team.member))["data"]["result"]
    assert result["versionIndex"] == 0
    membership = result["artifactMembership"]
    assert membership["artifactCollection"]["__typename"] == "ArtifactPortfolio"
    assert membership["artifact"]["id"] == artifact_id(version)
    created = Link.objects.get()
    assert created.source == version and created.created_by == team.member
    assert set(LinkAlias.objects.values_list("name", flat=True)) == {"latest", "staging"}


def test_a_viewer_cannot_link_and_nothing_is_written(gql, team, project):
    version = log_version(project, "mnist_model")
    variables = {
        "input": {
            "artifactID": artifact_id(version),
            "artifactPortfolioName": "MNIST-dev",
            "entityName": "reviewco",
            "projectName": "model-registry",
        }
    }
    before = snapshot()
    body = gql(LINK_ARTIFACT_GQL, variables, key=api_key(team.viewer))
    after = snapshot()
    assert body["data"] == {"result": None}
    assert body["errors"][0]["message"].startswith("permission denied")
    assert {k: v for k, v in after.items() if k != "ApiKey"} == {k: v for k, v in before.items() if k != "ApiKey"}


def test_links_into_a_project_make_a_collection_there_but_never_over_an_artifact(gql, team, project):
    version = log_version(project, "mnist_model")
    key = api_key(team.member)

    def link_to(name: str) -> dict:
        variables = {
            "input": {
                "artifactID": artifact_id(version),
                "artifactPortfolioName": name,
                "entityName": "reviewco",
                "projectName": "mnist",
            }
        }
        return gql(LINK_ARTIFACT_GQL, variables, key=key)

    before = snapshot()
    body = link_to("mnist_model")
    assert "'mnist_model' is an artifact of project 'reviewco/mnist'" in body["errors"][0]["message"]
    assert snapshot() == before
    body = link_to("X")
    assert body["data"]["result"]["versionIndex"] == 0
    assert Link.objects.get().registered_model.project == project


def test_use_artifact_records_the_run_as_a_consumer(gql, team, project):
    version = log_version(project, "mnist_model")
    run = make_run(project, "consumer")
    variables = {
        "input": {
            "entityName": "reviewco",
            "projectName": "mnist",
            "runName": "consumer",
            "artifactID": artifact_id(version),
        }
    }
    assert gql(documents.USE_ARTIFACT, variables, key=api_key(team.member))["data"]["useArtifact"]["artifact"]["id"]
    assert list(run.usages.values_list("version", flat=True)) == [version.pk]


def test_file_urls_and_manifest_download_without_credentials(client, gql, team, project):
    version = log_version(project, "mnist_model", files={"model.pt": b"weights", "cfg/a.json": b"{}"})
    link(version, "MNIST-dev")
    key = api_key(team.member)
    variables = {
        "entity": "reviewco",
        "project": "model-registry",
        "collection": "MNIST-dev",
        "alias": "v0",
        "cursor": None,
        "perPage": 1,
    }
    files = gql(GET_ARTIFACT_MEMBERSHIP_FILE_URLS_GQL, variables, key=key)["data"]["project"]["artifactCollection"][
        "artifactMembership"
    ]["files"]
    assert [e["node"]["name"] for e in files["edges"]] == ["cfg/a.json"]
    assert files["pageInfo"] == {"__typename": "PageInfo", "endCursor": "cfg/a.json", "hasNextPage": True}
    rest = gql(GET_ARTIFACT_MEMBERSHIP_FILE_URLS_GQL, variables | {"cursor": "cfg/a.json"}, key=key)
    node = rest["data"]["project"]["artifactCollection"]["artifactMembership"]["files"]["edges"][0]["node"]
    assert node["name"] == "model.pt"
    assert b"".join(client.get(node["directUrl"]).streaming_content) == b"weights"

    manifest = gql(FETCH_ARTIFACT_MANIFEST_GQL, {"id": artifact_id(version)}, key=key)["data"]["artifact"][
        "currentManifest"
    ]
    contents = client.get(manifest["file"]["directUrl"]).json()["contents"]
    assert contents["model.pt"] == {"digest": b64md5(b"weights"), "size": 7, "birthArtifactID": artifact_id(version)}
    assert set(contents) == {"model.pt", "cfg/a.json"}


def test_run_files_and_file_stream_store_the_summary(client, gql, team, project):
    run = make_run(project, "streamer")
    key = api_key(team.member)
    variables = {
        "entity": "reviewco",
        "project": "mnist",
        "run": "streamer",
        "files": ["wandb-summary.json", "output.log"],
    }
    files = gql(documents.CREATE_RUN_FILES, variables, key=key)["data"]["createRunFiles"]["files"]
    urls = {f["name"]: f["uploadUrl"] for f in files}
    assert (
        client.put(
            urls["wandb-summary.json"], data=b'{"loss": 0.2}', content_type="application/octet-stream"
        ).status_code
        == 200
    )
    assert client.put(urls["output.log"], data=b"hello\n", content_type="application/octet-stream").status_code == 200
    run.refresh_from_db()
    assert run.summary == {"loss": 0.2}

    body = {"files": {"wandb-summary.json": {"offset": 0, "content": ['{"loss": 0.1, "_wandb": {"runtime": 2}}']}}}
    response = client.post(
        "/files/reviewco/mnist/streamer/file_stream",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": basic_auth(key)},
    )
    assert response.json() == {"exitcode": None, "limits": {}}
    run.refresh_from_db()
    assert run.summary == {"loss": 0.1, "_wandb": {"runtime": 2}}


def test_telemetry_is_accepted_and_dropped(client):
    response = client.post("/sdk/otel/v1/metrics", data=b"\x00\x01", content_type="application/x-protobuf")
    assert response.status_code == 200


def test_an_outsider_reads_a_public_project_but_cannot_log_to_it(gql, team):
    public = make_project(team.entity, "open-models", public=True)
    version = log_version(public, "open_model")
    key = api_key(team.outsider)
    variables = {"entity": "reviewco", "project": "open-models", "name": "open_model:latest"}
    membership = gql(MEMBERSHIP_BY_NAME, variables, key=key)["data"]["project"]["artifactCollectionMembership"]
    assert membership["artifact"]["id"] == artifact_id(version)
    body = gql(documents.UPSERT_BUCKET, {"entity": "reviewco", "project": "open-models", "name": "r1"}, key=key)
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_ERROR"
    assert not Run.objects.filter(run_id="r1").exists()


def test_an_unexpected_failure_is_a_graphql_error_not_a_server_error(gql, team, monkeypatch):
    def broken(user):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(lookups, "default_entity", broken)
    body = gql("{ viewer { username entity } }", key=api_key(team.member))
    assert body["data"] == {"viewer": {"username": "bob", "entity": None}}
    assert body["errors"][0]["message"] == "internal error"


def _stream(client, key, run_id, files):
    return client.post(
        f"/files/reviewco/mnist/{run_id}/file_stream",
        data=json.dumps({"files": files}),
        content_type="application/json",
        headers={"Authorization": basic_auth(key)},
    )


def test_one_bad_part_of_a_stream_is_dropped_not_the_whole_stream(client, team, project):
    run = make_run(project, "streamer")
    key = api_key(team.member)
    huge = json.dumps({"big": "x" * 1_200_000})
    response = _stream(
        client,
        key,
        "streamer",
        {"wandb-summary.json": {"offset": 0, "content": [huge]}, "output.log": {"offset": 0, "content": ["hi"]}},
    )
    assert response.status_code == 200
    run.refresh_from_db()
    assert (run.summary, run.output_log) == ({}, "hi")


def test_console_lines_keep_their_offsets_across_a_resume(client, gql, team, project):
    run = make_run(project, "resumed")
    key = api_key(team.member)
    _stream(client, key, "resumed", {"output.log": {"offset": 0, "content": ["one", "two"]}})
    query = 'query { model(name: "mnist", entityName: "reviewco") { bucket(name: "resumed") { logLineCount } } }'
    assert gql(query, key=key)["data"]["model"]["bucket"]["logLineCount"] == 2
    _stream(client, key, "resumed", {"output.log": {"offset": 2, "content": ["three"]}})
    # The final upload of a resumed session's file does not replace what was streamed.
    variables = {"entity": "reviewco", "project": "mnist", "run": "resumed", "files": ["output.log"]}
    url = gql(documents.CREATE_RUN_FILES, variables, key=key)["data"]["createRunFiles"]["files"][0]["uploadUrl"]
    client.put(url, data=b"three\n", content_type="application/octet-stream")
    run.refresh_from_db()
    assert run.output_log == "one\ntwo\nthree"


def test_file_stream_for_an_unknown_run_is_a_json_404(client, team, project):
    response = _stream(client, api_key(team.member), "nope", {})
    assert response.status_code == 404
    assert "errors" in response.json()


def test_documents_selecting_too_many_fields_are_refused(gql, team):
    query = "query { " + " ".join(f"a{i}: viewer {{ id }}" for i in range(600)) + " }"
    body = gql(query, key=api_key(team.member))
    assert "more than 1000 fields" in body["errors"][0]["message"]
    assert "data" not in body


def test_an_oversized_graphql_body_is_a_400(client, team):
    response = client.post(
        "/graphql",
        data=json.dumps({"query": "query { viewer { id } }", "variables": {"x": "y" * (9 * 1024 * 1024)}}),
        content_type="application/json",
        headers={"Authorization": basic_auth(api_key(team.member))},
    )
    assert response.status_code == 400


def test_a_user_without_an_entity_is_told_to_name_one(gql, db):
    from tests.factories import make_user

    loner = make_user("loner")
    query = 'mutation { upsertBucket(input: {modelName: "solo"}) { bucket { id } } }'
    body = gql(query, key=api_key(loner))
    assert "pass entity= to wandb.init" in body["errors"][0]["message"]
