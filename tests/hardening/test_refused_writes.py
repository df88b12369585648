"""A refused request writes nothing: the whole request is validated before any row, in one transaction."""

import gzip
import json

import pytest
from django.core.exceptions import ValidationError

from artifacts import services
from artifacts.models import ArtifactVersion
from tests.factories import log_version, make_run, snapshot
from tests.hardening.helpers import post_json, stored_files
from tests.hardening.test_nesting import _manifest_url, _pending
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, b64md5, basic_auth
from wandb_api import ids

STREAM = "/files/reviewco/mnist/streamer/file_stream"


@pytest.fixture
def stored(project):
    """Bytes the entity already stores, so manifests and file lists can name them without uploading."""
    log_version(project, "mnist_model", files={"a.bin": b"alpha", "b.bin": b"beta"})
    return {"a": b64md5(b"alpha"), "b": b64md5(b"beta")}


@pytest.mark.parametrize(
    "bad_entry",
    [
        {"../escape.bin": "a"},
        {"c.bin": "never uploaded"},
        {"ref.bin": "ref"},
        {"m.bin/inner": "a"},
        {"not-an-object": None},
    ],
    ids=["traversal", "missing-bytes", "bad-reference", "file-and-directory", "bad-entry"],
)
def test_a_manifest_with_one_bad_entry_among_good_ones_adds_no_file(client, gql, team, project, stored, bad_entry):
    key = api_key(team.member)
    version = _pending(project, team)
    url = _manifest_url(gql, key, version)
    contents = {"a.bin": {"digest": stored["a"], "size": 5}, "m.bin": {"digest": stored["b"], "size": 4}}
    for path, kind in bad_entry.items():
        if kind is None:
            contents[path] = "digest"
        elif kind == "ref":
            # References are kept (tests/wandb_api/test_references.py), but only to the schemes clients resolve.
            contents[path] = {"digest": stored["a"], "ref": "javascript:alert(1)//x"}
        elif kind == "never uploaded":
            contents[path] = {"digest": b64md5(b"nothing"), "size": 7}
        else:
            contents[path] = {"digest": stored[kind], "size": 5}
    contents["z.bin"] = {"digest": stored["b"], "size": 4}
    before, files_before = snapshot(), stored_files()
    response = client.put(url, data=json.dumps({"version": 1, "contents": contents}), content_type="text/plain")
    assert response.status_code == 400, response.content
    assert response.content
    assert (snapshot(), stored_files()) == (before, files_before)
    assert not version.files.exists()


def test_a_good_manifest_adds_its_stored_files_in_one_go(client, gql, team, project, stored):
    key = api_key(team.member)
    version = _pending(project, team)
    url = _manifest_url(gql, key, version)
    contents = {"a.bin": {"digest": stored["a"], "size": 5}, "dir/b.bin": {"digest": stored["b"], "size": 4}}
    response = client.put(url, data=json.dumps({"contents": contents}), content_type="text/plain")
    assert response.status_code == 200
    assert sorted(version.files.values_list("path", flat=True)) == ["a.bin", "dir/b.bin"]


def test_create_artifact_files_with_one_bad_path_adds_none(gql, team, project, stored):
    key = api_key(team.member)
    version = _pending(project, team)
    artifact_id = ids.encode("Artifact", version.pk)
    specs = [
        {"artifactID": artifact_id, "name": "a.bin", "md5": stored["a"]},
        {"artifactID": artifact_id, "name": "dir/../../b.bin", "md5": stored["b"]},
    ]
    before = snapshot()
    body = gql(documents.CREATE_ARTIFACT_FILES, {"input": {"artifactFiles": specs}}, key=key)
    assert "Invalid file path 'dir/../../b.bin'" in body["errors"][0]["message"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "files, reason",
    [
        ({"output.log": {"offset": 0, "content": {"line": "x"}}}, 'The "content" of "output.log" must be a list'),
        ({"output.log": {"offset": 0, "content": [1, 2]}}, 'The "content" of "output.log" must be a list'),
        ({"output.log": {"offset": -3, "content": ["x"]}}, "must be a non-negative integer"),
        ({"output.log": {"offset": "2", "content": ["x"]}}, "must be a non-negative integer"),
        ({"output.log": ["x"]}, '"output.log" must be an object'),
        ({"wandb-summary.json": {"offset": 0, "content": {"-1": "{}"}}}, 'The "content" of "wandb-summary.json"'),
        ({"wandb-summary.json": "{}"}, '"wandb-summary.json" must be an object'),
        ({"wandb-summary.json": {"offset": 0, "content": ["[1, 2]"]}}, "The summary must be a JSON object."),
        ({"wandb-summary.json": {"offset": 0, "content": ["{oops"]}}, "The summary is not valid JSON."),
    ],
)
def test_a_malformed_file_stream_is_a_400_and_writes_nothing(client, team, project, files, reason):
    run = make_run(project, "streamer")
    key = api_key(team.member)
    # A good part beside the bad one is not written either.
    good = {"output.log": {"offset": 0, "content": ["kept?"]}, "wandb-summary.json": {"content": ['{"a": 1}']}}
    for name in files:
        good.pop(name)
    before = snapshot()
    response = post_json(client, STREAM, {"files": {**good, **files}}, key)
    assert response.status_code == 400
    assert reason in response.json()["errors"][0]["message"]
    run.refresh_from_db()
    assert (run.summary, run.output_log) == ({}, "")
    assert snapshot() == before


@pytest.mark.parametrize("body", ["[]", '"text"', '{"files": ["output.log"]}', "not json"])
def test_a_file_stream_body_of_the_wrong_shape_is_a_400(client, team, project, body):
    make_run(project, "streamer")
    response = post_json(client, STREAM, body, api_key(team.member))
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("Invalid file_stream body:")


@pytest.mark.parametrize("url", ["/graphql", STREAM])
def test_a_body_that_is_not_gzip_as_it_claims_is_a_400(client, team, project, url):
    make_run(project, "streamer")
    response = client.post(
        url,
        data=b"\x1f\x8bnot really gzip",
        content_type="application/json",
        headers={"Authorization": basic_auth(api_key(team.member)), "Content-Encoding": "gzip"},
    )
    assert response.status_code == 400
    assert "not valid gzip" in response.json()["errors"][0]["message"]


def test_a_gzipped_body_still_works(client, team, project):
    make_run(project, "streamer")
    body = gzip.compress(json.dumps({"files": {"output.log": {"offset": 0, "content": ["zipped"]}}}).encode())
    response = client.post(
        STREAM,
        data=body,
        content_type="application/json",
        headers={"Authorization": basic_auth(api_key(team.member)), "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200
    assert project.runs.get(run_id="streamer").output_log == "zipped"


@pytest.mark.parametrize("payload", [b"{not json", b"[1]", b"\xff\xfe", b'{"a": ' * 100 + b"1" + b"}" * 100])
def test_a_malformed_summary_upload_is_a_400_not_a_500(client, gql, team, project, payload):
    run = make_run(project, "summary-run")
    variables = {"entity": "reviewco", "project": "mnist", "run": "summary-run", "files": ["wandb-summary.json"]}
    url = gql(documents.CREATE_RUN_FILES, variables, key=api_key(team.member))["data"]["createRunFiles"]["files"][0][
        "uploadUrl"
    ]
    response = client.put(url, data=payload, content_type="application/octet-stream")
    assert response.status_code == 400
    assert response.content
    run.refresh_from_db()
    assert run.summary == {}


def test_the_version_stays_pending_and_invisible_after_a_refused_manifest(client, gql, team, project, stored):
    key = api_key(team.member)
    version = _pending(project, team)
    url = _manifest_url(gql, key, version)
    client.put(url, data=json.dumps({"contents": {"../x": {"digest": stored["a"]}}}), content_type="text/plain")
    version.refresh_from_db()
    assert not version.is_committed
    assert not ArtifactVersion.committed.filter(pk=version.pk).exists()
    # Without the file the manifest listed, the version's digest is not met: it cannot commit.
    with pytest.raises(ValidationError, match="does not match the version's digest"):
        services.version_commit(version=version, user=team.member)
    version.refresh_from_db()
    assert not version.is_committed
