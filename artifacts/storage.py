"""Content-addressed bytes through Django's storage API (`STORAGES["default"]`)."""

import base64
import hashlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from artifacts.models import Blob, blob_key

CHUNK_SIZE = 1024 * 1024


class _SpooledFile(File):
    """A finished temporary file; FileSystemStorage moves it into place instead of copying it."""

    def temporary_file_path(self) -> str:
        return self.name


def _tmp_dir() -> str:
    path = settings.DATA_DIR / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def manifest_digest(md5_by_path: dict[str, str]) -> str:
    """W&B's MANIFEST_MD5 version digest, so ours equals what the SDK computes."""
    h = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path in sorted(md5_by_path):
        h.update(f"{path}:{md5_by_path[path]}\n".encode())
    return h.hexdigest()


def b64_md5(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def blob_store(stream: IO[bytes], *, expected_md5: str | None = None, expected_size: int | None = None) -> Blob:
    """Hash (SHA-256 and MD5, from the same buffer) and spool `stream` in one pass, then store it once.

    Nothing is held in memory beyond one chunk. The Blob row is written only after the bytes are in
    storage, so no row ever points at missing bytes. A mismatch with `expected_md5`/`expected_size`
    raises ValueError and stores nothing.
    """
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    fd, tmp_path = tempfile.mkstemp(dir=_tmp_dir(), prefix="upload-")
    try:
        with os.fdopen(fd, "wb") as tmp:
            while chunk := stream.read(CHUNK_SIZE):
                sha.update(chunk)
                md5.update(chunk)
                tmp.write(chunk)
                size += len(chunk)
        md5_b64 = b64_md5(md5.digest())
        if expected_md5 is not None and expected_md5 != md5_b64:
            raise ValueError(f"Uploaded bytes have MD5 {md5_b64}, expected {expected_md5}.")
        if expected_size is not None and expected_size != size:
            raise ValueError(f"Uploaded {size} bytes, expected {expected_size}.")
        sha256 = sha.hexdigest()
        blob = Blob.objects.filter(sha256=sha256).first()
        if blob is None:
            with open(tmp_path, "rb") as f:
                default_storage.save(blob_key(sha256), _SpooledFile(f, name=tmp_path))
            blob, _ = Blob.objects.get_or_create(sha256=sha256, defaults={"md5": md5_b64, "size": size})
        return blob
    finally:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)


def blob_open(blob: Blob) -> IO[bytes]:
    return default_storage.open(blob.storage_key, "rb")


def blob_chunks(blob: Blob, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The blob's bytes in chunks, from `start` to `end` inclusive (for HTTP range requests)."""
    with blob_open(blob) as f:
        if start:
            f.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            chunk = f.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
