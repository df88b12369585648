"""Faults of the machinery (file store, S3, database) answered with a status, a one-line reason and Retry-After.

A generic 500 makes the SDK retry without end and tells nobody what is wrong; these answers say what failed.
API paths get W&B's JSON error shape, pages the reason in the app's layout; for an htmx request, app.js shows
that page's [data-error-message] in the open dialog or as an error toast, as for every failed request.
"""

import errno
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from artifacts.services import StillCompleting
from artifacts.storage import BlobRemoved, BlobUnavailable

logger = logging.getLogger(__name__)

API_PREFIXES = ("/graphql", "/files/", "/sdk/")


@dataclass(frozen=True)
class Fault:
    status: int
    title: str
    reason: str
    retry_after: int | None = None


def _is_boto_error(exc: BaseException) -> bool:
    """An S3 client error; botocore is imported only where S3 is configured, and then it is loaded already."""
    botocore = sys.modules.get("botocore.exceptions")
    return botocore is not None and isinstance(exc, botocore.BotoCoreError | botocore.ClientError)


def classify(exc: BaseException) -> Fault | None:
    """The answer for a fault of the machinery, or None for a bug (left to Django's 500)."""
    if isinstance(exc, BlobRemoved):
        # The client's retry sends the bytes again, which stores them anew.
        return Fault(503, "Try again", str(exc), 1)
    if isinstance(exc, StillCompleting):
        return Fault(503, "Still completing", str(exc), 5)
    if isinstance(exc, BlobUnavailable):
        # Retrying cannot help until someone uploads the content again: a 4xx stops the client's retries.
        return Fault(410, "File unavailable", str(exc))
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return Fault(507, "Storage full", "The server's file store is full; nothing was stored.", 600)
    if isinstance(exc, OSError):
        detail = exc.strerror or str(exc) or type(exc).__name__
        return Fault(503, "Storage unavailable", f"The server's file store failed ({detail}); try again later.", 60)
    if _is_boto_error(exc):
        return Fault(503, "Storage unavailable", "The server's S3 store cannot be reached; try again later.", 60)
    if isinstance(exc, OperationalError) and "locked" in str(exc):
        return Fault(503, "Server busy", "The database is busy with another write; try again shortly.", 10)
    return None


def respond(request: HttpRequest, fault: Fault) -> HttpResponse:
    if request.path.startswith(API_PREFIXES):
        response = JsonResponse({"errors": [{"message": fault.reason}]}, status=fault.status)
    else:
        try:
            response = render(request, "fault.html", {"fault": fault}, status=fault.status)
        except Exception:
            # The layout needs the database too (the signed-in user); the reason alone still gets out.
            response = HttpResponse(fault.reason, status=fault.status, content_type="text/plain; charset=utf-8")
    if fault.retry_after:
        response["Retry-After"] = str(fault.retry_after)
    return response


class FaultMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        fault = classify(exception)
        if fault is None:
            return None
        if isinstance(exception, StillCompleting):
            logger.info("%s %s: %s", request.method, request.path, fault.reason)  # expected: the client asks again
        else:
            logger.error("%s %s: %s (%s)", request.method, request.path, fault.reason, exception, exc_info=exception)
        return respond(request, fault)
