"""Site-wide request handling that no single view owns."""

from collections.abc import Callable
from urllib.parse import urlencode

from csp.middleware import CSPMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from artifacts import names

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


class RefuseUnstorableTextMiddleware:
    """A query or form value holding a NUL character or an unpaired surrogate is refused with a 400 before any
    view runs: no database can store or even compare it (PostgreSQL raises on NUL), wherever it would go. JSON
    bodies are checked where they are parsed (artifacts.jsonvalues)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        forms = ("application/x-www-form-urlencoded", "multipart/form-data")
        values = [*request.GET.lists(), *(request.POST.lists() if request.content_type in forms else [])]
        if any(names.is_unstorable_text(key) or any(map(names.is_unstorable_text, vs)) for key, vs in values):
            return HttpResponseBadRequest(
                "The request holds characters that are not valid text (a NUL or an unpaired surrogate).",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


# The SDK's calls: a JSON POST (/graphql, /sdk/...) or a PUT of bytes (/files/upload/...), never a document a
# browser opens. Downloads (/files/download/) are files a browser may open: they keep the policy, as does every
# page, `/graphql-team/...` of an entity so named included.
SDK_CALL = "/graphql"
SDK_CALL_PREFIXES = ("/sdk/", "/files/upload/")


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's, for what a browser may render: django-csp 4.0 builds its policy (and the report-only one)
    for every response, about a third of a millisecond, which the SDK's calls spend on a header nothing reads."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if request.path_info == SDK_CALL or request.path_info.startswith(SDK_CALL_PREFIXES):
            return response
        return super().process_response(request, response)
