"""Streaming file responses with HTTP range support, for every download (pages and API)."""

import mimetypes
import re

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header

from artifacts import storage
from artifacts.models import Blob
from artifacts.storage import BlobUnavailable, blob_chunks

# A redirect to the object store is followed at once: its presigned URL need not live long.
REDIRECT_MAX_AGE = 600

# At most 18 digits: a byte offset fits in 64 bits, and int() refuses strings of over 4300 digits.
RANGE_RE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})")


def parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """(start, end) for one satisfiable byte range; None without a usable header; False if unsatisfiable."""
    m = RANGE_RE.fullmatch(header.strip()) if header else None
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:
        length = int(m.group(2))
        if length == 0:
            return False
        start, end = max(0, size - length), size - 1
    if start >= size or start > end:
        return False
    return start, end


def stream_blob(request: HttpRequest, blob: Blob, *, filename: str, as_attachment: bool = True) -> HttpResponse:
    """The blob's bytes in chunks: never the whole file in memory.

    Missing or corrupt stored bytes raise BlobUnavailable before any header is sent (answered 410 by
    registry_site.faults); corruption found while a whole file streams ends the response short (see
    storage.blob_chunks). Ranges are not hashed: they come only from blobs not known to be bad.

    With direct transfers (S3_DIRECT) the answer is instead a redirect to a presigned URL of the object store,
    which serves the bytes and ranges itself: no byte passes through here. The store is asked first whether it
    holds the object whole (one HEAD), so a copy marked bad, missing or cut short, or a store that cannot be
    reached, is answered here with its reason rather than by the store.
    """
    if storage.direct_transfers() and as_attachment:
        if not storage.blob_present(blob):
            raise BlobUnavailable(blob)
        return HttpResponseRedirect(storage.presigned_download(blob, filename=filename, expires=REDIRECT_MAX_AGE))
    # Attachments are bytes to save, whatever their extension suggests (`.pt` is not a page table).
    content_type = "application/octet-stream" if as_attachment else mimetypes.guess_type(filename)[0] or "text/plain"
    common = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{blob.sha256}"',
        "Content-Disposition": content_disposition_header(as_attachment, filename),
        "X-Content-Type-Options": "nosniff",
    }
    byte_range = parse_range(request.headers.get("Range", ""), blob.size)
    if byte_range is False:
        response = HttpResponse(status=416, headers={**common, "Content-Range": f"bytes */{blob.size}"})
        return response
    if byte_range is None:
        response = StreamingHttpResponse(blob_chunks(blob), content_type=content_type, headers=common)
        response["Content-Length"] = str(blob.size)
        return response
    start, end = byte_range
    response = StreamingHttpResponse(
        blob_chunks(blob, start, end), status=206, content_type=content_type, headers=common
    )
    response["Content-Length"] = str(end - start + 1)
    response["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
    return response
