"""JSON enters with bounded depth everywhere, and no stored value can make a page answer 5xx."""

import json

import pytest
from django.urls import reverse

from artifacts.models import ArtifactVersion, Run
from tests.factories import log_version, make_run, make_user, snapshot
from tests.hardening.helpers import nested, nested_text, post_json, stored_files
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, b64md5
from wandb_api import ids

DEEP = [100, 5000]  # refused by the depth check; deep enough to make the parser itself recurse out


@pytest.mark.parametrize("depth", DEEP)
def test_deeply_nested_graphql_variables_are_a_400(client, team, depth):
    key = api_key(team.member)
    before = snapshot()
    body = '{"query": "query { viewer { id } }", "variables": {"x": ' + nested_text(depth) + "}}"
    response = post_json(client, "/graphql", body, key)
    assert response.status_code == 400
    assert "nested more than 64 levels deep" in response.json()["errors"][0]["message"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "start, opening",
    [("query ", "{ viewer "), ("query ($x: [Int] = ", "["), ("query { viewer(x: ", "{a: ")],
    ids=["selections", "lists", "objects"],
)
def test_a_deeply_nested_graphql_document_is_a_graphql_error(client, team, start, opening):
    query = start + opening * 3000
    response = post_json(client, "/graphql", {"query": query}, api_key(team.member))
    assert response.status_code == 200
    assert response.json() == {"errors": [{"message": "The document nests more than 64 levels deep."}]}


def test_a_graphql_document_with_too_many_tokens_is_refused(client, team):
    query = "query { viewer { id } } " + "# x\n" + " ".join(["id"] * 60_000)
    body = post_json(client, "/graphql", {"query": query}, api_key(team.member)).json()
    assert body["errors"][0]["message"] == "The document has more than 50000 tokens."


@pytest.mark.parametrize("depth", DEEP)
def test_deep_metadata_passed_as_a_json_string_is_refused_and_writes_nothing(gql, team, project, depth):
    run = make_run(project)
    key = api_key(team.member)
    before = snapshot()
    variables = {
        "input": {
            "entityName": "reviewco",
            "projectName": "mnist",
            "runName": run.run_id,
            "artifactCollectionName": "deep",
            "artifactTypeName": "model",
            "digest": "0" * 32,
            "metadata": nested_text(depth),
        }
    }
    body = gql(documents.CREATE_ARTIFACT, variables, key=key)
    assert body["errors"][0]["message"] == "The metadata is nested more than 64 levels deep."
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert snapshot() == before


def test_deep_run_config_is_refused_and_writes_nothing(gql, team, project):
    key = api_key(team.member)
    before = snapshot()
    variables = {"entity": "reviewco", "project": "mnist", "name": "deep", "config": nested_text(80)}
    body = gql(documents.UPSERT_BUCKET, variables, key=key)
    assert body["errors"][0]["message"] == "The config is nested more than 64 levels deep."
    assert snapshot() == before


@pytest.mark.parametrize("depth", DEEP)
def test_a_deep_file_stream_body_is_a_400_and_writes_nothing(client, team, project, depth):
    run = make_run(project, "streamer")
    key = api_key(team.member)
    body = '{"files": {"output.log": {"offset": 0, "content": ["hi"]}}, "x": ' + nested_text(depth) + "}"
    response = post_json(client, "/files/reviewco/mnist/streamer/file_stream", body, key)
    assert response.status_code == 400
    assert "nested more than 64 levels deep" in response.json()["errors"][0]["message"]
    run.refresh_from_db()
    assert run.output_log == ""


def test_a_deep_summary_line_in_the_stream_is_a_400(client, team, project):
    run = make_run(project, "streamer")
    files = {
        "wandb-summary.json": {"offset": 0, "content": [json.dumps({"a": nested(70)})]},
        "output.log": {"offset": 0, "content": ["hi"]},
    }
    response = post_json(client, "/files/reviewco/mnist/streamer/file_stream", {"files": files}, api_key(team.member))
    assert response.status_code == 400
    assert "The summary is nested more than 64 levels deep." in response.json()["errors"][0]["message"]
    run.refresh_from_db()
    assert (run.summary, run.output_log) == ({}, "")


@pytest.mark.parametrize("depth", DEEP)
def test_a_deep_manifest_upload_is_a_400_and_writes_nothing(client, gql, team, project, depth):
    key = api_key(team.member)
    version = _pending(project, team)
    url = _manifest_url(gql, key, version)
    before, files_before = snapshot(), stored_files()
    body = '{"version": 1, "contents": {"a.txt": ' + nested_text(depth) + "}}"
    response = client.put(url, data=body, content_type="application/octet-stream")
    assert response.status_code == 400
    assert b"nested more than 64 levels deep" in response.content
    assert (snapshot(), stored_files()) == (before, files_before)


def _pending(project, team) -> ArtifactVersion:
    from artifacts import services

    run = make_run(project)
    return services.version_create(
        run=run, user=team.member, name="pending_model", type="model", digest="0" * 32
    ).version


def _manifest_url(gql, key, version) -> str:
    from tests.wandb_api.documents import CREATE_ARTIFACT_MANIFEST

    variables = {
        "artifactID": ids.encode("Artifact", version.pk),
        "baseArtifactID": None,
        "name": "manifest",
        "digest": version.digest,
        "entityName": "reviewco",
        "projectName": "mnist",
        "runName": version.created_by_run.run_id,
        "manifestType": "FULL",
        "includeUpload": True,
    }
    body = gql(CREATE_ARTIFACT_MANIFEST, variables, key=key)
    return body["data"]["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]


def test_metadata_at_the_limit_is_kept_and_shown_with_deep_levels_as_json(client, team, project):
    version = log_version(project, "deep_model", metadata={"tree": nested(60, leaf="bottom")})
    client.force_login(team.member)
    r = client.get(f"/reviewco/mnist/artifacts/model/deep_model/v{version.index}/metadata")
    assert r.status_code == 200
    html = r.content.decode()
    assert html.count("<details>") == 5
    assert "bottom" in html


def test_a_stored_value_deeper_than_any_limit_cannot_break_the_pages(client, team, project):
    """Values stored before the limits existed (or written past the services) still render."""
    version = log_version(project, "legacy_model", metadata={"ok": 1})
    run = version.created_by_run
    ArtifactVersion.objects.filter(pk=version.pk).update(metadata={"tree": nested(400)})
    Run.objects.filter(pk=run.pk).update(config={"tree": nested(400)}, summary={"tree": nested(400)})
    client.force_login(team.member)
    assert client.get(f"/reviewco/mnist/artifacts/model/legacy_model/v{version.index}/metadata").status_code == 200
    assert client.get(f"/reviewco/mnist/runs/{run.run_id}").status_code == 200
    client.force_login(make_user("root", superuser=True))
    assert client.get(reverse("admin:artifacts_artifactversion_change", args=[version.pk])).status_code == 200
    assert client.get(reverse("admin:artifacts_run_change", args=[run.pk])).status_code == 200


def test_a_deep_manifest_entry_for_a_stored_blob_is_still_checked(client, gql, team, project):
    """The check is on the whole body, before any entry is looked at."""
    log_version(project, "mnist_model", content=b"weights")
    key = api_key(team.member)
    version = _pending(project, team)
    url = _manifest_url(gql, key, version)
    entry = {"digest": b64md5(b"weights"), "size": 7, "extra": nested(70)}
    response = client.put(url, data=json.dumps({"contents": {"model.pt": entry}}), content_type="text/plain")
    assert response.status_code == 400
    assert not version.files.exists()
