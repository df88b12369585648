"""Two versions side by side: their files by path (added, removed, changed by digest, unchanged), their reference
entries the same way, and their metadata key by key. Used by the Artifact browser's compare page and the
registry's (which compares the two links' source versions).

The file diff runs in the database: one grouped query over both versions' file rows by path (a full outer
join by path, portable to SQLite and PostgreSQL), read a page at a time, and one aggregate over the same
grouping for the counts per status. No query reads more than a page of rows into Python, and a page costs the
same number of queries for 10 files or 10,000.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db.models import Case, CharField, Count, F, Max, Q, QuerySet, Value, When

from artifacts import jsonvalues, names
from artifacts.models import ArtifactFile, ArtifactReference, ArtifactVersion

ADDED, REMOVED, CHANGED, UNCHANGED = "added", "removed", "changed", "unchanged"
# In the order the page offers them as filters.
STATUSES = [CHANGED, ADDED, REMOVED, UNCHANGED]
FILES_PER_PAGE = 100
# Metadata rows shown at most (a version's metadata is one JSON value, read whole like on its Metadata tab).
METADATA_ROWS_SHOWN = 500
# A value longer than this is cut when shown (still compared whole).
VALUE_CHARS_SHOWN = 300


@dataclass
class Side:
    """One of the two versions as the page shows it: its own name and URL (an artifact version's, or a registry
    link's), the artifact version whose files and metadata are compared, its aliases and where it is linked."""

    label: str
    full_name: str
    url: str
    version: ArtifactVersion
    aliases: list[str] = field(default_factory=list)
    links: list = field(default_factory=list)
    source: ArtifactVersion | None = None  # a registry link's Source Version


def _by_path(old: ArtifactVersion, new: ArtifactVersion, *, references: bool = False) -> QuerySet:
    """One row per path held by either version: each side's digest and size (null where it lacks the path) and
    the path's status. Files by their MD5; reference entries (`references=True`) by the digest the client
    recorded, with each side's URI (`old_ref`, `new_ref`)."""
    model, digest, size = (
        (ArtifactReference, "digest", "size") if references else (ArtifactFile, "blob__md5", "blob__size")
    )

    def side(version: ArtifactVersion, column: str) -> Max:
        return Max(Case(When(version_id=version.pk, then=F(column))))

    refs = {"old_ref": side(old, "ref"), "new_ref": side(new, "ref")} if references else {}
    return (
        model.objects.filter(version_id__in={old.pk, new.pk})
        .order_by()
        .values("path")
        .annotate(
            old_md5=side(old, digest),
            new_md5=side(new, digest),
            old_size=side(old, size),
            new_size=side(new, size),
            **refs,
        )
        .annotate(
            status=Case(
                When(old_md5__isnull=True, then=Value(ADDED)),
                When(new_md5__isnull=True, then=Value(REMOVED)),
                When(old_md5=F("new_md5"), then=Value(UNCHANGED)),
                default=Value(CHANGED),
                output_field=CharField(),
            )
        )
    )


def file_counts(old: ArtifactVersion, new: ArtifactVersion, *, references: bool = False) -> dict[str, int]:
    """How many paths have each status, and `all`: one aggregate query over the grouped rows."""
    counts = _by_path(old, new, references=references).aggregate(
        all=Count("path"), **{status: Count("path", filter=Q(status=status)) for status in STATUSES}
    )
    return {key: counts[key] or 0 for key in ["all", *STATUSES]}


def file_rows(
    old: ArtifactVersion, new: ArtifactVersion, status: str | None = None, *, references: bool = False
) -> QuerySet:
    """The paths of both versions by path (of one status, if given), as dicts; slice it to read a page."""
    rows = _by_path(old, new, references=references)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("path")


def with_deltas(rows: Iterable[dict]) -> list[dict]:
    """A page of `file_rows` with each row's size delta (new minus old; a removed file counts as negative)."""
    out = []
    for row in rows:
        out.append({**row, "delta": (row["new_size"] or 0) - (row["old_size"] or 0)})
    return out


def _canonical(value: object) -> str:
    # By JSON text: in Python 1 == 1.0 == True, which metadata should tell apart.
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else jsonvalues.as_text(value, limit=VALUE_CHARS_SHOWN)
    return text if len(text) <= VALUE_CHARS_SHOWN else text[:VALUE_CHARS_SHOWN] + "…"


def metadata_diff(old: object, new: object) -> dict:
    """The top-level keys that differ (added, removed, changed), by key, each side's value as compact JSON;
    and how many keys are the same."""
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    rows = []
    unchanged = 0
    for key in sorted(old.keys() | new.keys(), key=str):
        if key not in old:
            rows.append({"key": key, "status": ADDED, "old": None, "new": _shown(new[key])})
        elif key not in new:
            rows.append({"key": key, "status": REMOVED, "old": _shown(old[key]), "new": None})
        elif _canonical(old[key]) != _canonical(new[key]):
            rows.append({"key": key, "status": CHANGED, "old": _shown(old[key]), "new": _shown(new[key])})
        else:
            unchanged += 1
    return {
        "rows": rows[:METADATA_ROWS_SHOWN],
        "hidden": max(0, len(rows) - METADATA_ROWS_SHOWN),
        "unchanged": unchanged,
    }


def range_label(old_index: int, new_index: int) -> str:
    """`v1...v3`, as the compare URL names the two versions."""
    return f"v{old_index}...v{new_index}"


def parse_picked(values: list[str], existing: Callable[[set[int]], set[int]], what: str) -> tuple[int, int]:
    """The two versions ticked in a Versions table (`v3` or `3`), older first; a ValueError says what is
    wrong. `existing` answers which of the indexes exist (one query); `what` names their owner in messages."""
    picked = []
    for value in values:
        value = value.strip()
        index = names.parse_version(value) if value.startswith("v") else names.parse_version(f"v{value}")
        if index is None:
            raise ValueError(f"“{value[:20]}” is not a version: versions are named v0, v1, v2…")
        if index not in picked:
            picked.append(index)
    if len(picked) != 2:
        raise ValueError("Tick two different versions to compare.")
    missing = set(picked) - existing(set(picked))
    if missing:
        raise ValueError(f"{what} has no version {', '.join(f'v{i}' for i in sorted(missing))}.")
    old, new = sorted(picked)
    return old, new
