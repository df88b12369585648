"""Issue 13 (huge files): a file the SDK sends in parts (2 GiB and more; here small parts through the same
protocol) is staged part by part, each checked against the MD5 declared for it, joined when the SDK completes
the upload, checked whole, and only then added: through the app on local storage, straight to the bucket
with presigned part URLs on S3 (S3_DIRECT). The real SDK with a file over its threshold: tests/test_huge_files.py."""

import base64
import hashlib
import random
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from artifacts import services, storage
from artifacts.models import ArtifactVersion, StagedUpload
from artifacts.storage import manifest_digest
from tests.conftest import S3_TEST_BUCKET as BUCKET
from tests.factories import make_run, snapshot
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, b64md5, basic_auth
from wandb_api import ids

COMPLETE = """
mutation CompleteMultipartUploadArtifact($completeMultipartAction: CompleteMultipartAction!,
    $completedParts: [UploadPartsInput!]!, $artifactID: ID!, $storagePath: String!, $uploadID: String!) {
  completeMultipartUploadArtifact(input: {completeMultipartAction: $completeMultipartAction,
      completedParts: $completedParts, artifactID: $artifactID, storagePath: $storagePath, uploadID: $uploadID}) {
    digest
  }
}
"""
PART_SIZE = 5 * 1024 * 1024  # S3's smallest part but the last
DATA = random.Random(13).randbytes(2 * PART_SIZE) + b"the last part"
PARTS = [DATA[i : i + PART_SIZE] for i in range(0, len(DATA), PART_SIZE)]


@pytest.fixture
def gql(gql, team):
    key = api_key(team.member)
    return lambda query, variables: gql(query, variables, key=key)


@pytest.fixture
def direct(s3, settings):
    settings.S3_DIRECT_TRANSFERS = True
    return s3


def pending(team, project, md5: str = b64md5(DATA)) -> ArtifactVersion:
    return services.version_create(
        run=make_run(project), user=team.member, name="huge", type="model", digest=manifest_digest({"huge.bin": md5})
    ).version


def ask(gql, version: ArtifactVersion, parts=PARTS, md5: str = b64md5(DATA)) -> dict:
    spec = {
        "artifactID": ids.encode("Artifact", version.pk),
        "name": "huge.bin",
        "md5": md5,
        "uploadPartsInput": [{"partNumber": n, "hexMD5": hashlib.md5(p).hexdigest()} for n, p in enumerate(parts, 1)],
    }
    body = gql(documents.CREATE_ARTIFACT_FILES, {"input": {"artifactFiles": [spec]}})
    assert "errors" not in body, body
    return body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]


def send(put, node: dict, parts=PARTS) -> list[dict]:
    """PUT each part as the SDK does (Content-MD5, the part's bytes); the parts with their answered ETags."""
    completed = []
    for url, data in zip(node["uploadMultipartUrls"]["uploadUrlParts"], parts, strict=True):
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        response = put(url["uploadUrl"], data, md5)
        assert response.status_code == 200, response.content[:300]
        completed.append({"partNumber": url["partNumber"], "hexMD5": response.headers["ETag"]})
    return completed


def complete(gql, version: ArtifactVersion, node: dict, parts: list[dict], action: str = "Complete") -> dict:
    variables = {
        "completeMultipartAction": action,
        "completedParts": parts,
        "artifactID": ids.encode("Artifact", version.pk),
        "storagePath": node["storagePath"],
        "uploadID": node["uploadMultipartUrls"]["uploadID"],
    }
    return gql(COMPLETE, variables)


def commit(gql, version: ArtifactVersion) -> dict:
    return gql(documents.COMMIT_ARTIFACT, {"artifactID": ids.encode("Artifact", version.pk)})


@pytest.fixture
def app_put(client):
    return lambda url, data, md5: client.put(url, data=data, headers={"Content-MD5": md5})


def staged_files(file_storage) -> list[str]:
    staging = file_storage / "staging"
    return sorted(p.name for p in staging.iterdir()) if staging.exists() else []


def test_parts_through_the_app_are_checked_joined_and_added(gql, app_put, team, project, file_storage):
    version = pending(team, project)
    node = ask(gql, version)
    urls = node["uploadMultipartUrls"]["uploadUrlParts"]
    assert [u["partNumber"] for u in urls] == [1, 2, 3] and all(
        u["uploadUrl"].startswith("http://testserver/") for u in urls
    )
    parts = send(app_put, node)
    assert [p["hexMD5"] for p in parts] == [f'"{hashlib.md5(p).hexdigest()}"' for p in PARTS]
    assert complete(gql, version, node, parts)["data"]["completeMultipartUploadArtifact"]["digest"] == b64md5(DATA)
    # The client's late retry (its first try timed out while the server worked) gets the same answer.
    assert complete(gql, version, node, parts)["data"]["completeMultipartUploadArtifact"]["digest"] == b64md5(DATA)
    blob = version.files.get(path="huge.bin").blob
    assert (blob.sha256, blob.size) == (hashlib.sha256(DATA).hexdigest(), len(DATA))
    assert (file_storage / blob.storage_key).read_bytes() == DATA
    assert staged_files(file_storage) == [] and StagedUpload.objects.get().completed
    assert "errors" not in commit(gql, version)


def test_a_part_that_is_not_what_was_declared_is_refused_and_kept_nowhere(gql, client, team, project, file_storage):
    version = pending(team, project)
    node = ask(gql, version)
    before = snapshot()
    response = client.put(node["uploadMultipartUrls"]["uploadUrlParts"][1]["uploadUrl"], data=PARTS[0])
    assert response.status_code == 400
    assert "Part 2's bytes do not have the MD5 declared for it" in response.content.decode()
    assert snapshot() == before and staged_files(file_storage) == []


def test_completing_with_other_parts_or_other_bytes_writes_nothing(gql, app_put, team, project, file_storage):
    version = pending(team, project)
    node = ask(gql, version)
    parts = send(app_put, node)
    before = snapshot()
    wrong = [parts[0], parts[2], {"partNumber": 3, "hexMD5": parts[1]["hexMD5"]}]
    body = complete(gql, version, node, [{**wrong[1], "partNumber": 2}, wrong[0], wrong[2]])
    assert "are not the 3 parts declared for it" in body["errors"][0]["message"]
    body = complete(gql, version, node, parts[:2])
    assert "are not the 3 parts declared for it" in body["errors"][0]["message"]
    assert snapshot() == before
    # Parts that are each what was declared, joined into a file that is not what the version was created with.
    other = pending(team, project, md5=b64md5(b"another file"))
    node = ask(gql, other, md5=b64md5(b"another file"))
    parts = send(app_put, node)
    before = snapshot()
    body = complete(gql, other, node, parts)
    assert "Uploaded bytes have MD5" in body["errors"][0]["message"]
    assert snapshot() == before


def test_a_commit_before_the_parts_are_completed_says_so(gql, app_put, team, project):
    version = pending(team, project)
    send(app_put, ask(gql, version))
    body = commit(gql, version)
    assert "huge.bin: sent in parts that were never completed" in body["errors"][0]["message"]


def test_an_aborted_upload_leaves_nothing_behind(gql, app_put, team, project, file_storage):
    version = pending(team, project)
    node = ask(gql, version)
    parts = send(app_put, node)
    assert len(staged_files(file_storage)) == 3
    assert "errors" not in complete(gql, version, node, parts, action="Abort")
    assert staged_files(file_storage) == [] and not StagedUpload.objects.exists()
    body = complete(gql, version, node, parts)
    assert "No upload in parts" in body["errors"][0]["message"]


def test_parts_numbered_wrongly_are_refused_before_anything_is_written(gql, team, project):
    version = pending(team, project)
    spec = {
        "artifactID": ids.encode("Artifact", version.pk),
        "name": "huge.bin",
        "md5": b64md5(DATA),
        "uploadPartsInput": [{"partNumber": 2, "hexMD5": hashlib.md5(b"x").hexdigest()}],
    }
    before = snapshot()
    body = gql(documents.CREATE_ARTIFACT_FILES, {"input": {"artifactFiles": [spec]}})
    assert "numbered 1 to N" in body["errors"][0]["message"]
    spec["uploadPartsInput"] = [{"partNumber": 1, "hexMD5": "not hex"}]
    body = gql(documents.CREATE_ARTIFACT_FILES, {"input": {"artifactFiles": [spec]}})
    assert "hex MD5 digests" in body["errors"][0]["message"]
    assert snapshot() == before


def test_on_s3_the_parts_go_straight_to_the_bucket(direct, gql, team, project, s3_endpoint):
    version = pending(team, project)
    node = ask(gql, version)
    urls = [u["uploadUrl"] for u in node["uploadMultipartUrls"]["uploadUrlParts"]]
    assert all(url.startswith(f"{s3_endpoint}/{BUCKET}/staging/") and "uploadId=" in url for url in urls), urls

    def put(url, data, md5):
        return requests.put(url, data=data, headers={"Content-MD5": md5}, timeout=60)

    parts = send(put, node)
    assert "errors" not in complete(gql, version, node, parts)
    blob = version.files.get(path="huge.bin").blob
    assert blob.sha256 == hashlib.sha256(DATA).hexdigest()
    assert [o["Key"] for o in direct.list_objects_v2(Bucket=BUCKET)["Contents"]] == [blob.storage_key]
    assert direct.get_object(Bucket=BUCKET, Key=blob.storage_key)["Body"].read() == DATA
    assert not direct.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    assert "errors" not in commit(gql, version)


def test_on_s3_an_aborted_upload_is_aborted_in_the_bucket(direct, gql, team, project):
    version = pending(team, project)
    node = ask(gql, version)
    assert direct.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    assert "errors" not in complete(gql, version, node, [], action="Abort")
    assert not direct.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    assert not StagedUpload.objects.exists()


def test_collect_garbage_aborts_uploads_in_parts_to_the_bucket_never_completed(direct, gql, team, project):
    ask(gql, pending(team, project))
    assert direct.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    # Its version is pending for less than the grace period: the upload is awaited.
    assert services.garbage_collect(older_than=timedelta(hours=1)).staged == []
    assert direct.list_multipart_uploads(Bucket=BUCKET).get("Uploads"), "an awaited upload was aborted"
    report = services.garbage_collect(older_than=timedelta(0))
    assert report.pending.versions == 1
    assert len(report.staged) == 1 and report.staged[0].startswith("staging/")
    assert not direct.list_multipart_uploads(Bucket=BUCKET).get("Uploads")


@pytest.mark.django_db(transaction=True)
def test_a_retried_completion_waits_for_the_one_under_way_and_answers_the_same(
    gql, app_put, team, project, monkeypatch
):
    version = pending(team, project)
    node = ask(gql, version)
    parts = send(app_put, node)
    upload = StagedUpload.objects.get()
    # A first completion is under way (claimed); the client, tired of waiting, sends it again.
    StagedUpload.objects.filter(pk=upload.pk).update(completing_at=timezone.now())
    join = storage.blob_from_parts

    def joined_twice(*args, **kwargs):
        raise AssertionError("the retry joined the parts again")

    monkeypatch.setattr(storage, "blob_from_parts", joined_twice)

    def first_completion_ends() -> None:
        time.sleep(1)
        blob = join(upload.key, len(PARTS), md5=upload.md5)
        services.version_files_add(version=version, files={upload.path: blob}, user=team.member)
        StagedUpload.objects.filter(pk=upload.pk).update(completed=True, completing_at=None)

    worker = threading.Thread(target=first_completion_ends)
    worker.start()
    try:
        body = complete(gql, version, node, parts)
    finally:
        worker.join()
    assert body["data"]["completeMultipartUploadArtifact"]["digest"] == b64md5(DATA)
    assert version.files.get(path="huge.bin").blob.sha256 == hashlib.sha256(DATA).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_a_retry_told_to_ask_again_while_a_long_completion_goes_on_writes_nothing(
    client, gql, app_put, team, project, monkeypatch
):
    version = pending(team, project)
    node = ask(gql, version)
    parts = send(app_put, node)
    # A first completion is under way and outlasts the wait: the retry is answered before the client's timeout.
    StagedUpload.objects.update(completing_at=timezone.now())
    monkeypatch.setattr(services, "COMPLETION_WAIT", 1.0)
    auth = basic_auth(api_key(team.member))
    before = snapshot()
    variables = {
        "completeMultipartAction": "Complete",
        "completedParts": parts,
        "artifactID": ids.encode("Artifact", version.pk),
        "storagePath": node["storagePath"],
        "uploadID": node["uploadMultipartUrls"]["uploadID"],
    }
    started = time.monotonic()
    response = client.post(
        "/graphql",
        data={"query": COMPLETE, "variables": variables},
        content_type="application/json",
        headers={"Authorization": auth},
    )
    assert time.monotonic() - started < 10
    assert response.status_code == 503 and response["Retry-After"] == "5"
    message = response.json()["errors"][0]["message"]
    assert message == "'huge.bin': the upload is still being completed; ask again shortly."
    assert snapshot() == before
    assert StagedUpload.objects.get().completing_at is not None, "the retry must not release the claim"


def test_a_completion_claimed_by_a_process_that_died_long_ago_is_taken_over(gql, app_put, team, project):
    version = pending(team, project)
    node = ask(gql, version)
    parts = send(app_put, node)
    StagedUpload.objects.update(completing_at=timezone.now() - services.COMPLETION_TIMEOUT - timedelta(seconds=1))
    assert "errors" not in complete(gql, version, node, parts)
    assert version.files.filter(path="huge.bin").exists()
