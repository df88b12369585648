"""Opaque global ids as W&B spells them: base64("Type:key")."""

import base64
import binascii

from django.http import Http404


def encode(type_name: str, key: object) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


def decode(value: str | None, type_name: str) -> str:
    """The key inside an id of `type_name`; anything else is "not found", never a server error."""
    try:
        kind, _, key = base64.b64decode(value or "", validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Http404(f"No {type_name} with id {value!r}.") from None
    if kind != type_name or not key:
        raise Http404(f"No {type_name} with id {value!r}.")
    return key


def decode_int(value: str | None, type_name: str) -> int:
    key = decode(value, type_name)
    if not key.isdigit():
        raise Http404(f"No {type_name} with id {value!r}.")
    return int(key)
