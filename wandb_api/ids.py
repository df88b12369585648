"""Opaque global ids as W&B spells them: base64("Type:key")."""

import base64
import binascii
import re

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


# Row ids are ASCII digits that fit a 64-bit column (`"²".isdigit()` is true, and 30 digits overflow it).
INT_KEY_RE = re.compile(r"[0-9]{1,18}")


def parse_int_key(key: str | None) -> int | None:
    """A row id or a numeric cursor from outside, or None when it cannot be one."""
    return int(key) if key and INT_KEY_RE.fullmatch(key) else None


def decode_int(value: str | None, type_name: str) -> int:
    number = parse_int_key(decode(value, type_name))
    if number is None:
        raise Http404(f"No {type_name} with id {value!r}.")
    return number
