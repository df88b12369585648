"""Storing bytes streams them straight to the store: hashed on the way (MD5 and SHA-256 side by side, off the
reading thread), no temporary copy, and memory bounded by a few chunks whatever the size."""

import base64
import hashlib
import threading
import tracemalloc
from pathlib import Path

import pytest

from artifacts import storage

CHUNK = storage.CHUNK_SIZE
pytestmark = pytest.mark.django_db


class Generated:
    """`size` bytes made on the fly, never held whole; `on_read` sees how far reading has got."""

    def __init__(self, size: int, on_read=None) -> None:
        self.size, self.sent, self.on_read = size, 0, on_read
        self.digests = hashlib.md5(), hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        n = min(CHUNK if n is None or n < 0 else n, self.size - self.sent)
        chunk = bytes([self.sent // CHUNK % 251]) * n
        self.sent += n
        for digest in self.digests:
            digest.update(chunk)
        if self.on_read:
            self.on_read(self.sent)
        return chunk


def test_a_large_stream_is_hashed_right_with_both_digests_off_the_reading_thread(file_storage, monkeypatch):
    threads = set()
    real = storage._Digests.update

    def spy(self, chunk):
        real(self, chunk)
        for pool in self._pools or ():
            threads.update(t.name for t in pool._threads)

    monkeypatch.setattr(storage._Digests, "update", spy)
    stream = Generated(10 * CHUNK + 123)
    blob = storage.blob_store(stream)
    md5, sha = stream.digests
    assert blob.sha256 == sha.hexdigest()
    assert blob.md5 == base64.b64encode(md5.digest()).decode()
    assert blob.size == 10 * CHUNK + 123
    assert (file_storage / blob.storage_key).stat().st_size == blob.size
    assert {name.split("_")[0] for name in threads} == {"md5", "sha256"}
    assert not [t for t in threading.enumerate() if t.name.startswith(("md5_", "sha256_"))]


def test_a_small_file_is_hashed_in_the_calling_thread(file_storage):
    digests = storage._Digests()
    digests.update(b"small")
    digests.close()
    assert digests._pools is None
    assert digests.sha256.hexdigest() == hashlib.sha256(b"small").hexdigest()


def test_bytes_go_straight_to_the_staging_name_in_the_store_and_nowhere_else(file_storage, settings):
    seen = []

    def look(sent: int) -> None:
        if sent == 4 * CHUNK:
            staged = list((file_storage / storage.STAGING_DIR).iterdir())
            seen.append([p.stat().st_size for p in staged])
            outside = [p for p in Path(settings.DATA_DIR).rglob("*") if p.is_file() and file_storage not in p.parents]
            seen.append(outside)

    blob = storage.blob_store(Generated(8 * CHUNK, look))
    (sizes, outside) = seen
    assert len(sizes) == 1 and sizes[0] >= 2 * CHUNK  # written as it is read, bounded by the hashing window
    assert outside == []
    assert not list((file_storage / storage.STAGING_DIR).iterdir())
    assert (file_storage / blob.storage_key).stat().st_size == 8 * CHUNK


def test_memory_stays_at_a_few_chunks_whatever_the_size(file_storage):
    storage.blob_store(Generated(2 * CHUNK))  # warm up imports and threads
    tracemalloc.start()
    try:
        storage.blob_store(Generated(64 * CHUNK))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < (storage._Digests.WINDOW + 4) * CHUNK
