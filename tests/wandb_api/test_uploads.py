import json

from django.core import signing
from django.test import RequestFactory

from artifacts import services, storage
from artifacts.models import Blob, BlobStatus
from artifacts.storage import manifest_digest
from tests.factories import log_version, make_run, snapshot
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, b64md5
from wandb_api import ids, tokens

CONTENT = b"model weights" * 1000


def _upload_url(gql, team, project, content: bytes = CONTENT) -> tuple[str, object]:
    """A pending version expecting `model.pt` = `content`, and the signed URL the SDK would PUT it to."""
    run = make_run(project)
    version = services.version_create(
        run=run,
        user=team.member,
        name="mnist_model",
        type="model",
        digest=manifest_digest({"model.pt": b64md5(content)}),
    ).version
    spec = {"artifactID": ids.encode("Artifact", version.pk), "name": "model.pt", "md5": b64md5(content)}
    body = gql(documents.CREATE_ARTIFACT_FILES, {"input": {"artifactFiles": [spec]}}, key=api_key(team.member))
    return body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"], version


def _put(client, url: str, data: bytes):
    return client.put(url, data=data, content_type="application/octet-stream")


def test_a_tampered_upload_is_rejected_and_nothing_is_stored(client, gql, team, project, file_storage):
    url, version = _upload_url(gql, team, project)
    before = snapshot()
    response = _put(client, url, CONTENT[:-1] + b"!")
    assert response.status_code == 400
    assert b"MD5" in response.content
    assert snapshot() == before
    assert not version.files.exists()
    assert not any(p.is_file() for p in file_storage.rglob("*"))


def test_the_declared_bytes_are_stored_and_the_version_commits(client, gql, team, project):
    url, version = _upload_url(gql, team, project)
    assert _put(client, url, CONTENT).status_code == 200
    assert version.files.get().blob.md5 == b64md5(CONTENT)
    services.version_commit(version=version, user=team.member)
    version.refresh_from_db()
    assert version.is_committed and version.size == len(CONTENT)


def test_the_urls_handed_to_the_sdk_start_with_site_url(gql, team, project, settings):
    settings.SITE_URL = "https://models.example.com"
    url, version = _upload_url(gql, team, project)
    assert url.startswith("https://models.example.com/files/upload/")
    request = RequestFactory().get("/", HTTP_HOST="10.0.0.5:8000")
    assert tokens.download_url(request, manifest=version.pk).startswith("https://models.example.com/files/download/")


def test_without_site_url_the_urls_follow_the_forwarded_protocol(team, project, settings):
    settings.ALLOWED_HOSTS = ["models.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # A proxy that passes the client's Host on; one that does not needs SITE_URL.
    request = RequestFactory().get("/", headers={"X-Forwarded-Proto": "https", "Host": "models.example.com"})
    url = tokens.upload_url(request, manifest=1, user=team.member.pk)
    assert url.startswith("https://models.example.com/files/upload/")


def test_an_upload_url_carries_no_more_than_it_was_signed_for(client, gql, team, project, monkeypatch):
    url, version = _upload_url(gql, team, project)
    forged = url.rsplit("/", 1)[0] + "/" + signing.dumps({"version": version.pk, "path": "x", "md5": "y", "user": 1})
    assert _put(client, forged, CONTENT).status_code == 403
    monkeypatch.setattr(tokens, "UPLOAD_MAX_AGE", -1)
    assert _put(client, url, CONTENT).status_code == 403
    assert not Blob.objects.exists()


def test_an_upload_url_stops_working_when_its_user_loses_the_right(client, gql, team, project):
    url, version = _upload_url(gql, team, project)
    services.membership_set(entity=team.entity, user=team.member, role="viewer")
    assert _put(client, url, CONTENT).status_code == 403
    assert not version.files.exists()


def test_download_urls_stream_the_bytes_and_honour_ranges(client, team, project):
    version = log_version(project, content=CONTENT)
    blob = version.files.get().blob
    url = tokens.download_url(RequestFactory().get("/"), blob=blob.sha256, name="model.pt")
    response = client.get(url)
    assert response["Content-Length"] == str(len(CONTENT))
    assert 'filename="model.pt"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == CONTENT
    partial = client.get(url, headers={"Range": "bytes=13-25"})
    assert partial.status_code == 206
    assert partial["Content-Range"] == f"bytes 13-25/{len(CONTENT)}"
    assert b"".join(partial.streaming_content) == CONTENT[13:26]
    assert client.get(url, headers={"Range": f"bytes={len(CONTENT)}-"}).status_code == 416
    token = url.removesuffix("/model.pt")
    assert client.get(token[:-3] + "abc/model.pt").status_code == 403


def _flip_a_byte(root, blob: Blob) -> None:
    path = root / blob.storage_key
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


def test_stored_intact_bytes_are_not_asked_for_again(gql, team, project):
    log_version(project, "cnn", content=CONTENT)
    url, version = _upload_url(gql, team, project)
    assert url is None
    assert version.files.get().blob.sha256 == Blob.objects.get().sha256


def test_lost_bytes_are_asked_for_again_and_the_upload_restores_them(client, gql, team, project, file_storage):
    blob = log_version(project, "cnn", content=CONTENT).files.get().blob
    (file_storage / blob.storage_key).unlink()
    url, version = _upload_url(gql, team, project)
    assert url is not None
    assert not version.files.exists()
    blob.refresh_from_db()
    assert blob.status == BlobStatus.MISSING
    assert _put(client, url, CONTENT).status_code == 200
    services.version_commit(version=version, user=team.member)
    blob.refresh_from_db()
    assert blob.status == BlobStatus.OK
    assert (file_storage / blob.storage_key).read_bytes() == CONTENT


def test_corrupt_bytes_are_asked_for_again_and_the_upload_repairs_them(client, gql, team, project, file_storage):
    blob = log_version(project, "cnn", content=CONTENT).files.get().blob
    _flip_a_byte(file_storage, blob)
    assert storage.blob_verify(blob) == BlobStatus.BAD
    url, version = _upload_url(gql, team, project)
    assert url is not None
    assert _put(client, url, CONTENT).status_code == 200
    blob.refresh_from_db()
    assert blob.status == BlobStatus.OK
    assert (file_storage / blob.storage_key).read_bytes() == CONTENT
    download = tokens.download_url(RequestFactory().get("/"), blob=blob.sha256, name="model.pt")
    assert b"".join(client.get(download).streaming_content) == CONTENT


def test_a_manifest_listing_lost_bytes_is_refused_and_adds_nothing(client, team, project, file_storage):
    blob = log_version(project, "cnn", content=CONTENT).files.get().blob
    (file_storage / blob.storage_key).unlink()
    version = services.version_create(
        run=make_run(project), user=team.member, name="draft", type="model", digest="0" * 32
    ).version
    url = tokens.upload_url(RequestFactory().get("/"), manifest=version.pk, user=team.member.pk)
    manifest = {"contents": {"model.pt": {"digest": blob.md5, "size": blob.size}}}
    before = snapshot()
    response = client.put(url, data=json.dumps(manifest), content_type="application/json")
    assert response.status_code == 400
    assert "missing or corrupt" in response.content.decode()
    assert snapshot() == before


def test_a_manifest_entrys_extra_must_be_an_object_and_is_kept_only_then(client, team, project):
    blob = log_version(project, "cnn", content=CONTENT).files.get().blob
    digest = manifest_digest({"model.pt": blob.md5})
    version = services.version_create(
        run=make_run(project), user=team.member, name="draft", type="model", digest=digest
    ).version
    url = tokens.upload_url(RequestFactory().get("/"), manifest=version.pk, user=team.member.pk)

    def upload(extra):
        manifest = {"contents": {"model.pt": {"digest": blob.md5, "size": blob.size, "extra": extra}}}
        return client.put(url, data=json.dumps(manifest), content_type="application/json")

    before = snapshot()
    response = upload(["not", "an", "object"])
    assert response.status_code == 400 and "must be a JSON object" in response.content.decode()
    assert snapshot() == before
    assert upload({"k": [1]}).status_code == 200
    version = services.version_commit(version=version, user=team.member)
    download = tokens.download_url(RequestFactory().get("/"), manifest=version.pk)
    assert client.get(download).json()["contents"]["model.pt"]["extra"] == {"k": [1]}


VERSION_URLS = """
query Version($id: ID!) {
  artifact(id: $id) {
    commitHash
    digest
    currentManifest { file { directUrl } }
    files { edges { node { name directUrl storagePath } } }
  }
}
"""


def test_download_urls_end_with_the_files_name_and_the_token_alone_decides(client, gql, team, project, file_storage):
    version = log_version(project, files={"weights v1?.pt": b"weights"})
    body = gql(VERSION_URLS, {"id": ids.encode("Artifact", version.pk)}, key=api_key(team.member))["data"]["artifact"]
    manifest_url = body["currentManifest"]["file"]["directUrl"]
    assert manifest_url.endswith("/wandb_manifest.json")
    assert list(client.get(manifest_url).json()["contents"]) == ["weights v1?.pt"]
    file_url = body["files"]["edges"][0]["node"]["directUrl"]
    assert file_url.endswith("/weights%20v1%3F.pt")
    assert body["files"]["edges"][0]["node"]["storagePath"] == version.files.get().blob.storage_key
    assert b"".join(client.get(file_url).streaming_content) == b"weights"
    # Another name after the token serves the same file under the token's name; a bad token nothing.
    renamed = client.get(file_url.rsplit("/", 1)[0] + "/other.bin")
    assert b"".join(renamed.streaming_content) == b"weights"
    assert renamed["Content-Disposition"] == 'attachment; filename="weights v1?.pt"'
    token = file_url.split("/files/download/")[1].split("/")[0]
    assert client.get(f"/files/download/{token[:-2]}xx/weights.pt").status_code == 403


def test_a_committed_version_answers_its_digest_as_commit_hash(gql, team, project):
    version = log_version(project)
    body = gql(VERSION_URLS, {"id": ids.encode("Artifact", version.pk)}, key=api_key(team.member))["data"]["artifact"]
    assert body["commitHash"] == body["digest"] == version.digest
