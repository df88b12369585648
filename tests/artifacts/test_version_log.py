import base64
import hashlib
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import Http404

from artifacts import services, storage
from artifacts.models import ArtifactAlias, ArtifactVersion, Blob
from tests.factories import log_version, make_run, snapshot


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def test_versions_are_numbered_from_v0_in_logging_order(project):
    versions = [log_version(project, "cnn", content=f"weights {i}".encode()) for i in range(3)]
    assert [v.label for v in versions] == ["v0", "v1", "v2"]
    assert all(v.is_committed for v in versions)


def test_latest_moves_to_the_newest_version(project):
    v0 = log_version(project, "cnn", content=b"a")
    v1 = log_version(project, "cnn", content=b"b")
    latest = ArtifactAlias.objects.get(artifact=v0.artifact, name="latest")
    assert latest.version == v1


def test_digest_is_the_wandb_manifest_digest(project):
    files = {"b.bin": b"second", "a/model.pt": b"first"}
    version = log_version(project, "cnn", files=files)
    manifest = "wandb-artifact-manifest-v1\n" + "".join(f"{p}:{b64md5(files[p])}\n" for p in sorted(files))
    assert version.digest == hashlib.md5(manifest.encode()).hexdigest()
    assert len(version.digest) == 32
    assert version.size == len(b"second") + len(b"first")
    assert version.num_files == 2


def test_same_content_under_the_same_name_returns_the_existing_version_with_aliases_merged(project):
    first = log_version(project, "cnn", content=b"same")
    before = snapshot()
    again = services.version_log(
        run=first.created_by_run,
        user=first.created_by,
        name="cnn",
        type="model",
        files={"model.pt": io.BytesIO(b"same")},
        aliases=["best"],
    )
    assert again.created is False
    assert again.version == first
    after = snapshot()
    assert after["ArtifactVersion"] == before["ArtifactVersion"]
    assert ArtifactAlias.objects.filter(version=first, name="best").exists()


def test_same_content_under_another_name_is_a_new_artifact(project):
    a = log_version(project, "cnn", content=b"same")
    b = log_version(project, "other", content=b"same")
    assert a.artifact != b.artifact
    assert b.label == "v0"


def test_bytes_are_stored_once_and_shared(project, file_storage):
    a = log_version(project, "cnn", content=b"shared bytes")
    b = log_version(project, "other", content=b"shared bytes")
    blob = a.files.get().blob
    assert b.files.get().blob == blob
    assert Blob.objects.count() == 1
    stored = [p for p in file_storage.rglob("*") if p.is_file()]
    assert len(stored) == 1
    assert stored[0].name == hashlib.sha256(b"shared bytes").hexdigest()
    assert blob.md5 == b64md5(b"shared bytes")
    with default_storage.open(blob.storage_key) as f:
        assert f.read() == b"shared bytes"


def test_a_directory_is_logged_with_relative_posix_paths(project, tmp_path):
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "weights.bin").write_bytes(b"w")
    (root / "sub" / "config.json").write_bytes(b"{}")
    files = services.files_from_path(root)
    assert sorted(files) == ["sub/config.json", "weights.bin"]


def test_a_type_change_under_the_same_name_is_rejected_and_writes_nothing(project):
    log_version(project, "mnist-dataset", type="dataset", content=b"d")
    run = make_run(project)
    before = snapshot()
    with pytest.raises(ValidationError, match="has type 'dataset'"):
        services.version_log(
            run=run, user=run.created_by, name="mnist-dataset", type="model", files={"m": io.BytesIO(b"m")}
        )
    assert snapshot() == {**before, "Blob": before["Blob"] + 1}  # the bytes may stay; no row points at them


@pytest.mark.parametrize("path", ["../escape", "/abs/path", "a\\b", "a\x00b", "a/../../b"])
def test_a_path_that_escapes_is_rejected_and_nothing_is_written(project, file_storage, path):
    run = make_run(project)
    before = snapshot()
    with pytest.raises(ValidationError, match="Invalid file path"):
        services.version_log(run=run, user=run.created_by, name="cnn", type="model", files={path: io.BytesIO(b"x")})
    assert snapshot() == before
    assert not file_storage.exists() or not any(p.is_file() for p in file_storage.rglob("*"))


@pytest.mark.parametrize("alias", ["latest", "v3"])
def test_a_reserved_alias_is_rejected_and_nothing_is_written(project, alias):
    run = make_run(project)
    before = snapshot()
    with pytest.raises(ValidationError):
        services.version_log(
            run=run, user=run.created_by, name="cnn", type="model", files={"m": io.BytesIO(b"x")}, aliases=[alias]
        )
    assert snapshot() == before


def test_a_bad_artifact_name_is_rejected_and_nothing_is_written(project):
    run = make_run(project)
    before = snapshot()
    with pytest.raises(ValidationError, match="artifact name"):
        services.version_log(run=run, user=run.created_by, name="bad/name", type="model", files={"m": io.BytesIO(b"")})
    assert snapshot() == before


def test_a_viewer_cannot_log(team, project):
    run = make_run(project)
    before = snapshot()
    with pytest.raises(PermissionDenied):
        services.version_log(run=run, user=team.viewer, name="cnn", type="model", files={"m": io.BytesIO(b"x")})
    assert snapshot() == before


def test_an_outsider_gets_not_found(team, project):
    run = make_run(project)
    with pytest.raises(Http404):
        services.version_log(run=run, user=team.outsider, name="cnn", type="model", files={"m": io.BytesIO(b"x")})


class FailingStorage(storage.default_storage.__class__):
    """A disk that fails mid-write, as a full or unplugged volume does."""

    def _save(self, name, content):
        content.read(3)
        raise OSError("No space left on device")


def test_a_storage_failure_leaves_no_version_and_no_row_pointing_at_missing_bytes(project, settings, tmp_path):
    log_version(project, "cnn", content=b"first")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.FailingStorage", "OPTIONS": {"location": tmp_path / "broken"}},
    }
    run = make_run(project)
    before = snapshot()
    with pytest.raises(OSError):
        services.version_log(
            run=run,
            user=run.created_by,
            name="cnn",
            type="model",
            files={"a.bin": io.BytesIO(b"new bytes"), "b.bin": io.BytesIO(b"more")},
        )
    assert snapshot() == before
    assert ArtifactVersion.objects.filter(artifact__name="cnn").count() == 1
    assert not (tmp_path / "tmp").exists()  # uploads never spool to DATA_DIR/tmp
    assert not (tmp_path / "broken" / storage.STAGING_DIR).exists() or not any(
        (tmp_path / "broken" / storage.STAGING_DIR).iterdir()
    )


class CountingStream(io.RawIOBase):
    """A 20 MiB stream that records the largest read, to show hashing never slurps a whole file."""

    def __init__(self, size: int):
        self.remaining = size
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        self.largest_read = max(self.largest_read, n if n >= 0 else self.remaining)
        n = self.remaining if n < 0 else min(n, self.remaining)
        self.remaining -= n
        return b"\x07" * n


def test_bytes_are_hashed_and_written_in_chunks(db):
    stream = CountingStream(20 * 1024 * 1024)
    blob = storage.blob_store(stream)
    assert blob.size == 20 * 1024 * 1024
    assert 0 < stream.largest_read <= storage.CHUNK_SIZE
    assert blob.sha256 == hashlib.sha256(b"\x07" * (20 * 1024 * 1024)).hexdigest()


def test_an_md5_mismatch_stores_nothing(db, file_storage):
    with pytest.raises(ValueError, match="MD5"):
        storage.blob_store(io.BytesIO(b"tampered"), expected_md5=b64md5(b"original"))
    assert Blob.objects.count() == 0
    assert not file_storage.exists() or not any(p.is_file() for p in file_storage.rglob("*"))


def test_only_committed_versions_are_visible_through_the_committed_manager(project):
    v = log_version(project, "cnn", content=b"a")
    pending = ArtifactVersion.objects.create(artifact=v.artifact, digest="0" * 32)
    assert list(ArtifactVersion.committed.filter(artifact=v.artifact)) == [v]
    assert pending.label == "pending"


def test_version_indexes_are_never_reused_after_a_delete(team, project):
    v0 = log_version(project, "cnn", content=b"a")
    v1 = log_version(project, "cnn", content=b"b")
    services.version_delete(version=v1, user=team.admin)
    assert ArtifactAlias.objects.get(artifact=v0.artifact, name="latest").version == v0
    v2 = log_version(project, "cnn", content=b"c")
    assert v2.label == "v2"


def test_use_records_lineage(team, project):
    v = log_version(project, "cnn", content=b"a")
    consumer = make_run(project)
    services.version_use(run=consumer, version=v, user=team.member)
    services.version_use(run=consumer, version=v, user=team.member)
    assert v.usages.count() == 1
