"""Issue 12, bytes straight to the object store: with S3 (and S3_DIRECT, the default) the SDK's upload and
download URLs and the pages' download links are presigned URLs of the bucket (moto's S3 server on 127.0.0.1),
and no file byte passes through Django; committing checks what arrived before any file refers to it."""

import hashlib
import json

import pytest
import requests
from django.test import RequestFactory

from artifacts import services
from artifacts.models import ArtifactVersion, BlobStatus, StagedUpload
from artifacts.storage import manifest_digest
from tests.factories import log_version, make_run, snapshot
from tests.test_s3_storage import BUCKET, _key
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, b64md5
from wandb_api import ids, tokens
from wandb_api.resolvers import file_node

DATA = bytes(range(256)) * 4096 + b"the end"


@pytest.fixture
def direct(s3, settings):
    settings.S3_DIRECT_TRANSFERS = True
    return s3


@pytest.fixture
def gql(gql, team):
    """The SDK's GraphQL calls, as the team member with one API key."""
    key = api_key(team.member)
    return lambda query, variables: gql(query, variables, key=key)


def pending(team, project, files: dict[str, bytes], name: str = "cnn") -> ArtifactVersion:
    """A version created as the SDK creates one, waiting for `files`."""
    digest = manifest_digest({path: b64md5(data) for path, data in files.items()})
    return services.version_create(
        run=make_run(project), user=team.member, name=name, type="model", digest=digest
    ).version


def create_files(gql, team, version: ArtifactVersion, files: dict[str, bytes], **extra) -> dict:
    specs = [
        {"artifactID": ids.encode("Artifact", version.pk), "name": path, "md5": b64md5(data), **extra}
        for path, data in files.items()
    ]
    return gql(documents.CREATE_ARTIFACT_FILES, {"input": {"artifactFiles": specs}})


def nodes(body: dict) -> list[dict]:
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["createArtifactFiles"]["files"]["edges"]]


def commit(gql, team, version: ArtifactVersion) -> dict:
    return gql(documents.COMMIT_ARTIFACT, {"artifactID": ids.encode("Artifact", version.pk)})


def put(node: dict, data: bytes) -> requests.Response:
    """PUT as the SDK does: to the URL it was given, with the headers it was given (`Key:Value`)."""
    headers = dict(header.split(":", 1) for header in node["uploadHeaders"])
    return requests.put(node["uploadUrl"], data=data, headers=headers, timeout=30)


def keys(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_the_sdk_puts_bytes_straight_to_the_bucket_and_the_commit_adopts_them(
    direct, gql, client, team, project, s3_endpoint
):
    files = {"model.pt": DATA, "config.json": b'{"layers": 2}'}
    version = pending(team, project, files)
    uploads = {node["uploadUrl"]: node for node in nodes(create_files(gql, team, version, files))}
    assert all(url.startswith(f"{s3_endpoint}/{BUCKET}/staging/") for url in uploads), uploads
    for node, data in zip(uploads.values(), files.values(), strict=True):
        assert node["uploadHeaders"] == [f"Content-MD5:{b64md5(data)}"]
        assert put(node, data).status_code == 200
    # The SDK then sends its manifest (to the app: it is the version's description, not file bytes); the files
    # it lists are in the bucket, waiting for the commit.
    manifest = {"contents": {path: {"digest": b64md5(data), "size": len(data)} for path, data in files.items()}}
    manifest_url = tokens.upload_url(RequestFactory().get("/"), manifest=version.pk, user=team.member.pk)
    assert client.put(manifest_url, data=json.dumps(manifest)).status_code == 200
    assert commit(gql, team, version)["data"]["commitArtifact"]["artifact"]["digest"] == version.digest
    version.refresh_from_db()
    assert version.is_committed
    stored = {f.path: f.blob for f in version.files.select_related("blob")}
    assert {path: blob.sha256 for path, blob in stored.items()} == {
        path: hashlib.sha256(data).hexdigest() for path, data in files.items()
    }
    assert all(blob.md5 == b64md5(files[path]) and blob.size == len(files[path]) for path, blob in stored.items())
    # Published under the SHA-256 key; nothing left staged, nothing left expected.
    assert keys(direct) == sorted(_key(data) for data in files.values())
    assert direct.get_object(Bucket=BUCKET, Key=_key(DATA))["Body"].read() == DATA
    assert not StagedUpload.objects.exists()


def test_known_content_is_not_asked_for(direct, gql, team, project):
    log_version(project, "cnn", content=DATA)
    version = pending(team, project, {"model.pt": DATA}, name="cnn2")
    known = nodes(create_files(gql, team, version, {"model.pt": DATA}))[0]
    assert known["uploadUrl"] is None
    assert version.files.get().path == "model.pt"
    assert not StagedUpload.objects.exists()


def test_a_path_waiting_for_its_upload_that_gets_known_bytes_instead_waits_no_more(direct, gql, team, project):
    version = pending(team, project, {"model.pt": DATA})
    assert nodes(create_files(gql, team, version, {"model.pt": DATA}))[0]["uploadUrl"] is not None
    assert StagedUpload.objects.filter(version=version, path="model.pt").exists()
    # Meanwhile another run stores the same content: the SDK's retry is told so and sends nothing.
    log_version(project, "other", content=DATA)
    assert nodes(create_files(gql, team, version, {"model.pt": DATA}))[0]["uploadUrl"] is None
    assert not StagedUpload.objects.exists()
    assert "errors" not in commit(gql, team, version)


def test_bytes_that_are_not_what_was_declared_are_refused_and_nothing_is_written(direct, gql, team, project):
    version = pending(team, project, {"model.pt": DATA})
    node = nodes(create_files(gql, team, version, {"model.pt": DATA}))[0]
    # A real S3 refuses a body that does not match the signed Content-MD5; moto stores it, so the commit's own
    # check is what is shown here.
    assert requests.put(node["uploadUrl"], data=b"not the model", timeout=30).status_code == 200
    before, objects = snapshot(), keys(direct)
    body = commit(gql, team, version)
    assert "do not have the MD5 the client declared" in body["errors"][0]["message"]
    assert snapshot() == before
    assert keys(direct) == objects  # only the staged upload: no blob
    version.refresh_from_db()
    assert not version.is_committed
    # Sending the right bytes again to the same URL, then committing again, works.
    assert put(node, DATA).status_code == 200
    assert "errors" not in commit(gql, team, version)
    assert version.files.get().blob.sha256 == hashlib.sha256(DATA).hexdigest()


def test_a_file_never_uploaded_fails_the_commit_with_its_name_and_writes_nothing(direct, gql, team, project):
    version = pending(team, project, {"model.pt": DATA})
    nodes(create_files(gql, team, version, {"model.pt": DATA}))
    before = snapshot()
    body = commit(gql, team, version)
    assert "'model.pt' was never uploaded" in body["errors"][0]["message"]
    assert snapshot() == before
    assert keys(direct) == []


def test_a_malformed_md5_is_refused_before_anything_is_written(direct, gql, team, project):
    version = pending(team, project, {"model.pt": DATA})
    spec = {"artifactID": ids.encode("Artifact", version.pk), "name": "model.pt", "md5": "not-an-md5"}
    before = snapshot()
    body = gql(documents.CREATE_ARTIFACT_FILES, {"input": {"artifactFiles": [spec]}})
    assert "is not a base64 MD5 digest" in body["errors"][0]["message"]
    assert snapshot() == before


def test_missing_bytes_are_asked_for_again_and_the_direct_upload_repairs_them(direct, gql, team, project):
    blob = log_version(project, "cnn", content=DATA).files.get().blob
    direct.delete_object(Bucket=BUCKET, Key=_key(DATA))
    version = pending(team, project, {"model.pt": DATA}, name="cnn2")
    node = nodes(create_files(gql, team, version, {"model.pt": DATA}))[0]
    assert node["uploadUrl"] is not None
    blob.refresh_from_db()
    assert blob.status == BlobStatus.MISSING
    assert put(node, DATA).status_code == 200
    assert "errors" not in commit(gql, team, version)
    blob.refresh_from_db()
    assert blob.status == BlobStatus.OK
    assert direct.get_object(Bucket=BUCKET, Key=_key(DATA))["Body"].read() == DATA


def test_downloads_are_presigned_urls_of_the_bucket_and_a_bad_copy_is_refused(
    direct, client, team, project, s3_endpoint
):
    version = log_version(project, "cnn", files={"weights/model.pt": DATA})
    file = version.files.select_related("blob", "version").get()
    url = file_node(RequestFactory().get("/"), file)["directUrl"]
    assert url.startswith(f"{s3_endpoint}/{BUCKET}/{_key(DATA)}?")
    response = requests.get(url, timeout=30)
    assert response.content == DATA
    assert response.headers["Content-Disposition"] == 'attachment; filename="model.pt"'
    assert requests.get(url, headers={"Range": "bytes=2-9"}, timeout=30).content == DATA[2:10]
    # The pages' download link: a redirect to the bucket, after the page's own access check.
    client.force_login(team.viewer)
    page_link = version.get_absolute_url().rstrip("/") + "/files/weights/model.pt"
    redirect = client.get(page_link)
    assert redirect.status_code == 302 and redirect["Location"].startswith(f"{s3_endpoint}/{BUCKET}/")
    assert requests.get(redirect["Location"], timeout=30).content == DATA
    # A copy marked bad gets no presigned URL: the SDK is given ours, which says why, and so does the page.
    file.blob.status = BlobStatus.BAD
    file.blob.save()
    ours = file_node(RequestFactory().get("/"), file)["directUrl"]
    assert ours.startswith("http://testserver/")
    assert client.get(ours).status_code == 410
    assert client.get(page_link).status_code == 410
    # The page asks the store before redirecting: bytes gone from the bucket are found and said so.
    file.blob.status = BlobStatus.OK
    file.blob.save()
    direct.delete_object(Bucket=BUCKET, Key=_key(DATA))
    gone = client.get(page_link)
    assert gone.status_code == 410 and "missing" in gone.content.decode()
    file.blob.refresh_from_db()
    assert file.blob.status == BlobStatus.MISSING


def test_an_upload_url_lasts_as_long_as_the_apps_own(direct, gql, team, project):
    version = pending(team, project, {"model.pt": DATA})
    node = nodes(create_files(gql, team, version, {"model.pt": DATA}))[0]
    assert f"X-Amz-Expires={tokens.UPLOAD_MAX_AGE}" in node["uploadUrl"]
    assert json.dumps(node["uploadHeaders"]) == json.dumps([f"Content-MD5:{b64md5(DATA)}"])
