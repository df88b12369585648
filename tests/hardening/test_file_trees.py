"""A version is a tree any client can write to disk: no path is a file and a directory, paths are NFC."""

import io
import json
import unicodedata

import pytest
from django.core.exceptions import ValidationError

from artifacts import services
from artifacts.storage import manifest_digest
from tests.factories import log_version, make_run, snapshot
from tests.hardening.helpers import stored_files
from tests.hardening.test_nesting import _manifest_url
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, b64md5
from wandb_api import ids

pytestmark = pytest.mark.django_db

COMPOSED = unicodedata.normalize("NFC", "café.txt")
DECOMPOSED = unicodedata.normalize("NFD", "café.txt")


def _log(project, team, files: dict[str, bytes], run=None):
    return services.version_log(
        run=run or make_run(project),
        user=team.member,
        name="tree",
        type="dataset",
        files={path: io.BytesIO(data) for path, data in files.items()},
    )


@pytest.mark.parametrize(
    "files",
    [{"m": b"1", "m/x": b"2"}, {"a/b": b"1", "a/b/c/d": b"2"}, {"deep/m/x": b"1", "deep/m": b"2"}],
)
def test_a_file_and_a_directory_of_the_same_name_are_refused(team, project, files):
    run = make_run(project)
    before, files_before = snapshot(), stored_files()
    with pytest.raises(ValidationError, match="cannot be a file and also a directory"):
        _log(project, team, files, run)
    assert (snapshot(), stored_files()) == (before, files_before)


def test_names_that_only_share_a_prefix_are_fine(team, project):
    version = _log(project, team, {"m": b"1", "m-x/y": b"2", "m.d/z": b"3", "mm/x": b"4"}).version
    assert version.num_files == 4


def test_paths_are_stored_in_nfc(team, project):
    assert DECOMPOSED != COMPOSED
    version = _log(project, team, {DECOMPOSED: b"bytes"}).version
    assert list(version.files.values_list("path", flat=True)) == [COMPOSED]


def test_two_spellings_of_one_name_are_refused(team, project):
    run = make_run(project)
    before = snapshot()
    with pytest.raises(ValidationError, match="differ only in Unicode normalization"):
        _log(project, team, {COMPOSED: b"1", DECOMPOSED: b"2"}, run)
    assert snapshot() == before


def _pending(project, team, paths_md5: dict[str, str]):
    run = make_run(project)
    return services.version_create(
        run=run, user=team.member, name="tree", type="dataset", digest=manifest_digest(paths_md5)
    ).version


def test_the_sdk_cannot_add_a_directory_over_a_file(client, gql, team, project):
    key = api_key(team.member)
    version = _pending(project, team, {"m": b64md5(b"1"), "m/x": b64md5(b"2")})
    artifact_id = ids.encode("Artifact", version.pk)
    first = gql(
        documents.CREATE_ARTIFACT_FILES,
        {"input": {"artifactFiles": [{"artifactID": artifact_id, "name": "m", "md5": b64md5(b"1")}]}},
        key=key,
    )
    url = first["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    assert client.put(url, data=b"1", content_type="application/octet-stream").status_code == 200
    before = snapshot()
    second = gql(
        documents.CREATE_ARTIFACT_FILES,
        {"input": {"artifactFiles": [{"artifactID": artifact_id, "name": "m/x", "md5": b64md5(b"2")}]}},
        key=key,
    )
    assert "cannot be a file and also a directory" in second["errors"][0]["message"]
    assert snapshot() == before


def test_a_signed_upload_cannot_make_a_clash_either(client, gql, team, project):
    """Two upload URLs handed out in separate calls: the second upload is refused, and commit would be too."""
    key = api_key(team.member)
    version = _pending(project, team, {"m": b64md5(b"1"), "m/x": b64md5(b"2")})
    artifact_id = ids.encode("Artifact", version.pk)
    urls = {}
    for name, data in (("m/x", b"2"), ("m", b"1")):
        body = gql(
            documents.CREATE_ARTIFACT_FILES,
            {"input": {"artifactFiles": [{"artifactID": artifact_id, "name": name, "md5": b64md5(data)}]}},
            key=key,
        )
        urls[name] = body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    assert client.put(urls["m/x"], data=b"2", content_type="application/octet-stream").status_code == 200
    response = client.put(urls["m"], data=b"1", content_type="application/octet-stream")
    assert response.status_code == 400
    assert b"cannot be a file and also a directory" in response.content
    assert list(version.files.values_list("path", flat=True)) == ["m/x"]


def test_the_sdk_protocol_with_decomposed_names_commits_under_nfc(client, gql, team, project):
    """macOS writes NFD names; the SDK's digest covers them as written. The version commits, stored in NFC."""
    key = api_key(team.member)
    md5 = b64md5(b"accent")
    version = _pending(project, team, {DECOMPOSED: md5})
    artifact_id = ids.encode("Artifact", version.pk)
    body = gql(
        documents.CREATE_ARTIFACT_FILES,
        {"input": {"artifactFiles": [{"artifactID": artifact_id, "name": DECOMPOSED, "md5": md5}]}},
        key=key,
    )
    url = body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    assert client.put(url, data=b"accent", content_type="application/octet-stream").status_code == 200
    manifest = {"version": 1, "contents": {DECOMPOSED: {"digest": md5, "size": 6}}}
    response = client.put(_manifest_url(gql, key, version), data=json.dumps(manifest), content_type="text/plain")
    assert response.status_code == 200
    committed = gql(documents.COMMIT_ARTIFACT, {"artifactID": artifact_id}, key=key)
    assert committed["data"]["commitArtifact"]["artifact"]["digest"] == manifest_digest({COMPOSED: md5})
    version.refresh_from_db()
    assert version.is_committed
    assert list(version.files.values_list("path", flat=True)) == [COMPOSED]


def test_an_incomplete_upload_still_fails_its_digest_check(client, gql, team, project):
    """The NFC digest is only adopted for the manifest the version was created with."""
    key = api_key(team.member)
    md5 = b64md5(b"accent")
    version = _pending(project, team, {DECOMPOSED: md5, "other.txt": b64md5(b"other")})
    log_version(project, "holder", files={COMPOSED: b"accent"})
    manifest = {"version": 1, "contents": {DECOMPOSED: {"digest": md5, "size": 6}}}
    response = client.put(_manifest_url(gql, key, version), data=json.dumps(manifest), content_type="text/plain")
    assert response.status_code == 200
    committed = gql(documents.COMMIT_ARTIFACT, {"artifactID": ids.encode("Artifact", version.pk)}, key=key)
    assert "does not match the version's digest" in committed["errors"][0]["message"]
    version.refresh_from_db()
    assert not version.is_committed


def _reference(name: str) -> dict:
    return {"ref": f"s3://bucket/{name}", "digest": f"etag-{name}", "size": 1}


def _pending_with_file(project, team, path: str):
    from artifacts.storage import blob_store

    version = _pending(project, team, {path: b64md5(b"1")})
    services.version_file_add(version=version, path=path, blob=blob_store(io.BytesIO(b"1")), user=team.member)
    return version


def test_a_reference_cannot_make_a_directory_of_a_file_or_a_file_of_a_directory(team, project):
    """A client writes references to disk as it writes files: they share the one tree."""
    version = _pending_with_file(project, team, "m")
    before = snapshot()
    with pytest.raises(ValidationError, match="cannot be a file and also a directory"):
        services.version_references_set(version=version, references={"m/x": _reference("x")}, user=team.member)
    assert snapshot() == before

    version = _pending_with_file(project, team, "d/w")
    before = snapshot()
    with pytest.raises(ValidationError, match="cannot be a file and also a directory"):
        services.version_references_set(version=version, references={"d": _reference("d")}, user=team.member)
    assert snapshot() == before


def _pending_with_reference(project, team, path: str):
    """A pending version holding a reference at `path`, and a stored blob to try to add beside it."""
    from artifacts.storage import blob_store

    version = _pending(project, team, {})
    services.version_references_set(version=version, references={path: _reference(path)}, user=team.member)
    return version, blob_store(io.BytesIO(b"1"))


def test_a_file_cannot_go_where_a_reference_makes_a_directory_nor_references_clash(team, project):
    version, blob = _pending_with_reference(project, team, "r/x")
    before = snapshot()
    with pytest.raises(ValidationError, match="cannot be a file and also a directory"):
        services.version_file_add(version=version, path="r", blob=blob, user=team.member)
    with pytest.raises(ValidationError, match="cannot be a file and also a directory"):
        services.version_references_set(version=version, references={"r": _reference("r")}, user=team.member)
    assert snapshot() == before
    # Replacing a reference at its own path is no clash.
    services.version_references_set(version=version, references={"r/x": _reference("x2")}, user=team.member)
    assert list(version.references.values_list("path", "ref")) == [("r/x", "s3://bucket/x2")]


@pytest.mark.parametrize("reference", ["m/x", "m"])
def test_commit_refuses_a_file_and_a_reference_that_clash(team, project, reference):
    """Checked again where the version becomes visible, whatever wrote the rows."""
    from artifacts.models import ArtifactReference

    version = _pending_with_file(project, team, "m")
    ArtifactReference.objects.create(version=version, path=reference, ref="s3://bucket/x", digest="etag", size=1)
    with pytest.raises(ValidationError, match="cannot be a file and also a directory|both a file and a reference"):
        services.version_commit(version=version, user=team.member)
    version.refresh_from_db()
    assert not version.is_committed


def test_a_file_cannot_go_where_a_reference_is(team, project):
    version, blob = _pending_with_reference(project, team, "r")
    before = snapshot()
    with pytest.raises(ValidationError, match="'r' is a reference of this version and cannot also be a file"):
        services.version_file_add(version=version, path="r", blob=blob, user=team.member)
    assert snapshot() == before


def test_many_deep_paths_at_once_are_checked_within_the_databases_limits(team, project):
    """100 paths 400 directories deep, none shared: 40,000 parent directories, more than SQLite binds in one
    statement (32,766 as SQLite is built by default; Debian builds it with more, so the test sets the default).
    They are checked in chunks (and a clash among them still found)."""
    import sqlite3

    from django.db import connection

    version = _pending(project, team, {})
    paths = {f"{i}/" + "a/" * 400 + "f" for i in range(100)}
    connection.ensure_connection()
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        limit = connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
    try:
        added = services.version_files_add(version=version, files=dict.fromkeys(paths), user=team.member)
        assert added == dict.fromkeys(paths)
        services.version_references_set(version=version, references={"99/a": _reference("x")}, user=team.member)
        with pytest.raises(ValidationError, match="cannot be a file and also a directory"):
            services.version_files_add(version=version, files=dict.fromkeys(paths), user=team.member)
    finally:
        if sqlite:
            connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
