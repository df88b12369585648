"""Site-wide request handling that no single view owns."""

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

# The W&B API, files, static assets and the admin (which has its own sign-in) answer for themselves.
NOT_PAGES = ("/graphql", "/files/", "/sdk/", "/static/", "/admin/")


class SignInToSeeMiddleware:
    """A signed-out person opening a page that is missing, private or forbidden is sent to sign in, with
    `next=`, for every such URL alike, so the redirect does not tell whether the page exists. After signing
    in, a page the user still may not see answers 404 as usual.

    Only browsers are sent (htmx, or a request that accepts HTML): a program (the SDK, curl) asking for a
    missing URL gets the 404 itself, never a sign-in page to save as a file."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_browser = getattr(request, "htmx", False) or "text/html" in request.headers.get("Accept", "")
        if (
            response.status_code in (403, 404)
            and request.method in ("GET", "HEAD")
            and is_browser
            and not request.path.startswith(NOT_PAGES)
            and not request.user.is_authenticated
        ):
            login = f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}"
            return HttpResponseClientRedirect(login) if getattr(request, "htmx", False) else redirect(login)
        return response
