"""Content-addressed bytes through Django's storage API (`STORAGES["default"]`), checked on the way in and out.

Local files (FileSystemStorage) and S3 (django-storages) alike: bytes are written under a staging name (hashed
on the way, MD5 and SHA-256 in parallel) and published at their content-addressed key only when complete, full
reads are hashed while they stream, and a blob whose bytes are missing or corrupt is marked so (Blob.status) and
never served or reused until an upload of the same content repairs it.
"""

import base64
import binascii
import contextlib
import errno
import hashlib
import io
import logging
import os
import shutil
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.functional import empty
from django.utils.http import content_disposition_header

from artifacts.models import Blob, BlobStatus, blob_key, insert_or_update
from registry_site.prepared import Prepared, first

CHUNK_SIZE = 1024 * 1024
STAGING_DIR = "staging"
logger = logging.getLogger(__name__)


class BlobRemoved(Exception):
    """Known content found stored a moment ago was removed by collect_garbage (no file referred to it) before a
    file could refer to it: nothing was written, and sending the bytes again stores them anew."""

    def __init__(self) -> None:
        super().__init__("The file's stored copy was removed by maintenance a moment ago; send it again.")


class BlobUnavailable(Exception):
    """The stored bytes of a blob are missing or corrupt: nothing of them is served until they are repaired."""

    def __init__(self, blob: Blob) -> None:
        self.blob = blob
        state = "missing" if blob.status == BlobStatus.MISSING else "corrupt"
        super().__init__(
            f"The server's copy of this file is {state} (SHA-256 {blob.sha256[:12]}…); "
            "it is not served until the same content is uploaded again."
        )


def manifest_digest(md5_by_path: dict[str, str]) -> str:
    """W&B's MANIFEST_MD5 version digest, so ours equals what the SDK computes."""
    h = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path in sorted(md5_by_path):
        h.update(f"{path}:{md5_by_path[path]}\n".encode())
    return h.hexdigest()


def b64_md5(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _is_s3() -> bool:
    # By module name: boto3 is imported only when S3 is configured (it costs each worker about 25 MiB).
    return default_storage.__class__.__module__ == "storages.backends.s3"


def direct_transfers() -> bool:
    """Whether clients move file bytes straight to and from the object store through presigned URLs (S3 with
    S3_DIRECT, the default there), so that no file byte passes through the app servers."""
    return _is_s3() and settings.S3_DIRECT_TRANSFERS


def _s3_params(key: str, **params: Any) -> dict[str, Any]:
    # The storage's own name mapping, so S3_PREFIX (`location`) applies as for every other call.
    return {"Bucket": default_storage.bucket_name, "Key": default_storage._normalize_name(key), **params}


def _s3_client() -> Any:
    """One boto3 client per storage for every thread (clients are thread-safe). django-storages keeps a boto3
    resource per thread, each loading S3's models again (about 17 MiB): only uploads through the app use those."""
    storage = default_storage._wrapped if default_storage._wrapped is not empty else default_storage
    client = getattr(storage, "_shared_s3_client", None)
    if client is None:
        client = storage._shared_s3_client = default_storage.connection.meta.client
    return client


def _not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


def md5_hex(md5_b64: str) -> str:
    """The hex form of a base64 MD5 (the W&B protocol's); ValueError unless it is one."""
    try:
        digest = base64.b64decode(md5_b64, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise ValueError(f"'{md5_b64}' is not a base64 MD5 digest.")
    return digest.hex()


def _stored_size(key: str) -> int | None:
    """The size of the object at `key`, or None when there is none."""
    if _is_s3():
        try:
            return _s3_client().head_object(**_s3_params(key))["ContentLength"]
        except Exception as exc:
            if _not_found(exc):
                return None
            raise
    try:
        return default_storage.size(key)
    except FileNotFoundError:
        return None


class _Digests:
    """MD5 and SHA-256 of a stream, each updated in its own thread once the stream is longer than a chunk.

    hashlib releases the GIL on large updates, so the two digests and the caller's reading and writing run
    side by side: storing a file costs about the time of MD5 alone, the slower of the two. Each digest's
    thread takes the chunks in order; at most WINDOW chunks are in flight, so memory stays bounded.
    """

    WINDOW = 4

    def __init__(self) -> None:
        self.md5, self.sha256, self.size = hashlib.md5(), hashlib.sha256(), 0
        self._pools: tuple[ThreadPoolExecutor, ThreadPoolExecutor] | None = None
        self._pending: deque = deque()

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._pools is None and self.size <= CHUNK_SIZE:
            self.md5.update(chunk)
            self.sha256.update(chunk)
            return
        if self._pools is None:
            self._pools = (ThreadPoolExecutor(1, "md5"), ThreadPoolExecutor(1, "sha256"))
        md5_pool, sha_pool = self._pools
        self._pending.append((md5_pool.submit(self.md5.update, chunk), sha_pool.submit(self.sha256.update, chunk)))
        while len(self._pending) > self.WINDOW:
            for future in self._pending.popleft():
                future.result()

    def close(self) -> None:
        """Wait for every chunk to be hashed and stop the threads."""
        try:
            while self._pending:
                for future in self._pending.popleft():
                    future.result()
        finally:
            for pool in self._pools or ():
                pool.shutdown(wait=True, cancel_futures=True)
            self._pools = None


class _HashingFile(File):
    """`stream` as a Django File, read in CHUNK_SIZE pieces, each fed to `digests` as it is read."""

    DEFAULT_CHUNK_SIZE = CHUNK_SIZE

    def __init__(self, stream: IO[bytes], digests: _Digests) -> None:
        super().__init__(None)
        self.stream, self.digests = stream, digests

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(CHUNK_SIZE if size is None or size < 0 else size)
        if chunk:
            self.digests.update(chunk)
        return chunk

    def seek(self, *args: object) -> int:
        raise io.UnsupportedOperation("A request body is read once.")


def _stage(stream: IO[bytes], digests: _Digests, name: str | None = None) -> str:
    """Save `stream` under a new staging name, hashing it on the way (no other copy is made); returns the name.

    Local files are written where they will stay (publishing links them, see _publish); S3 receives a multipart
    upload (parts of AWS_S3_TRANSFER_CONFIG's size, see settings). The stored size is checked against what was
    read, so a store that kept part of the bytes is never trusted.
    """
    name = name or staging_name()
    try:
        staged = default_storage.save(name, _HashingFile(stream, digests))
    except BaseException:
        # A failed local save may leave part of the file (a failed S3 upload leaves none).
        with contextlib.suppress(Exception):
            default_storage.delete(name)
        raise
    finally:
        digests.close()
    if (kept := _stored_size(staged)) != digests.size:
        default_storage.delete(staged)
        raise OSError(errno.EIO, f"The store kept {kept} of {digests.size} bytes.")
    return staged


def _publish(staged: str, key: str) -> None:
    """Put the complete staged bytes under `key`, so that `key` never holds part of them; `staged` stays.

    Local files: a second staging name hard-linked to the staged file (a copy where links are not supported),
    renamed over the final name (atomic within the store's filesystem; a process dying in between leaves only
    staging names, which collect_garbage removes). S3: a server-side copy. A failure leaves `key` as it was.
    """
    if _is_s3():
        # boto3's managed copy: one CopyObject up to 5 GiB, in 1 GiB parts beyond (one CopyObject cannot).
        from boto3.s3.transfer import TransferConfig

        source = _s3_params(staged)
        config = TransferConfig(multipart_threshold=5 * 1024**3, multipart_chunksize=1024**3)
        _s3_client().copy(source, source["Bucket"], _s3_params(key)["Key"], Config=config)
        return
    final = default_storage.path(key)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    beside = default_storage.path(f"{STAGING_DIR}/{uuid.uuid4().hex}.link")
    try:
        try:
            os.link(default_storage.path(staged), beside)
        except OSError:
            shutil.copyfile(default_storage.path(staged), beside)
        os.replace(beside, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(beside)


def staging_name() -> str:
    """A new name under which bytes wait, unpublished, until checked (collect_garbage removes forgotten ones)."""
    return f"{STAGING_DIR}/{uuid.uuid4().hex}"


def presigned_upload(name: str, *, md5: str, expires: int) -> tuple[str, list[str]]:
    """A URL of the object store that PUTs one object at staging `name`, and the headers (W&B's `Key:Value`
    form) to send with it. Content-MD5 is signed, so the store itself refuses other bytes; blob_adopt checks
    again what it kept."""
    url = _s3_client().generate_presigned_url(
        "put_object", Params=_s3_params(name, ContentMD5=md5), ExpiresIn=expires, HttpMethod="PUT"
    )
    return url, [f"Content-MD5:{md5}"]


def presigned_download(blob: Blob, *, filename: str, expires: int) -> str:
    """A URL of the object store that GETs the blob's bytes (ranges too) as an attachment named `filename`.

    Only a blob not marked bad or missing gets one (else BlobUnavailable); the bytes are not hashed on the way,
    as blob_chunks hashes them: they were checked when stored, and verify_blobs checks them in the store.
    """
    if not blob.is_ok:
        raise BlobUnavailable(blob)
    params = _s3_params(
        blob.storage_key,
        ResponseContentDisposition=content_disposition_header(True, filename),
        ResponseContentType="application/octet-stream",
    )
    return _s3_client().generate_presigned_url("get_object", Params=params, ExpiresIn=expires)


def blob_adopt(name: str, *, md5: str) -> Blob:
    """Make the bytes a client PUT at staging `name` a Blob, stored once per content, without reading them.

    The object is first copied to a second staging name no client can write, with the store computing its
    SHA-256 on the way (S3's additional checksums); that copy's size, ETag and checksum are then read together,
    so the bytes checked are the bytes kept. Its ETag must be the MD5 the client declared (a single PUT's ETag
    is its MD5), else ValueError and nothing is kept. A store that computes no checksum has the copy read back
    and hashed here once. FileNotFoundError when nothing is at `name`. `name` itself stays (the caller removes
    it once the file refers to the blob), so a failed commit can be retried.
    """
    client, private = _s3_client(), staging_name()
    source = {"Bucket": default_storage.bucket_name, "Key": default_storage._normalize_name(name)}
    try:
        client.copy_object(**_s3_params(private, CopySource=source, ChecksumAlgorithm="SHA256"))
    except Exception as exc:
        if _not_found(exc):
            raise FileNotFoundError(name) from exc
        raise
    try:
        head = client.head_object(**_s3_params(private, ChecksumMode="ENABLED"))
        size, etag = head["ContentLength"], head.get("ETag", "").strip('"')
        if etag != md5_hex(md5):
            raise ValueError(f"The uploaded bytes do not have the MD5 the client declared ({md5}).")
        checksum = head.get("ChecksumSHA256") or ""
        if checksum and "-" not in checksum:
            sha256 = base64.b64decode(checksum).hex()
        else:
            logger.warning("The object store computed no SHA-256 for %s: reading it back to hash it.", name)
            sha256 = _read_sha256(private, md5=md5, size=size)
        return _keep(private, sha256=sha256, md5=md5, size=size)
    finally:
        with contextlib.suppress(Exception):
            default_storage.delete(private)


def part_name(name: str, number: int) -> str:
    """Where part `number` of an upload in parts to staging `name` waits when it comes through the app."""
    return f"{name}.part{number:05d}"


def part_store(stream: IO[bytes], name: str, number: int, *, md5_hex: str) -> None:
    """Stage part `number` of an upload in parts, streaming; ValueError (nothing kept) unless its MD5 is
    `md5_hex`, the part's digest the client declared when it asked to upload."""
    digests = _Digests()
    staged = _stage(stream, digests, part_name(name, number))
    if digests.md5.hexdigest() != md5_hex:
        with contextlib.suppress(Exception):
            default_storage.delete(staged)
        raise ValueError(f"Part {number}'s bytes do not have the MD5 declared for it ({md5_hex}).")


class _Parts(io.RawIOBase):
    """Staged parts read one after the other as one stream, a chunk at a time."""

    def __init__(self, names: list[str]) -> None:
        self._names, self._current = deque(names), None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while True:
            if self._current is None:
                if not self._names:
                    return b""
                self._current = _open(self._names.popleft())
            chunk = self._current.read(CHUNK_SIZE if size is None or size < 0 else size)
            if chunk:
                return chunk
            self._current.close()
            self._current = None


def blob_from_parts(name: str, count: int, *, md5: str) -> Blob:
    """The Blob of an upload in parts that came through the app: the parts staged beside `name`, joined in
    order while hashed (blob_store: the whole file's MD5 must be `md5`), then removed. FileNotFoundError when a
    part is missing; ValueError on another MD5 (nothing kept, the parts stay)."""
    names = [part_name(name, number) for number in range(1, count + 1)]
    blob = blob_store(_Parts(names), expected_md5=md5)
    for part in names:
        with contextlib.suppress(Exception):
            default_storage.delete(part)
    return blob


def multipart_begin(name: str) -> str:
    """Start an upload in parts straight to the object store at staging `name`; its upload id."""
    return _s3_client().create_multipart_upload(**_s3_params(name))["UploadId"]


def presigned_part(name: str, *, upload_id: str, number: int, md5_hex: str, expires: int) -> str:
    """A URL of the object store that PUTs part `number` of the upload; its MD5 is signed in (Content-MD5)."""
    md5 = base64.b64encode(bytes.fromhex(md5_hex)).decode()
    params = _s3_params(name, UploadId=upload_id, PartNumber=number, ContentMD5=md5)
    return _s3_client().generate_presigned_url("upload_part", Params=params, ExpiresIn=expires, HttpMethod="PUT")


def multipart_complete(name: str, *, upload_id: str, md5_hexes: list[str]) -> None:
    """Join the parts the client sent into the object at `name`: the store checks that each part it holds has
    the declared MD5 (a part's ETag); FileNotFoundError when the upload is unknown (never begun, or aborted)."""
    parts = [{"PartNumber": n, "ETag": f'"{md5}"'} for n, md5 in enumerate(md5_hexes, start=1)]
    try:
        _s3_client().complete_multipart_upload(**_s3_params(name, UploadId=upload_id, MultipartUpload={"Parts": parts}))
    except Exception as exc:
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
        if code == "NoSuchUpload":
            # Completed already (a client retrying a slow completion): only completing makes the object.
            if _stored_size(name) is not None:
                return
            raise FileNotFoundError(name) from exc
        if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall"):
            raise ValueError(f"The object store refused the parts: {exc}") from exc
        raise


def multipart_abort(name: str, *, upload_id: str) -> None:
    with contextlib.suppress(Exception):
        _s3_client().abort_multipart_upload(**_s3_params(name, UploadId=upload_id))


def blob_adopt_whole(name: str, *, md5: str) -> Blob:
    """The Blob of an object completed from parts at staging `name` (no client can write it any more): read
    back once and hashed, since no store computes a whole SHA-256 or MD5 of an object made of parts; ValueError
    unless its MD5 is `md5`. The object is removed once adopted."""
    size = _stored_size(name)
    if size is None:
        raise FileNotFoundError(name)
    blob = _keep(name, sha256=_read_sha256(name, md5=md5, size=size), md5=md5, size=size)
    with contextlib.suppress(Exception):
        default_storage.delete(name)
    return blob


def _read_sha256(name: str, *, md5: str, size: int) -> str:
    digests = _Digests()
    try:
        with _open(name) as f:
            while chunk := f.read(CHUNK_SIZE):
                digests.update(chunk)
    finally:
        digests.close()
    if (digests.size, b64_md5(digests.md5.digest())) != (size, md5):
        raise ValueError(f"The uploaded bytes do not have the MD5 the client declared ({md5}).")
    return digests.sha256.hexdigest()


def blob_store(stream: IO[bytes], *, expected_md5: str | None = None, expected_size: int | None = None) -> Blob:
    """Store `stream` once per content: written to a staging name while MD5 and SHA-256 are computed in
    parallel, then published under its SHA-256 key.

    Nothing is held in memory beyond a few chunks and no temporary copy is made. The Blob row is written only
    after the bytes are in storage, so no row ever points at missing bytes. Known content is not stored again,
    unless its stored copy is missing, has another size or is marked bad: then these bytes repair it. A
    mismatch with `expected_md5`/`expected_size` raises ValueError and stores nothing.
    """
    digests = _Digests()
    staged = _stage(stream, digests)
    try:
        size, md5_b64 = digests.size, b64_md5(digests.md5.digest())
        if expected_md5 is not None and expected_md5 != md5_b64:
            raise ValueError(f"Uploaded bytes have MD5 {md5_b64}, expected {expected_md5}.")
        if expected_size is not None and expected_size != size:
            raise ValueError(f"Uploaded {size} bytes, expected {expected_size}.")
        return _keep(staged, sha256=digests.sha256.hexdigest(), md5=md5_b64, size=size)
    finally:
        # Nothing stays staged; should this fail (or the process die), collect_garbage removes it.
        with contextlib.suppress(Exception):
            default_storage.delete(staged)


# Read for every file stored: prepared once (registry_site/prepared.py).
_BLOB: Prepared[Blob] = Prepared(lambda sha256: Blob.objects.filter(sha256=sha256), str)
_BLOB_LOCKED: Prepared[Blob] = Prepared(lambda sha256: Blob.objects.select_for_update().filter(sha256=sha256), str)


def _keep(staged: str, *, sha256: str, md5: str, size: int) -> Blob:
    """The Blob of checked bytes at `staged`: the known one when its stored copy is intact, else the bytes are
    published under their SHA-256 key and the row written (repairing a copy marked bad or missing)."""
    key = blob_key(sha256)
    blob = first(_BLOB, sha256)
    if blob is not None and blob.is_ok and _stored_size(key) == size:
        return blob
    # Published outside any transaction: a large copy must not hold the database's write lock.
    _publish(staged, key)
    with transaction.atomic():
        locked = first(_BLOB_LOCKED, sha256)
        # collect_garbage deletes an unused blob's bytes while it holds this row's lock: look again.
        if _stored_size(key) != size:
            _publish(staged, key)
        values = {"md5": md5, "size": size, "status": BlobStatus.OK, "verified_at": timezone.now()}
        if locked is None or not Blob.objects.filter(pk=sha256).update(**values):
            return insert_or_update(Blob, values, sha256=sha256)
        for field, value in values.items():
            setattr(locked, field, value)
    return locked


def blob_record(blob: Blob, status: str, *, seen: datetime | None) -> bool:
    """Record what a check found, unless the blob was stored or checked since the check began (`seen` is the
    `verified_at` it read then), so a scrub or download racing an upload's repair never undoes it."""
    updated = Blob.objects.filter(pk=blob.pk, verified_at=seen).update(status=status, verified_at=timezone.now())
    if updated:
        blob.status = status
    return bool(updated)


def _open(key: str, start: int = 0, end: int | None = None) -> IO[bytes]:
    """A stream of the object's bytes from `start` to `end` inclusive; FileNotFoundError when there is none.

    On S3 the body streams from one GET (S3File would first download the whole object to a temporary file).
    """
    if _is_s3():
        ranged = {"Range": f"bytes={start}-{'' if end is None else end}"} if start or end is not None else {}
        try:
            return _s3_client().get_object(**_s3_params(key, **ranged))["Body"]
        except Exception as exc:
            if _not_found(exc):
                raise FileNotFoundError(key) from exc
            raise
    f = default_storage.open(key, "rb")
    if start:
        f.seek(start)
    return f


def _open_blob(blob: Blob, start: int = 0, end: int | None = None) -> IO[bytes]:
    if not blob.is_ok:
        raise BlobUnavailable(blob)
    try:
        return _open(blob.storage_key, start, end)
    except FileNotFoundError:
        blob_record(blob, BlobStatus.MISSING, seen=blob.verified_at)
        blob.status = BlobStatus.MISSING
        raise BlobUnavailable(blob) from None


def blob_chunks(blob: Blob, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The blob's bytes in chunks, from `start` to `end` inclusive (for HTTP range requests).

    The object is opened now, so a blob marked bad or missing, or whose bytes are gone, raises BlobUnavailable
    before any byte is sent. A whole read is hashed as it streams and its last chunk is held back until the
    hash and size match: on a mismatch the blob is marked bad and BlobUnavailable is raised instead, so no
    reader ever ends with a complete-looking corrupt copy. A range cannot be checked against the hash; it is
    served only from a blob not marked bad.
    """
    f = _open_blob(blob, start, end)
    if start == 0 and end is None:
        return _verified_chunks(blob, f)
    return _range_chunks(f, None if end is None else end - start + 1)


def _range_chunks(f: IO[bytes], remaining: int | None) -> Iterator[bytes]:
    with f:
        while remaining is None or remaining > 0:
            chunk = f.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def _verified_chunks(blob: Blob, f: IO[bytes]) -> Iterator[bytes]:
    seen = blob.verified_at
    sha, size, held = hashlib.sha256(), 0, None
    with f:
        while chunk := f.read(CHUNK_SIZE):
            sha.update(chunk)
            size += len(chunk)
            if size > blob.size:
                break
            if held is not None:
                yield held
            held = chunk
    if size != blob.size or sha.hexdigest() != blob.sha256:
        blob_record(blob, BlobStatus.BAD, seen=seen)
        blob.status = BlobStatus.BAD
        raise BlobUnavailable(blob)
    if held is not None:
        yield held


def blob_present(blob: Blob) -> bool:
    """Whether the blob may stand in for an upload of its content: marked OK and its object is there with the
    right size. A missing object is recorded, so the blob is re-uploaded rather than trusted."""
    if not blob.is_ok:
        return False
    size = _stored_size(blob.storage_key)
    if size is None:
        blob_record(blob, BlobStatus.MISSING, seen=blob.verified_at)
        return False
    if size != blob.size:
        blob_record(blob, BlobStatus.BAD, seen=blob.verified_at)
        return False
    return True


def blob_verify(blob: Blob) -> str:
    """Hash the stored bytes whole, streaming, and record the blob's status (ok, bad or missing)."""
    seen = blob.verified_at
    try:
        f = _open(blob.storage_key)
    except FileNotFoundError:
        status = BlobStatus.MISSING
    else:
        sha, size = hashlib.sha256(), 0
        with f:
            while chunk := f.read(CHUNK_SIZE):
                sha.update(chunk)
                size += len(chunk)
        status = BlobStatus.OK if (size, sha.hexdigest()) == (blob.size, blob.sha256) else BlobStatus.BAD
    blob_record(blob, status, seen=seen)
    return status


def blob_delete_bytes(blob: Blob) -> None:
    default_storage.delete(blob.storage_key)


def staged_delete(key: str) -> None:
    default_storage.delete(key)


def abort_abandoned_uploads(*, older_than: datetime, keep: set[str]) -> list[str]:
    """Abort the object store's uploads in parts to staging names begun before `older_than`, except those to
    the names in `keep` (still awaited); their staging names. Local files' parts are plain staged files."""
    if not _is_s3():
        return []
    client, aborted = _s3_client(), []
    prefix = default_storage._normalize_name(STAGING_DIR) + "/"
    for page in client.get_paginator("list_multipart_uploads").paginate(
        Bucket=default_storage.bucket_name, Prefix=prefix
    ):
        for upload in page.get("Uploads", []):
            name = f"{STAGING_DIR}/{upload['Key'][len(prefix) :]}"
            if upload["Initiated"] < older_than and name not in keep:
                client.abort_multipart_upload(
                    Bucket=default_storage.bucket_name, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                aborted.append(name)
    return aborted


def staged_leftovers(*, older_than: datetime) -> Iterator[str]:
    """Staging names (see _publish) last written before `older_than`: writes that died half-way."""
    try:
        _, names = default_storage.listdir(STAGING_DIR)
    except FileNotFoundError:
        return
    for name in names:
        key = f"{STAGING_DIR}/{name}"
        try:
            if default_storage.get_modified_time(key) < older_than:
                yield key
        except FileNotFoundError:
            continue
