"""The SDK's credentials: `Authorization: Basic base64("api:<key>")`, checked against the user's API keys."""

import base64
import binascii
import threading

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest

from artifacts import events, services
from artifacts.models import ApiKey
from artifacts.permissions import User

# The key a request authenticated with, recorded once its response is sent (see _record_key_use).
_used = threading.local()


def api_key(request: HttpRequest) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    # W&B's username is always "api"; the key is the password.
    _, sep, secret = decoded.partition(":")
    return secret if sep else None


def authenticate(request: HttpRequest) -> User | None:
    secret = api_key(request)
    key: ApiKey | None = services.api_key_lookup(secret) if secret else None
    if key is None:
        return None
    _used.key = key
    # The events the services record for this request name the key the user acted through.
    return events.acting_via(key.user, f"API key {key.name or key.prefix + '…'}")


@receiver(request_finished)
def _record_key_use(**kwargs: object) -> None:
    """After the response: a read never waits for the database's write lock to note that a key was used."""
    key = getattr(_used, "key", None)
    if key is not None:
        _used.key = None
        services.api_key_touch(key=key)
