"""Bytes on a real S3-compatible server (moto's, over HTTP on 127.0.0.1)."""

import hashlib
import os
import socket
import subprocess
import sys

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from django.conf import settings as django_settings
from django.core.files.storage import default_storage

from artifacts.storage import blob_chunks
from tests.factories import log_version, make_run, snapshot

BUCKET = "registry-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(settings, s3_endpoint, monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": BUCKET, "endpoint_url": s3_endpoint, "file_overwrite": True},
        },
    }
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


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
