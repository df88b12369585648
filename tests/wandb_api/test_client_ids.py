"""The SDK's own ids for the versions it logs (`clientID`): createArtifact keeps them and `clientIDMapping` answers
which version one names, as the SDK asks when another artifact refers to a version before its id is known
(`wandb-client-artifact://<client id>/<path>`). The server advertises this through `serverInfo.cliVersionInfo`."""

import base64
import io
import json

import pytest
import wandb

from artifacts import services, storage
from artifacts.models import ArtifactReference, ArtifactVersion, VersionClientId
from artifacts.storage import manifest_digest
from tests.factories import log_version, make_run, snapshot
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, b64md5
from wandb_api import ids

CLIENT_ID_MAPPING = """
query ClientIDMapping($clientID: ID!) {
    clientIDMapping(clientID: $clientID) {
        serverID
    }
}
"""
# wandb 0.28's Viewer query (sdk/internal/internal_api.py viewer_server_info).
VIEWER_SERVER_INFO = """
query Viewer { viewer { id entity username email flags teams { edges { node { name } } } }
    serverInfo { cliVersionInfo latestLocalVersionInfo { outOfDate latestVersionString versionOnThisInstanceString } } }
"""
CLIENT_ID = "k3" * 64


def _create(gql, key, run, content, *, client_id, name="mnist_model"):
    variables = {
        "input": {
            "entityName": "reviewco",
            "projectName": run.project.name,
            "runName": run.run_id,
            "artifactCollectionName": name,
            "artifactTypeName": "model",
            "digest": manifest_digest({"model.pt": b64md5(content)}),
            "clientID": client_id,
            "sequenceClientID": "s" * 128,
        }
    }
    return gql(documents.CREATE_ARTIFACT, variables, key=key)


def _created(body) -> ArtifactVersion:
    return ArtifactVersion.objects.get(pk=ids.decode_int(body["data"]["createArtifact"]["artifact"]["id"], "Artifact"))


def _commit(version: ArtifactVersion, content: bytes, user) -> ArtifactVersion:
    blob = storage.blob_store(io.BytesIO(content))
    services.version_file_add(version=version, path="model.pt", blob=blob, user=user)
    return services.version_commit(version=version, user=user)


def _mapped(gql, key, client_id=CLIENT_ID):
    mapping = gql(CLIENT_ID_MAPPING, {"clientID": client_id}, key=key)["data"]["clientIDMapping"]
    return mapping and ids.decode_int(mapping["serverID"], "Artifact")


@pytest.mark.django_db
def test_server_info_names_the_sdk_release_it_is_tested_against(gql, team):
    # The SDK reads `cliVersionInfo.get("max_cli_version")`: wandb 0.28 fails on null, then on every later call.
    info = gql(VIEWER_SERVER_INFO, key=api_key(team.member))["data"]["serverInfo"]
    assert info["cliVersionInfo"] == {"max_cli_version": wandb.__version__}


@pytest.mark.django_db
def test_a_client_id_names_the_version_created_with_it_for_those_who_may_see_it(gql, team, project):
    member = api_key(team.member)
    version = _created(_create(gql, member, make_run(project), b"weights", client_id=CLIENT_ID))
    assert _mapped(gql, member) == version.pk
    # While pending it is seen only by those who may upload it, as by its id.
    assert _mapped(gql, api_key(team.viewer)) is None
    _commit(version, b"weights", team.member)
    assert _mapped(gql, api_key(team.viewer)) == version.pk
    assert _mapped(gql, api_key(team.outsider)) is None
    assert _mapped(gql, member, "no-such-client-id") is None


@pytest.mark.django_db
def test_a_client_id_for_content_already_committed_names_that_version(gql, team, project):
    existing = log_version(project, "mnist_model", content=b"weights")
    body = _create(gql, api_key(team.member), make_run(project), b"weights", client_id=CLIENT_ID)
    assert _created(body) == existing
    assert _mapped(gql, api_key(team.viewer)) == existing.pk


@pytest.mark.django_db
def test_a_client_id_whose_version_lost_the_race_to_commit_names_the_winner(gql, team, project):
    key = api_key(team.member)
    loser = _created(_create(gql, key, make_run(project), b"weights", client_id=CLIENT_ID))
    winner = _created(_create(gql, key, make_run(project), b"weights", client_id="w" * 128))
    assert _commit(winner, b"weights", team.member) == winner
    assert _commit(loser, b"weights", team.member) == winner
    assert _mapped(gql, key) == _mapped(gql, key, "w" * 128) == winner.pk
    assert set(winner.client_ids.values_list("client_id", flat=True)) == {CLIENT_ID, "w" * 128}


@pytest.mark.django_db
def test_the_same_client_id_again_for_the_same_artifact_names_the_newer_version(gql, team, project):
    # The SDK retries a createArtifact whose answer it lost.
    key = api_key(team.member)
    run = make_run(project)
    _create(gql, key, run, b"weights", client_id=CLIENT_ID)
    retried = _created(_create(gql, key, run, b"weights", client_id=CLIENT_ID))
    assert _mapped(gql, key) == retried.pk
    assert VersionClientId.objects.count() == 1


@pytest.mark.django_db
def test_a_bad_client_id_or_one_naming_another_artifact_is_refused_and_nothing_is_written(gql, team, project):
    key = api_key(team.member)
    run = make_run(project)
    _create(gql, key, run, b"weights", client_id=CLIENT_ID)
    before = snapshot()
    for client_id, message in (
        ("x" * 129, "Invalid client id"),
        ("../secret", "Invalid client id"),
        ("id with spaces", "Invalid client id"),
        (CLIENT_ID, "already names a version of another artifact"),
    ):
        body = _create(gql, key, run, b"other weights", client_id=client_id, name="other_model")
        assert message in body["errors"][0]["message"], body
        assert snapshot() == before
    # wandb-core sends an empty id for an artifact that has none: logged without one.
    body = _create(gql, key, run, b"other weights", client_id="", name="other_model")
    assert _created(body).client_ids.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_sdk_refers_to_a_table_of_an_artifact_it_logged_before_knowing_its_id(run_sdk, team, project):
    process = run_sdk(
        """
        import json, wandb
        run = wandb.init(entity="reviewco", project="mnist")
        table = wandb.Table(columns=["a", "b"], data=[[1, "x"], [2, "y"]])
        first = wandb.Artifact("first", type="dataset")
        first.add(table, "table")
        run.log_artifact(first)
        # The table now belongs to `first`, which is still being uploaded: `second` refers to it by client id.
        second = wandb.Artifact("second", type="dataset")
        second.add(table, "table")
        run.log_artifact(second)
        run.finish()
        logged = wandb.Api().artifact("reviewco/mnist/second:v0")
        refs = {path: entry.ref for path, entry in logged.manifest.entries.items()}
        print(json.dumps({"refs": refs, "rows": logged.get("table").data}))
        """,
        key=api_key(team.member),
    )
    assert process.returncode == 0, process.stdout + process.stderr
    out = json.loads(process.stdout.strip().splitlines()[-1])
    first = ArtifactVersion.committed.get(artifact__name="first")
    # The SDK writes the reference with the version's id as hex.
    first_hex = base64.b64decode(ids.encode("Artifact", first.pk)).hex()
    reference = ArtifactReference.objects.get(version__artifact__name="second")
    assert reference.ref == f"wandb-artifact://{first_hex}/table.table.json"
    assert out == {"refs": {"table.table.json": reference.ref}, "rows": [[1, "x"], [2, "y"]]}
    assert first.client_ids.count() == 1
