from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def wants_fragment(request: HtmxHttpRequest) -> bool:
    """True for an htmx swap; boosted navigation and history restores need the whole page."""
    h = request.htmx
    return bool(h) and not h.boosted and not h.history_restore_request
