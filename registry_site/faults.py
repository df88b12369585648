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

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults

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
    if isinstance(exc, DatabaseError):
        return _database_fault(exc)
    return None


BUSY = Fault(503, "Server busy", "The database is busy with another write; try again shortly.", 10)
DATABASE_FULL = Fault(507, "Storage full", "The server's database disk is full; nothing was written.", 600)
READ_ONLY = Fault(503, "Database unavailable", "The server cannot write to its database; nothing was written.", 60)
UNREACHABLE = Fault(503, "Database unavailable", "The server's database cannot be reached; try again later.", 60)


def _database_fault(exc: DatabaseError) -> Fault | None:
    """PostgreSQL names its faults by SQLSTATE; SQLite's (and a connection that never opened) only in words."""
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
    if sqlstate:
        if sqlstate == "53100":  # disk_full
            return DATABASE_FULL
        if sqlstate == "25006":  # read_only_sql_transaction: a standby, or default_transaction_read_only
            return READ_ONLY
        if sqlstate in ("40001", "40P01", "55P03"):  # serialization failure, deadlock, lock not available
            return BUSY
        if sqlstate.startswith(("08", "57P")):  # connection exceptions; admin or crash shutdown, starting up
            return UNREACHABLE
        return None
    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    message = str(exc).lower()
    for words, fault in _DATABASE_FAULTS:
        if any(word in message for word in words):
            return fault
    return None


# What the drivers say when the database itself fails (SQLite's and libpq's own words), as opposed to a query
# the code got wrong: the first match answers.
_DATABASE_FAULTS = (
    (("locked",), BUSY),
    (("database or disk is full",), DATABASE_FULL),
    (("readonly database", "read-only"), READ_ONLY),
    (
        (
            "unable to open database",
            "disk i/o error",
            "connection failed",
            "could not connect",
            "connection to server",
            "server closed the connection",
            "terminating connection",
            "connection is closed",
            "connection already closed",
            "the database system is",  # starting up, shutting down, in recovery mode
        ),
        UNREACHABLE,
    ),
)


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


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500, called while the exception is being handled: a fault raised outside any view (a
    session saved by its middleware after the view) is answered with its reason too; anything else is the styled
    500 page."""
    exception = sys.exc_info()[1]
    # Only the database's faults: outside a view an OSError is as likely a client gone mid-body as a store.
    if isinstance(exception, DatabaseError) and (fault := classify(exception)) is not None:
        return respond(request, fault)
    return defaults.server_error(request)


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
