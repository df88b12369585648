"""`manage.py collect_garbage`: unused blobs, dead uploads' leftovers and old pending versions, after a grace period."""

import io
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command
from django.utils import timezone

from artifacts import services, storage
from artifacts.models import ArtifactVersion, Blob
from tests.factories import log_version, make_run, snapshot

OLD = timezone.now() - timedelta(hours=30)


def collect(*args: str) -> list[str]:
    out = StringIO()
    call_command("collect_garbage", *args, stdout=out)
    return out.getvalue().splitlines()


def age(path: Path) -> None:
    os.utime(path, (OLD.timestamp(), OLD.timestamp()))


def test_a_blob_no_file_refers_to_is_removed_with_its_bytes_after_the_grace_period(team, project, file_storage):
    old = log_version(project, "cnn", content=b"old weights")
    kept = log_version(project, "cnn", content=b"new weights")
    unused = old.files.get().blob
    services.version_delete(version=old, user=team.member)
    fresh = storage.blob_store(io.BytesIO(b"uploaded a moment ago"))
    Blob.objects.exclude(pk=fresh.pk).update(created_at=OLD)
    lines = collect()
    assert lines == [
        f"blob {unused.sha256} (11\xa0bytes)",
        "Removed 0 pending version(s) (0 file entries), 1 unused blob(s) (11\xa0bytes) and 0 staged leftover(s).",
    ]
    assert set(Blob.objects.values_list("pk", flat=True)) == {kept.files.get().blob_id, fresh.pk}
    assert not (file_storage / unused.storage_key).exists()
    assert (file_storage / fresh.storage_key).exists()


def test_old_pending_versions_go_first_and_their_unused_blobs_with_them(team, project, file_storage):
    committed = log_version(project, "cnn", content=b"committed")
    pending = services.version_create(
        run=committed.created_by_run, user=team.member, name="cnn", type="model", digest="1" * 32
    ).version
    blob = storage.blob_store(io.BytesIO(b"never committed"))
    services.version_file_add(version=pending, path="model.pt", blob=blob, user=team.member)
    ArtifactVersion.objects.filter(pk=pending.pk).update(created_at=OLD)
    Blob.objects.update(created_at=OLD)
    summary = collect()[-1]
    assert summary.startswith("Removed 1 pending version(s) (1 file entries), 1 unused blob(s)")
    assert list(ArtifactVersion.objects.all()) == [committed]
    assert not (file_storage / blob.storage_key).exists()


def test_content_collected_meanwhile_is_stored_again_by_the_next_upload(team, project, file_storage):
    old = log_version(project, "cnn", content=b"weights")
    log_version(project, "cnn", content=b"other")
    services.version_delete(version=old, user=team.member)
    Blob.objects.update(created_at=OLD)
    collect()
    again = log_version(project, "cnn", content=b"weights").files.get().blob
    assert (file_storage / again.storage_key).read_bytes() == b"weights"


def test_staged_leftovers_are_removed_after_the_grace_period(project, file_storage):
    staging = file_storage / storage.STAGING_DIR
    staging.mkdir(parents=True)
    (staging / "dead").write_bytes(b"half a file")
    (staging / "writing").write_bytes(b"a file being written")
    age(staging / "dead")
    lines = collect()
    assert lines[0] == f"leftover {storage.STAGING_DIR}/dead"
    assert lines[-1].endswith("and 1 staged leftover(s).")
    assert [p.name for p in staging.iterdir()] == ["writing"]


def test_nothing_in_use_or_recent_is_touched(project, file_storage):
    log_version(project, "cnn", content=b"in use")
    storage.blob_store(io.BytesIO(b"recent"))
    before = snapshot()
    files = sorted(p for p in file_storage.rglob("*") if p.is_file())
    assert collect()[-1] == (
        "Removed 0 pending version(s) (0 file entries), 0 unused blob(s) (0\xa0bytes) and 0 staged leftover(s)."
    )
    assert snapshot() == before
    assert sorted(p for p in file_storage.rglob("*") if p.is_file()) == files


def test_a_negative_grace_period_is_refused(db):
    with pytest.raises(CommandError, match="negative"):
        call_command("collect_garbage", "--hours=-1")


UPLOADER = """
import os, sys, django
os.environ["DJANGO_SETTINGS_MODULE"] = "registry_site.settings"
django.setup()
from artifacts.storage import blob_store
blob_store(sys.stdin.buffer)
"""


def test_a_killed_upload_leaves_only_a_staged_file_collected_after_the_grace_period(db, settings, file_storage):
    # The worker's own settings store files under DATA_DIR/files, as file_storage does.
    assert file_storage == settings.DATA_DIR / "files"
    env = {**os.environ, "DATA_DIR": str(settings.DATA_DIR)}
    worker = subprocess.Popen(
        [sys.executable, "-c", UPLOADER], stdin=subprocess.PIPE, env=env, cwd=django_settings.BASE_DIR
    )
    worker.stdin.write(b"x" * storage.CHUNK_SIZE * 3)
    worker.stdin.flush()
    staging = file_storage / storage.STAGING_DIR
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in staging.glob("*")):
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    (left,) = staging.iterdir()
    assert not (settings.DATA_DIR / "tmp").exists()
    assert collect()[-1].endswith("and 0 staged leftover(s).")
    assert left.exists()
    age(left)
    lines = collect()
    assert lines == [
        f"leftover {storage.STAGING_DIR}/{left.name}",
        "Removed 0 pending version(s) (0 file entries), 0 unused blob(s) (0\xa0bytes) and 1 staged leftover(s).",
    ]
    assert not left.exists()
    assert not Blob.objects.exists()


class CollectsWhileStoring(FileSystemStorage):
    """Local files, where collect_garbage runs at the worst moment of an upload: its bytes are published at
    their key, its row is not written yet (the upload looks at the key again once it holds the row's lock)."""

    reports: list = []

    def size(self, name: str) -> int:
        if not name.startswith(storage.STAGING_DIR) and self.exists(name) and not self.reports:
            self.reports.append(services.garbage_collect(older_than=timedelta(hours=1)))
        return super().size(name)


def test_an_upload_racing_the_collection_of_its_blob_keeps_its_bytes(settings, team, project, file_storage):
    old = log_version(project, "cnn", content=b"weights")
    log_version(project, "cnn", content=b"other")
    blob = old.files.get().blob
    services.version_delete(version=old, user=team.member)
    (file_storage / blob.storage_key).unlink()
    Blob.objects.filter(pk=blob.pk).update(created_at=OLD)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.CollectsWhileStoring", "OPTIONS": {"location": file_storage}},
    }
    CollectsWhileStoring.reports = []
    stored = storage.blob_store(io.BytesIO(b"weights"))
    (report,) = CollectsWhileStoring.reports
    assert [b.sha256 for b in report.blobs] == [blob.sha256]
    assert Blob.objects.get(pk=blob.pk).status == "ok"
    assert (file_storage / stored.storage_key).read_bytes() == b"weights"


def test_a_blob_collected_between_its_reuse_and_its_file_is_never_referred_to(team, project, file_storage):
    blob = storage.blob_store(io.BytesIO(b"orphan bytes"))
    pending = services.version_create(
        run=make_run(project), user=team.member, name="cnn", type="model", digest="a" * 32
    ).version
    Blob.objects.filter(pk=blob.pk).update(created_at=OLD)
    services.garbage_collect(older_than=timedelta(hours=1))  # removes it: no file refers to it
    before = snapshot()
    with pytest.raises(storage.BlobRemoved):
        services.version_file_add(version=pending, path="model.pt", blob=blob, user=team.member)
    assert snapshot() == before


def test_an_upload_racing_the_collection_of_the_content_it_reused_answers_503_and_its_retry_stores_it(
    client, team, project, file_storage, monkeypatch
):
    from tests.test_faults import CONTENT, upload_url
    from wandb_api import views

    old = storage.blob_store(io.BytesIO(CONTENT))
    Blob.objects.filter(pk=old.pk).update(created_at=OLD)
    url = upload_url(client, team, project)
    real = views.blob_store

    def reuse_then_collect(*args, **kwargs):
        reused = real(*args, **kwargs)
        services.garbage_collect(older_than=timedelta(hours=1))
        return reused

    monkeypatch.setattr(views, "blob_store", reuse_then_collect)
    response = client.put(url, data=CONTENT, content_type="application/octet-stream")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "removed by maintenance" in response.json()["errors"][0]["message"]
    assert not Blob.objects.exists()

    monkeypatch.setattr(views, "blob_store", real)
    assert client.put(url, data=CONTENT, content_type="application/octet-stream").status_code == 200
    stored = Blob.objects.get()
    assert (file_storage / stored.storage_key).read_bytes() == CONTENT


def test_finished_background_tasks_are_pruned_after_task_days(db):
    from django_tasks_db.models import DBTaskResult

    from registry.tasks import deliver_webhook

    old, recent, waiting = (deliver_webhook.enqueue(0).id for _ in range(3))
    done = timezone.now()
    DBTaskResult.objects.filter(pk=old).update(status="SUCCESSFUL", finished_at=done - timedelta(days=15))
    DBTaskResult.objects.filter(pk=recent).update(status="FAILED", finished_at=done - timedelta(days=13))
    collect()
    assert {str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)} == {recent, waiting}
    collect("--task-days", "0")
    assert {str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)} == {waiting}
    with pytest.raises(CommandError):
        collect("--task-days", "-1")
