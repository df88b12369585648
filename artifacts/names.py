"""The naming rules of SPEC §1, in one place: model fields, forms, services and the API all call these."""

import re
import unicodedata
from collections.abc import Iterable

from django.core.exceptions import ValidationError

ENTITY_NAME_RE = re.compile(r"[a-z0-9_-]{1,64}")
NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
# ASCII digits only (`"²".isdigit()` is true) and few enough for a 64-bit column.
VERSION_RE = re.compile(r"v([0-9]{1,18})")
# W&B's tag names (the SDK's TAG_REGEX): words of letters, digits, `_` and `-`, separated by single spaces.
TAG_RE = re.compile(r"[-\w]+( [-\w]+)*")
MAX_TAG_LENGTH = 128
MAX_REF_LENGTH = 2048
# Where a reference entry may point: W&B's storage handlers. The server stores the URI, never fetches it.
REFERENCE_SCHEMES = ("s3", "gs", "http", "https", "file", "wandb-artifact")
LATEST = "latest"
MAX_PATH_LENGTH = 1024
# Entity names share the URL root with the site's own pages.
RESERVED_ENTITY_NAMES = {
    "admin",
    "accounts",
    "profile",
    "registry",
    "static",
    "media",
    "graphql",
    "files",
    "sdk",
    "api",
    "artifacts",
    "artifactsV2",
    "orgs",
}


def validate_entity_name(value: str) -> None:
    if not ENTITY_NAME_RE.fullmatch(value or ""):
        raise ValidationError(
            "Invalid entity name %(value)r: use 1-64 characters of a-z, 0-9, '_' and '-'.",
            code="invalid_name",
            params={"value": value},
        )
    if value in RESERVED_ENTITY_NAMES:
        raise ValidationError("The entity name %(value)r is reserved.", code="reserved", params={"value": value})


def validate_name(value: str, what: str = "name") -> None:
    """Project, artifact and registered model names."""
    if not NAME_RE.fullmatch(value or "") or value in {".", ".."}:
        raise ValidationError(
            "Invalid %(what)s %(value)r: use 1-128 characters of A-Z, a-z, 0-9, '_', '.' and '-'.",
            code="invalid_name",
            params={"what": what, "value": value},
        )


MAX_RUN_ID_LENGTH = 128
# W&B's run ids (the SDK's Settings.validate_run_id) may hold any character but these; `\` and `%` are refused
# too, so an id is one path segment of a page's URL and of the SDK's file_stream URL however it is written.
RUN_ID_RESERVED = ":;,#?/'\\%"


def validate_run_id(value: str) -> None:
    """A run id as W&B accepts it (`seed=0-run` is one): 1-128 characters, none of RUN_ID_RESERVED, no control
    or other invisible character, no space at either end, and not `.` or `..`."""
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_RUN_ID_LENGTH
        or value != value.strip()
        or value in {".", ".."}
        or any(c in RUN_ID_RESERVED or unicodedata.category(c)[0] == "C" for c in value)
    ):
        raise ValidationError(
            "Invalid run id %(value)r: use 1-%(max)s characters, no spaces at either end, none of %(reserved)s "
            "and no control characters.",
            code="invalid_name",
            params={"value": value, "max": MAX_RUN_ID_LENGTH, "reserved": " ".join(RUN_ID_RESERVED)},
        )


MAX_CLIENT_ID_LENGTH = 128
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")


def validate_client_id(value: str) -> None:
    """The id the SDK gives an artifact it logs (128 random characters of a-z and 0-9 in the SDK)."""
    if not isinstance(value, str) or not CLIENT_ID_RE.fullmatch(value):
        raise ValidationError(
            "Invalid client id %(value)r: use 1-128 characters of A-Z, a-z, 0-9, '_' and '-'.",
            code="invalid_client_id",
            params={"value": value},
        )


# W&B's registries live at these project names of every entity: `<entity>/model-registry/<model>` is the team's
# Model Registry and `wandb-registry-<name>` the organization's Registry. No real project may take them, so a
# registry is never reached through a project (and its visibility) by mistake.
REGISTRY_PROJECT = "model-registry"
REGISTRY_PROJECT_PREFIX = "wandb-registry-"


def is_registry_project_name(value: str | None) -> bool:
    return value == REGISTRY_PROJECT or (value or "").startswith(REGISTRY_PROJECT_PREFIX)


def validate_project_name(value: str) -> None:
    validate_name(value, "project name")
    if is_registry_project_name(value):
        raise ValidationError(
            "The project name %(value)r is reserved for registries: choose another name.",
            code="reserved",
            params={"value": value},
        )


MAX_DESCRIPTION = 20_000


def is_unstorable_text(value: str) -> bool:
    """A NUL character or an unpaired surrogate (JSON's `"\\ud800"`): no database, file system or page can
    hold either."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def validate_text(value: str, what: str = "description", max_length: int = MAX_DESCRIPTION) -> None:
    """Free text (descriptions, model cards, display names): bounded, and storable by every database (no NUL
    character, no unpaired surrogate)."""
    if not isinstance(value, str):
        raise ValidationError("The %(what)s must be text.", code="invalid_text", params={"what": what})
    if len(value) > max_length:
        raise ValidationError(
            "The %(what)s has %(length)s characters; at most %(max)s are allowed.",
            code="too_long",
            params={"what": what, "length": f"{len(value):,}", "max": f"{max_length:,}"},
        )
    if is_unstorable_text(value):
        raise ValidationError(
            "The %(what)s holds characters that are not valid text (a NUL or an unpaired surrogate).",
            code="invalid_text",
            params={"what": what},
        )


def is_model_type(type: str) -> bool:
    """The Model Registry accepts artifact types that contain `model` (`model`, `sklearn-model`, ...)."""
    return "model" in type.lower()


def validate_alias(value: str) -> None:
    """A user-set alias: `latest` belongs to the system and `vN` is the version itself."""
    validate_name(value, "alias")
    if value == LATEST:
        raise ValidationError("The alias 'latest' is managed automatically and cannot be set.", code="reserved")
    if re.fullmatch(r"v[0-9]+", value):
        raise ValidationError(
            "Invalid alias %(value)r: names like v3 are version numbers, not aliases.",
            code="reserved",
            params={"value": value},
        )


def validate_tag(value: str) -> None:
    if not isinstance(value, str) or len(value) > MAX_TAG_LENGTH or not TAG_RE.fullmatch(value):
        raise ValidationError(
            "Invalid tag %(value)r: up to 128 letters, digits, '_' and '-', words separated by single spaces.",
            code="invalid_tag",
            params={"value": value},
        )


def validate_reference(value: str) -> None:
    scheme = value.split("://", 1)[0] if isinstance(value, str) and "://" in value else ""
    if scheme not in REFERENCE_SCHEMES or len(value) > MAX_REF_LENGTH or any(c in value for c in "\x00\r\n"):
        raise ValidationError(
            "Invalid reference %(value)r: a URI of up to 2048 characters starting with one of "
            + ", ".join(f"{s}://" for s in REFERENCE_SCHEMES)
            + ".",
            code="invalid_reference",
            params={"value": str(value)[:200]},
        )


def validate_file_path(value: str) -> None:
    """A relative POSIX path that stays inside its version."""
    reason = None
    if not value:
        reason = "it is empty"
    elif len(value) > MAX_PATH_LENGTH:
        reason = f"it is longer than {MAX_PATH_LENGTH} characters"
    elif "\x00" in value:
        reason = "it contains a NUL character"
    elif not value.isascii() and is_unstorable_text(value):
        reason = "it is not valid Unicode"
    elif any(ord(c) < 32 or ord(c) == 127 for c in value):
        reason = "it contains a control character"
    elif "\\" in value:
        reason = "it contains a backslash"
    elif value.startswith("/"):
        reason = "it is absolute"
    elif any(part in {"", ".", ".."} for part in value.split("/")):
        reason = "it has an empty, '.' or '..' segment"
    if reason:
        raise ValidationError(
            "Invalid file path %(value)r: %(reason)s.", code="invalid_path", params={"value": value, "reason": reason}
        )


def normalize_file_path(value: str) -> str:
    """A valid file path in Unicode NFC, so `café` typed on any system is one file (macOS writes NFD)."""
    if not isinstance(value, str):
        raise ValidationError("Invalid file path %(value)r.", code="invalid_path", params={"value": value})
    value = unicodedata.normalize("NFC", value)
    validate_file_path(value)
    return value


def parent_dirs(path: str) -> list[str]:
    """`a/b/c.txt` -> ["a", "a/b"]."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def validate_file_tree(paths: Iterable[str]) -> None:
    """No path may be both a file and a directory (`m` and `m/x`): no client could write such a version to disk."""
    files = set(paths)
    for path in sorted(files):
        for parent in parent_dirs(path):
            if parent in files:
                raise ValidationError(
                    "'%(file)s' cannot be a file and also a directory holding '%(path)s'.",
                    code="path_clash",
                    params={"file": parent, "path": path},
                )


def parse_version(value: str) -> int | None:
    """`v3` -> 3; anything else -> None."""
    m = VERSION_RE.fullmatch(value)
    return int(m.group(1)) if m else None
