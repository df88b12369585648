"""Bytes on a real S3-compatible server (moto's, over HTTP on 127.0.0.1)."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from botocore.exceptions import EndpointConnectionError
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.test import RequestFactory

from artifacts import services
from artifacts.models import BlobStatus
from artifacts.storage import BlobUnavailable, blob_chunks
from tests.conftest import S3_TEST_BUCKET as BUCKET
from tests.factories import log_version, make_run, snapshot
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, basic_auth
from wandb_api import ids, tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_versions_store_their_bytes_in_the_bucket_once(s3, project):
    data = b"weights on s3" * 1000
    a = log_version(project, "cnn", content=data)
    log_version(project, "other", content=data)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    sha = hashlib.sha256(data).hexdigest()
    assert keys == [f"blobs/{sha[:2]}/{sha[2:4]}/{sha}"]
    blob = a.files.get().blob
    assert default_storage.exists(blob.storage_key)
    assert b"".join(blob_chunks(blob)) == data
    assert b"".join(blob_chunks(blob, start=2, end=8)) == data[2:9]


def test_an_unreachable_bucket_fails_cleanly_and_writes_nothing(settings, project):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "nope", "endpoint_url": f"http://127.0.0.1:{free_port()}"},
        },
    }
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    run = make_run(project)
    before = snapshot()
    with pytest.raises(EndpointConnectionError):
        log_version(project, "cnn", content=b"never stored", run=run)
    assert snapshot() == before


def test_s3_bucket_in_the_environment_selects_s3_storage():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='registry_site.settings'; django.setup();"
        "from django.conf import settings; print(settings.STORAGES['default']['BACKEND'],"
        " settings.STORAGES['default']['OPTIONS']['bucket_name'])"
    )
    env = {**os.environ, "S3_BUCKET": "models", "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=django_settings.BASE_DIR, capture_output=True, text=True
    )
    assert out.stdout.split() == ["storages.backends.s3.S3Storage", "models"]


def _key(data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    return f"blobs/{sha[:2]}/{sha[2:4]}/{sha}"


def _read_all(response) -> tuple[bytes, bool]:
    received = b""
    try:
        for chunk in response.streaming_content:
            received += chunk
    except BlobUnavailable:
        return received, True
    return received, False


BIG = bytes(range(256)) * 8192  # two chunks


def test_a_corrupt_object_is_cut_short_marked_bad_and_repaired_by_the_next_upload(s3, client, project):
    blob = log_version(project, "cnn", content=BIG).files.get().blob
    s3.put_object(Bucket=BUCKET, Key=_key(BIG), Body=b"X" + BIG[1:])
    url = tokens.download_url(RequestFactory().get("/"), blob=blob.sha256, name="model.pt")
    received, cut = _read_all(client.get(url))
    assert cut and len(received) < len(BIG)
    blob.refresh_from_db()
    assert blob.status == BlobStatus.BAD
    assert client.get(url).status_code == 410
    log_version(project, "other", content=BIG)
    assert s3.get_object(Bucket=BUCKET, Key=_key(BIG))["Body"].read() == BIG
    assert _read_all(client.get(url)) == (BIG, False)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == [_key(BIG)]


def test_an_emptied_bucket_answers_410_and_the_next_upload_restores_the_bytes(s3, client, team, project):
    version = log_version(project, "cnn", content=BIG)
    blob = version.files.get().blob
    s3.delete_object(Bucket=BUCKET, Key=_key(BIG))
    url = tokens.download_url(RequestFactory().get("/"), blob=blob.sha256, name="model.pt")
    response = client.get(url)
    assert response.status_code == 410
    assert "missing" in response.json()["errors"][0]["message"]
    pending = services.version_create(
        run=make_run(project), user=team.member, name="cnn2", type="model", digest=version.digest
    ).version
    spec = {"artifactID": ids.encode("Artifact", pending.pk), "name": "model.pt", "md5": blob.md5}
    body = client.post(
        "/graphql",
        data=json.dumps({"query": documents.CREATE_ARTIFACT_FILES, "variables": {"input": {"artifactFiles": [spec]}}}),
        content_type="application/json",
        headers={"Authorization": basic_auth(api_key(team.member))},
    ).json()
    upload = body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    assert upload is not None
    assert client.put(upload, data=BIG, content_type="application/octet-stream").status_code == 200
    assert services.version_commit(version=pending, user=team.member).is_committed
    assert _read_all(client.get(url)) == (BIG, False)


def test_verify_and_collect_garbage_work_on_the_bucket(s3, team, project):
    kept = log_version(project, "cnn", content=b"kept")
    old = log_version(project, "cnn", content=b"old")
    s3.put_object(Bucket=BUCKET, Key=_key(b"kept"), Body=b"kepT")
    assert services.blobs_verify().bad == [kept.files.get().blob]
    services.version_delete(version=old, user=team.member)
    s3.put_object(Bucket=BUCKET, Key="staging/dead", Body=b"half")
    time.sleep(1.1)  # S3 keeps modification times in whole seconds
    report = services.garbage_collect(older_than=timedelta(0))
    assert [b.sha256 for b in report.blobs] == [hashlib.sha256(b"old").hexdigest()]
    assert report.staged == ["staging/dead"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == [_key(b"kept")]


def test_a_range_through_the_app_asks_the_bucket_for_that_range_only(s3, client, team, project):
    """S3_DIRECT=0: the bytes pass through the app. A 1 KiB range of a 3 MiB file is one ranged GetObject,
    and a whole download one GetObject of the whole object, streamed."""
    from artifacts.storage import _s3_client

    data = os.urandom(3 * 1024 * 1024)
    version = log_version(project, "cnn", files={"weights.bin": data})
    url = version.file_url("weights.bin")
    asked: list[dict] = []

    def record(params, **kwargs):
        asked.append({"Key": params["Key"], "Range": params.get("Range")})

    events = _s3_client().meta.events
    events.register("provide-client-params.s3.GetObject", record)
    try:
        client.force_login(team.member)
        partial = client.get(url, headers={"Range": "bytes=1024-2047"})
        assert partial.status_code == 206
        assert b"".join(partial.streaming_content) == data[1024:2048]
        assert asked == [{"Key": _key(data), "Range": "bytes=1024-2047"}]

        asked.clear()
        whole = client.get(url)
        assert whole.status_code == 200 and whole.streaming
        assert hashlib.sha256(b"".join(whole.streaming_content)).digest() == hashlib.sha256(data).digest()
        assert asked == [{"Key": _key(data), "Range": None}]
    finally:
        events.unregister("provide-client-params.s3.GetObject", record)
