"""Stored bytes are checked on the way out, repaired on the way in, and never left half-written (local files)."""

import errno
import hashlib
import http.client
import io
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.test import RequestFactory

from artifacts import services, storage
from artifacts.models import Blob, BlobStatus
from artifacts.storage import CHUNK_SIZE, BlobUnavailable, blob_store
from tests.factories import log_version, make_run, snapshot
from wandb_api import tokens

# Several chunks, so that everything but the held-back last one would reach a client.
CONTENT = bytes(range(256)) * (CHUNK_SIZE // 256) * 3 + b"tail"


def stored(root: Path) -> dict[str, bytes]:
    """Every file under the storage root, by relative path: what a fault must leave unchanged."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def flip_a_byte(root: Path, blob: Blob, at: int = 10) -> None:
    path = root / blob.storage_key
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def download_url(blob: Blob) -> str:
    return tokens.download_url(RequestFactory().get("/"), blob=blob.sha256, name="model.pt")


def read_all(response) -> tuple[bytes, BaseException | None]:
    received = b""
    try:
        for chunk in response.streaming_content:
            received += chunk
    except BlobUnavailable as exc:
        return received, exc
    return received, None


def test_a_corrupt_file_is_cut_short_before_its_last_chunk_and_marked_bad(client, project, file_storage):
    blob = log_version(project, content=CONTENT).files.get().blob
    flip_a_byte(file_storage, blob)
    response = client.get(download_url(blob))
    received, error = read_all(response)
    assert error is not None
    assert len(received) < len(CONTENT)
    blob.refresh_from_db()
    assert blob.status == BlobStatus.BAD and blob.verified_at is not None


def test_a_one_chunk_corrupt_file_sends_no_byte(client, project, file_storage):
    blob = log_version(project, content=b"small weights").files.get().blob
    flip_a_byte(file_storage, blob, at=0)
    received, error = read_all(client.get(download_url(blob)))
    assert (received, error is not None) == (b"", True)


def test_a_file_with_extra_bytes_is_cut_short_too(client, project, file_storage):
    blob = log_version(project, content=CONTENT).files.get().blob
    with (file_storage / blob.storage_key).open("ab") as f:
        f.write(b"junk")
    received, error = read_all(client.get(download_url(blob)))
    assert error is not None and len(received) < len(CONTENT)


def test_a_good_file_is_hashed_as_it_streams_and_served_whole(client, project):
    blob = log_version(project, content=CONTENT).files.get().blob
    response = client.get(download_url(blob))
    assert response["ETag"] == f'"{hashlib.sha256(CONTENT).hexdigest()}"'
    assert read_all(response) == (CONTENT, None)
    blob.refresh_from_db()
    assert blob.status == BlobStatus.OK


def test_a_blob_marked_bad_is_refused_with_a_reason_whole_or_in_ranges(client, project, file_storage):
    blob = log_version(project, content=CONTENT).files.get().blob
    flip_a_byte(file_storage, blob)
    read_all(client.get(download_url(blob)))
    for headers in [{}, {"Range": "bytes=0-99"}]:
        response = client.get(download_url(blob), headers=headers)
        assert response.status_code == 410
        assert "corrupt" in response.json()["errors"][0]["message"]
        assert not response.has_header("ETag")
        assert not response.has_header("Retry-After")


def test_the_pages_download_link_refuses_a_corrupt_file_in_the_layout(client, team, project, file_storage):
    version = log_version(project, content=CONTENT)
    blob = version.files.get().blob
    flip_a_byte(file_storage, blob)
    client.force_login(team.viewer)
    url = version.file_url("model.pt")
    received, error = read_all(client.get(url))
    assert error is not None and len(received) < len(CONTENT)
    response = client.get(url)
    assert response.status_code == 410
    page = response.content.decode()
    assert 'class="topbar"' in page
    assert "The server&#x27;s copy of this file is corrupt" in page


def test_a_missing_file_answers_410_with_a_reason_and_is_marked_missing(client, project, file_storage):
    blob = log_version(project, content=CONTENT).files.get().blob
    (file_storage / blob.storage_key).unlink()
    response = client.get(download_url(blob))
    assert response.status_code == 410
    assert "missing" in response.json()["errors"][0]["message"]
    blob.refresh_from_db()
    assert blob.status == BlobStatus.MISSING


def test_logging_the_good_bytes_again_repairs_a_corrupt_blob(client, project, file_storage):
    blob = log_version(project, "cnn", content=CONTENT).files.get().blob
    flip_a_byte(file_storage, blob)
    read_all(client.get(download_url(blob)))
    log_version(project, "other", content=CONTENT)
    blob.refresh_from_db()
    assert blob.status == BlobStatus.OK
    assert (file_storage / blob.storage_key).read_bytes() == CONTENT
    assert read_all(client.get(download_url(blob))) == (CONTENT, None)


def test_logging_the_same_content_again_restores_lost_bytes(project, file_storage):
    first = log_version(project, "cnn", content=CONTENT)
    blob = first.files.get().blob
    (file_storage / blob.storage_key).unlink()
    again = log_version(project, "cnn", content=CONTENT)
    assert again == first
    assert (file_storage / blob.storage_key).read_bytes() == CONTENT


def test_a_version_cannot_commit_with_a_file_whose_bytes_are_gone(team, project):
    blob = log_version(project, "cnn", content=b"weights").files.get().blob
    Blob.objects.filter(pk=blob.pk).update(status=BlobStatus.MISSING)
    version = services.version_create(
        run=make_run(project), user=team.member, name="other", type="model", digest="0" * 32
    ).version
    services.version_file_add(version=version, path="model.pt", blob=blob, user=team.member)
    with pytest.raises(ValidationError, match="missing or corrupt"):
        services.version_commit(version=version, user=team.member)
    version.refresh_from_db()
    assert not version.is_committed


class FullDisk(FileSystemStorage):
    """A store that fills up half-way through writing a file, as a full filesystem does."""

    def _save(self, name: str, content) -> str:
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.read()
        path.write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")


class Recording(FileSystemStorage):
    """A store that remembers the name of every file it writes."""

    written: list[str] = []

    def _save(self, name: str, content) -> str:
        Recording.written.append(name)
        return super()._save(name, content)


def use_storage(settings, backend: type, root: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.{backend.__name__}", "OPTIONS": {"location": root}},
    }


def test_a_full_store_leaves_no_partial_file_and_no_row(settings, project, file_storage):
    log_version(project, "cnn", content=b"kept")
    before, files_before = snapshot(), stored(file_storage)
    use_storage(settings, FullDisk, file_storage)
    with pytest.raises(OSError) as exc:
        blob_store(io.BytesIO(CONTENT))
    assert exc.value.errno == errno.ENOSPC
    assert snapshot() == before
    assert stored(file_storage) == files_before
    assert not (settings.DATA_DIR / "tmp").exists()  # uploads never spool to DATA_DIR/tmp


def test_a_full_store_during_a_repair_leaves_the_old_copy_and_its_mark(settings, project, file_storage):
    blob = log_version(project, "cnn", content=CONTENT).files.get().blob
    flip_a_byte(file_storage, blob)
    Blob.objects.filter(pk=blob.pk).update(status=BlobStatus.BAD)
    before, files_before = snapshot(), stored(file_storage)
    use_storage(settings, FullDisk, file_storage)
    with pytest.raises(OSError):
        blob_store(io.BytesIO(CONTENT))
    assert snapshot() == before
    assert stored(file_storage) == files_before
    blob.refresh_from_db()
    assert blob.status == BlobStatus.BAD


def test_bytes_are_written_under_a_staging_name_and_renamed_into_place(settings, project, file_storage):
    use_storage(settings, Recording, file_storage)
    Recording.written = []
    blob = blob_store(io.BytesIO(CONTENT))
    Blob.objects.filter(pk=blob.pk).update(status=BlobStatus.BAD)
    blob_store(io.BytesIO(CONTENT))
    # A second save of the same content (here, a repair) never writes at the final key a reader may be reading.
    assert len(Recording.written) == 2
    assert all(name.startswith(f"{storage.STAGING_DIR}/") for name in Recording.written)
    assert stored(file_storage) == {blob.storage_key: CONTENT}


def test_a_check_that_began_before_a_repair_does_not_undo_it(project, file_storage):
    blob = log_version(project, content=CONTENT).files.get().blob
    stale = Blob.objects.get(pk=blob.pk)
    flip_a_byte(file_storage, blob)
    assert storage.blob_verify(blob) == BlobStatus.BAD
    blob_store(io.BytesIO(CONTENT))
    assert not storage.blob_record(stale, BlobStatus.BAD, seen=stale.verified_at)
    blob.refresh_from_db()
    assert blob.status == BlobStatus.OK


@pytest.mark.django_db(transaction=True)
def test_over_http_a_corrupt_download_ends_as_an_incomplete_response(live_server, project, file_storage):
    blob = log_version(project, content=CONTENT).files.get().blob
    flip_a_byte(file_storage, blob)
    url = live_server.url + download_url(blob).split("testserver", 1)[1]
    with urllib.request.urlopen(url) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(CONTENT))
        with pytest.raises(http.client.IncompleteRead) as exc:
            response.read()
    assert len(exc.value.partial) < len(CONTENT)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url)
    assert refused.value.code == 410
    assert "corrupt" in json.loads(refused.value.read())["errors"][0]["message"]


def test_the_same_content_under_the_same_name_is_asked_for_again_when_its_bytes_are_lost(team, project, file_storage):
    first = log_version(project, "cnn", content=CONTENT)
    blob = first.files.get().blob
    (file_storage / blob.storage_key).unlink()
    result = services.version_create(
        run=make_run(project), user=team.member, name="cnn", type="model", digest=first.digest
    )
    # A pending version, so the client uploads the bytes instead of being told they are stored.
    assert result.created and not result.version.is_committed
    services.version_file_add(
        version=result.version, path="model.pt", blob=blob_store(io.BytesIO(CONTENT)), user=team.member
    )
    assert services.version_commit(version=result.version, user=team.member) == first
    assert (file_storage / blob.storage_key).read_bytes() == CONTENT
    assert list(first.artifact.versions.filter(state="COMMITTED")) == [first]
