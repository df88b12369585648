from django.core import signing
from django.test import RequestFactory

from artifacts import services
from artifacts.models import Blob
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
    assert client.get(url[:-3] + "abc").status_code == 403
