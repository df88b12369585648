"""Signed, expiring upload and download URLs.

The SDK PUTs and GETs these URLs with no credentials (they stand in for cloud presigned URLs), so the URL
itself carries what may be done, by whom, and until when.
"""

from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from django.urls import reverse

UPLOAD_SALT = "wandb_api.upload"
DOWNLOAD_SALT = "wandb_api.download"
# Uploads wait in the SDK's queue behind other files, and downloads of a large artifact take long: the SDK
# does not ask again for an expired URL (it would save the error page as the file), so both are generous.
UPLOAD_MAX_AGE = 24 * 3600
DOWNLOAD_MAX_AGE = 24 * 3600


def _absolute(request: HttpRequest, path: str) -> str:
    base = settings.SITE_URL or request.build_absolute_uri("/").rstrip("/")
    return base + path


def upload_url(request: HttpRequest, **payload: Any) -> str:
    token = signing.dumps(payload, salt=UPLOAD_SALT, compress=True)
    return _absolute(request, reverse("wandb_api:upload", args=[token]))


def download_url(request: HttpRequest, **payload: Any) -> str:
    """A URL that ends with the file's name (`name` in the payload), as a storage bucket's URL does: clients and
    people read the name there (W&B's tests find the manifest's by `wandb_manifest.json`). Only the token counts."""
    token = signing.dumps(payload, salt=DOWNLOAD_SALT, compress=True)
    if payload.get("name"):
        return _absolute(request, reverse("wandb_api:download_named", args=[token, payload["name"]]))
    return _absolute(request, reverse("wandb_api:download", args=[token]))


def read_upload(token: str) -> dict[str, Any]:
    """The payload of a valid upload token; raises signing.BadSignature (or SignatureExpired)."""
    return signing.loads(token, salt=UPLOAD_SALT, max_age=UPLOAD_MAX_AGE)


def read_download(token: str) -> dict[str, Any]:
    return signing.loads(token, salt=DOWNLOAD_SALT, max_age=DOWNLOAD_MAX_AGE)
