"""Who is asking (the client's address, behind PROXY_COUNT proxies) and what a locked-out sign-in is told."""

import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or, behind proxies, the address the outermost one saw (they append to X-Forwarded-For).

    Entries left of that one are whatever the client sent, so they are never trusted.
    """
    count = settings.PROXY_COUNT
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if count and forwarded:
        return forwarded[-min(count, len(forwarded))]
    return request.META.get("REMOTE_ADDR", "")


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """django-axes' answer to a locked-out sign-in (the pages' and the admin's): a page in the app's layout."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(request, "registration/locked_out.html", {"minutes": math.ceil(seconds / 60)}, status=429)
    response["Retry-After"] = str(seconds)
    return response
