"""Issue 13, huge files: the official SDK sends a file of 2 GiB and more in parts (uploadMultipartUrls, then
CompleteMultipartUploadArtifact). A sparse file just over that threshold is logged and downloaded again, on
local storage (parts through the app) and on S3 (parts straight to moto's bucket, S3_DIRECT).

Marked `huge`: run once by `make test` (SQLite), not again on PostgreSQL."""

import hashlib
import json
import shutil
import tempfile

import pytest
from django.test import override_settings

from artifacts import storage
from artifacts.models import ArtifactVersion, StagedUpload
from tests.wandb_api.helpers import api_key
from wandb_api import views

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.huge]

SIZE = 2 * 1024**3 + 3 * 1024 * 1024 + 7  # over the SDK's 2 GiB threshold: 21 parts of 100 MiB and a short one
# At the most three copies at once (parts, the joined file, its published copy) and the download; the SDK
# makes no copies of its own here (immutable policy, no cache).
DISK_NEEDED = 4 * SIZE

SCRIPT = """
import hashlib, json, os, wandb
run = wandb.init(entity="reviewco", project="mnist")
artifact = wandb.Artifact("huge-model", type="model")
artifact.add_file({path!r}, name="huge.bin", policy="immutable", skip_cache=True)
logged = run.log_artifact(artifact).wait()
run.finish()
entry = wandb.Api().artifact("reviewco/mnist/huge-model:v0").get_entry("huge.bin")
path = entry.download(root="downloaded")
with open(path, "rb") as f:
    digest = hashlib.file_digest(f, "sha256").hexdigest()
size = os.path.getsize(path)
os.remove(path)
print(json.dumps({{"version": logged.version, "size": size, "sha256": digest}}))
"""


@pytest.fixture(scope="module")
def huge_file(tmp_path_factory) -> tuple[str, str]:
    """A sparse file of SIZE bytes (a few bytes written at the start, middle and end) and its SHA-256."""
    for place in {tmp_path_factory.getbasetemp(), tempfile.gettempdir()}:  # moto spools objects to the latter
        free = shutil.disk_usage(place).free
        need = DISK_NEEDED / 1024**3
        assert free > DISK_NEEDED, f"{place} has {free / 1024**3:.1f} GiB free; these tests need {need:.0f} GiB"
    path = tmp_path_factory.mktemp("huge") / "huge.bin"
    with path.open("wb") as f:
        for offset in (0, SIZE // 2, SIZE - 7):
            f.seek(offset)
            f.write(b"weights")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            digest.update(chunk)
    return str(path), digest.hexdigest()


def log_and_download(run_sdk, team, huge_file) -> None:
    path, sha256 = huge_file
    process = run_sdk(SCRIPT.format(path=path), key=api_key(team.member), timeout=600)
    assert process.returncode == 0, process.stdout + process.stderr
    out = json.loads(process.stdout.strip().splitlines()[-1])
    assert out == {"version": "v0", "size": SIZE, "sha256": sha256}
    blob = ArtifactVersion.committed.get(artifact__name="huge-model").files.get(path="huge.bin").blob
    assert (blob.sha256, blob.size) == (sha256, SIZE)
    assert not StagedUpload.objects.filter(completed=False).exists()


def test_a_file_over_two_gib_is_sent_in_parts_through_the_app_on_local_storage(
    run_sdk, team, project, huge_file, file_storage
):
    log_and_download(run_sdk, team, huge_file)
    assert not list((file_storage / "staging").iterdir()), "parts or staged copies were left behind"


def test_a_file_over_two_gib_is_sent_in_parts_straight_to_the_bucket(
    run_sdk, team, project, huge_file, s3, monkeypatch
):
    def through_the_app(*args, **kwargs):
        raise AssertionError("a part came through the app")

    monkeypatch.setattr(storage, "part_store", through_the_app)
    monkeypatch.setattr(storage, "blob_store", through_the_app)
    monkeypatch.setattr(views, "blob_store", through_the_app)
    with override_settings(S3_DIRECT_TRANSFERS=True):
        log_and_download(run_sdk, team, huge_file)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="registry-test")["Contents"]]
    assert not [k for k in keys if k.startswith("staging/")], keys
