"""The SDK's credentials: `Authorization: Basic base64("api:<key>")`, checked against the user's API keys."""

import base64
import binascii

from django.http import HttpRequest

from artifacts import services
from artifacts.permissions import User


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
    return services.api_key_authenticate(secret) if secret else None
