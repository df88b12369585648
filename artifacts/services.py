"""Every write to entities, projects, runs, artifact versions, files and aliases.

Views, management commands, the admin and the W&B API call these; none writes these rows itself.
Bad input raises ValidationError before anything is written; a missing right raises Http404 or
PermissionDenied (see permissions.py).
"""

import contextlib
import dataclasses
import hashlib
import logging
import random
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, models, transaction
from django.db.models import F, ProtectedError, Q
from django.http import Http404
from django.utils import timezone

from artifacts import jsonvalues, names, permissions, queries, storage
from artifacts.events import Recorder, changes, clip
from artifacts.models import (
    ApiKey,
    Artifact,
    ArtifactAlias,
    ArtifactFile,
    ArtifactOutput,
    ArtifactReference,
    ArtifactUsage,
    ArtifactVersion,
    Blob,
    BlobStatus,
    DeletedRun,
    Entity,
    EventKind,
    HistoryRow,
    Membership,
    Project,
    Role,
    Run,
    RunState,
    RunTag,
    StagedUpload,
    VersionClientId,
    VersionState,
    VersionTag,
    insert_or_update,
)
from artifacts.permissions import User
from artifacts.storage import blob_store, manifest_digest
from registry_site.prepared import Prepared, first

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)


def create_unique(model: type[M], *, duplicate: str, **fields: Any) -> M:
    """`model.objects.create(**fields)` after the caller checked that the name is free: a request creating the same
    name at the same moment passed that check too (PostgreSQL reads what is committed), so the unique constraint
    decides and the loser gets `duplicate`, the message it would have got had it come second, not a 500."""
    try:
        with transaction.atomic():
            return model.objects.create(**fields)
    except IntegrityError:
        raise ValidationError(duplicate, code="duplicate") from None


@transaction.atomic
def entity_create(*, name: str, owner: User | None = None, description: str = "") -> Entity:
    names.validate_entity_name(name)
    duplicate = f"An entity named '{name}' already exists."
    if Entity.objects.filter(name=name).exists():
        raise ValidationError(duplicate, code="duplicate")
    entity = create_unique(Entity, duplicate=duplicate, name=name, description=description)
    if owner is not None:
        membership_set(entity=entity, user=owner, role=Role.ADMIN)
    return entity


def _lock_entity(entity: Entity) -> Entity:
    """The entity row, locked until the transaction ends: changes to its members and settings queue here."""
    return Entity.objects.select_for_update().get(pk=entity.pk)


def _require_another_admin(entity: Entity, user: User, what: str) -> None:
    """An entity that has admins keeps at least one: its last admin cannot be removed or demoted."""
    admins = Membership.objects.filter(entity=entity, role=Role.ADMIN)
    if admins.filter(user=user).exists() and not admins.exclude(user=user).exists():
        raise ValidationError(
            f"{user.get_username()} is the last admin of '{entity.name}': make someone else an admin before {what}.",
            code="last_admin",
        )


@transaction.atomic
def membership_set(*, entity: Entity, user: User, role: str, actor: User | None = None) -> Membership:
    """Give `user` this role in the entity (adding them if needed). `actor`, when given, must be an admin of
    the entity (pages and the admin site pass it; setup commands act as the system)."""
    if role not in Role.values:
        raise ValidationError(f"Unknown role '{role}': use one of {', '.join(Role.values)}.", code="invalid")
    if actor is not None:
        permissions.require_admin(actor, entity)
    _lock_entity(entity)
    if role != Role.ADMIN:
        _require_another_admin(entity, user, "changing their role")
    was = Membership.objects.filter(entity=entity, user=user).values_list("role", flat=True).first()
    membership, _ = Membership.objects.update_or_create(entity=entity, user=user, defaults={"role": role})
    permissions.forget_roles(user)
    if was != role:
        _record_member_change(entity=entity, actor=actor, member=user.get_username(), was=was, role=role)
    return membership


def _record_member_change(
    *, entity: Entity, actor: User | None, member: str, was: str | None, role: str | None
) -> None:
    """Record a member added to the team (`was` None), given another role, or removed (`role` None)."""
    kind = EventKind.MEMBER_ADDED if was is None else EventKind.MEMBER_REMOVED if role is None else None
    recorder = Recorder(user=actor)
    recorder.add(
        kind or EventKind.MEMBER_CHANGED,
        entity_id=entity.pk,
        object_label=entity.name,
        before={"member": member, "role": was} if was is not None else None,
        after={"member": member, "role": role} if role is not None else None,
    )
    recorder.save()


def user_named(username: str) -> User:
    """The active user with this username, as a person adding a member types it."""
    from django.contrib.auth import get_user_model

    username = (username or "").strip()
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError(f"There is no user named '{username}'.", code="unknown_user")
    return user


@transaction.atomic
def team_create(*, name: str, actor: User, admin_username: str | None = None) -> Entity:
    """W&B's `createTeam`: a new team (outside every organization) whose first admin is `admin_username`, else the
    actor; site admins only. Everything is checked before the team is written."""
    permissions.require_create_team(actor)
    names.validate_entity_name(name)
    admin = user_named(admin_username) if admin_username else actor
    return entity_create(name=name, owner=admin)


@transaction.atomic
def membership_add(*, entity: Entity, username: str, role: str, actor: User) -> Membership:
    """Add an existing user, named by username, to the entity; someone already in it keeps their role."""

    permissions.require_admin(actor, entity)
    user = user_named(username)
    if Membership.objects.filter(entity=entity, user=user).exists():
        raise ValidationError(
            f"{username} is already in '{entity.name}': change their role in the list instead.", code="duplicate"
        )
    return membership_set(entity=entity, user=user, role=role, actor=actor)


@transaction.atomic
def membership_remove(*, entity: Entity, user: User, actor: User) -> None:
    """Take `user` out of the entity; its last admin stays."""
    permissions.require_admin(actor, entity)
    _lock_entity(entity)
    if not Membership.objects.filter(entity=entity, user=user).exists():
        raise ValidationError(f"{user.get_username()} is not in '{entity.name}'.", code="missing")
    _require_another_admin(entity, user, "removing them")
    was = Membership.objects.filter(entity=entity, user=user).values_list("role", flat=True).first()
    Membership.objects.filter(entity=entity, user=user).delete()
    permissions.forget_roles(user)
    _record_member_change(entity=entity, actor=actor, member=user.get_username(), was=was, role=None)


def _locked_protected_aliases(holder: models.Model) -> list[str]:
    rows = type(holder).objects.select_for_update().filter(pk=holder.pk)
    return list(rows.values_list("protected_aliases", flat=True).get() or [])


def protected_alias_add(holder: models.Model, name: str) -> list[str]:
    """Protect alias `name` on `holder` (an entity, or a registry: rows with `protected_aliases`), its row locked
    while changing. The caller has checked who may."""
    names.validate_alias(name)
    current = _locked_protected_aliases(holder)
    if name in current:
        raise ValidationError(f"The alias '{name}' is already protected.", code="duplicate")
    holder.protected_aliases = [*current, name]
    type(holder).objects.filter(pk=holder.pk).update(protected_aliases=holder.protected_aliases)
    return holder.protected_aliases


def _record_protected_alias(*, kind: str, entity: Entity, actor: User, name: str) -> None:
    recorder = Recorder(user=actor)
    recorder.add(kind, entity_id=entity.pk, object_label=entity.name, alias=name)
    recorder.save()


def protected_alias_remove(holder: models.Model, name: str) -> list[str]:
    """Stop protecting `name` on `holder`: members may then set and remove it (the aliases themselves stay)."""
    current = _locked_protected_aliases(holder)
    if name not in current:
        raise ValidationError(f"The alias '{name}' is not protected.", code="missing")
    holder.protected_aliases = [a for a in current if a != name]
    type(holder).objects.filter(pk=holder.pk).update(protected_aliases=holder.protected_aliases)
    return holder.protected_aliases


@transaction.atomic
def entity_protected_alias_add(*, entity: Entity, name: str, actor: User) -> list[str]:
    """Protect registry alias `name` in the entity: from now on only its admins may set or remove it."""
    names.validate_alias(name)
    permissions.require_admin(actor, entity)
    aliases = protected_alias_add(entity, name)
    _record_protected_alias(kind=EventKind.PROTECTED_ALIAS_ADDED, entity=entity, actor=actor, name=name)
    return aliases


@transaction.atomic
def entity_protected_alias_remove(*, entity: Entity, name: str, actor: User) -> list[str]:
    permissions.require_admin(actor, entity)
    aliases = protected_alias_remove(entity, name)
    _record_protected_alias(kind=EventKind.PROTECTED_ALIAS_REMOVED, entity=entity, actor=actor, name=name)
    return aliases


@transaction.atomic
def project_get_or_create(*, entity: Entity, name: str, user: User, is_public: bool = False) -> Project:
    """The named project; members create it on first use, as W&B does on `wandb.init`."""
    names.validate_project_name(name)
    project = Project.objects.filter(entity=entity, name=name).first()
    # A private project answers as one that does not exist: names of private things do not leak.
    if project is not None:
        if not permissions.can_view_project(user, project):
            raise Http404("No such project.")
        return project
    if not permissions.can_view_entity(user, entity):
        raise Http404("No such project.")
    permissions.require_change(user, entity)
    project, _ = Project.objects.get_or_create(entity=entity, name=name, defaults={"is_public": is_public})
    return project


def _run_label(value: str, field: str) -> str:
    """A display name or job type as the SDK sends it: valid text, cut to the column's length (W&B does not
    refuse a run for a long name)."""
    names.validate_text(value, field.replace("_", " "))
    return value[: Run._meta.get_field(field).max_length]


# W&B refuses tags longer than this.
MAX_RUN_TAG_LENGTH = RunTag._meta.get_field("name").max_length
MAX_RUN_TAGS = 100
# The states a run is created or set with; crashed is never stored (Run.current_state).
STORED_STATES = [s for s in RunState.values if s != RunState.CRASHED]


def _validate_run_tags(tags: Iterable[str]) -> list[str]:
    """Tags as given, without repeats; each 1 to MAX_RUN_TAG_LENGTH characters of valid text."""
    tags = list(dict.fromkeys(tags))
    if len(tags) > MAX_RUN_TAGS:
        raise ValidationError(f"A run has at most {MAX_RUN_TAGS} tags.", code="too_many")
    for tag in tags:
        if not isinstance(tag, str) or not 0 < len(tag) <= MAX_RUN_TAG_LENGTH:
            raise ValidationError(f"A tag is 1 to {MAX_RUN_TAG_LENGTH} characters of text: {tag!r}.", code="invalid")
        names.validate_text(tag, "tag")
    return tags


def _set_tags(run: Run, tags: list[str]) -> None:
    if list(run.tags.values_list("name", flat=True)) == tags:
        return
    run.tags.all().delete()
    RunTag.objects.bulk_create(RunTag(run=run, name=tag) for tag in tags)


@transaction.atomic
def run_create(
    *,
    project: Project,
    user: User,
    run_id: str | None = None,
    display_name: str = "",
    job_type: str = "",
    config: dict | None = None,
    tags: Iterable[str] = (),
    state: str = RunState.FINISHED,
) -> Run:
    """A new run. The server's own runs (link_model, the demo) are done when made, hence `finished`; the SDK's
    start `running` (or `pending`) and their stream moves them on (run_heartbeat, run_finish)."""
    jsonvalues.check(config, "config")
    tags = _validate_run_tags(tags)
    if state not in STORED_STATES:
        raise ValidationError(f"A run's state is one of {', '.join(STORED_STATES)}, not {state!r}.", code="invalid")
    permissions.require_change_project(user, project)
    fields = {
        "display_name": _run_label(display_name, "display_name"),
        "job_type": _run_label(job_type, "job_type"),
        "config": config or {},
        "state": state,
    }
    if run_id is not None:
        names.validate_run_id(run_id)
        fields["run_id"] = run_id
    duplicate = f"A run '{run_id}' already exists in {project}."
    if run_id and Run.objects.filter(project=project, run_id=run_id).exists():
        raise ValidationError(duplicate, code="duplicate")
    run = create_unique(
        Run, duplicate=duplicate, project=project, created_by=user if user.is_authenticated else None, **fields
    )
    _set_tags(run, tags)
    return run


@transaction.atomic
def run_update(
    *,
    run: Run,
    user: User,
    config: dict | None = None,
    summary: dict | None = None,
    display_name: str | None = None,
    job_type: str | None = None,
    output_log: str | None = None,
    tags: Iterable[str] | None = None,
) -> Run:
    """Replace what is given on an existing run (the SDK re-sends config and summary as the run goes)."""
    jsonvalues.check(config, "config")
    jsonvalues.check(summary, "summary")
    tags = _validate_run_tags(tags) if tags is not None else None
    permissions.require_change_project(user, run.project)
    changed = {}
    if config is not None:
        changed["config"] = config
    if summary is not None:
        changed["summary"] = summary
    if display_name:
        changed["display_name"] = _run_label(display_name, "display_name")
    if job_type:
        changed["job_type"] = _run_label(job_type, "job_type")
    if output_log is not None:
        changed["output_log"] = output_log[-Run.MAX_OUTPUT_CHARS :]
    for field, value in changed.items():
        setattr(run, field, value)
    if changed:
        run.save(update_fields=[*changed, "updated_at"])
    if tags is not None:
        _set_tags(run, tags)
    return run


@transaction.atomic
def run_heartbeat(*, run: Run, user: User) -> None:
    """The client says the run is alive: it is running (again, when resumed) as of now. Written at most every
    Run.HEARTBEAT_INTERVAL, so most heartbeats cost one UPDATE that matches no row."""
    permissions.require_change_project(user, run.project)
    now = timezone.now()
    Run.objects.filter(pk=run.pk).filter(
        ~Q(state=RunState.RUNNING) | Q(heartbeat_at__lt=now - Run.HEARTBEAT_INTERVAL)
    ).update(state=RunState.RUNNING, heartbeat_at=now)


@transaction.atomic
def run_finish(*, run: Run, user: User, exit_code: int) -> Run:
    """The run ended: finished with exit code 0, failed with any other."""
    permissions.require_change_project(user, run.project)
    run.state = RunState.FINISHED if exit_code == 0 else RunState.FAILED
    run.heartbeat_at = timezone.now()
    run.save(update_fields=["state", "heartbeat_at", "updated_at"])
    return run


@transaction.atomic
def run_delete(*, run: Run | DeletedRun, user: User, delete_artifacts: bool = False) -> None:
    """Delete a run with its tags, history, console output and its uses of versions, as W&B's
    `Run.delete(delete_artifacts=...)`; members and admins of its team may.

    The versions it logged stay, logged by no run, unless `delete_artifacts`: then they go too, pending ones
    included, with their aliases (`latest` moves to the newest version left; indexes are never reused). The
    whole call is refused, nothing deleted, while any of those versions is linked into a registry, a registered
    model or a project's collection: unlink them there first. A run deleted before (a DeletedRun) may be deleted
    again, as W&B's deleted runs may: with `delete_artifacts` that deletes the versions the first deletion kept.
    Bytes stay until `collect_garbage` removes blobs no version refers to.
    """
    permissions.require_change_project(user, run.project)
    if isinstance(run, DeletedRun):
        logged = ArtifactVersion.objects.filter(pk__in=run.kept_versions, created_by_run=None)
    else:
        logged = ArtifactVersion.objects.filter(created_by_run=run)
    doomed = logged if delete_artifacts else ArtifactVersion.objects.none()
    artifact_ids = sorted(set(doomed.values_list("artifact_id", flat=True)))
    for project in Project.objects.filter(artifacts__in=artifact_ids).exclude(pk=run.project_id).distinct():
        permissions.require_change_project(user, project)
    # Lock the artifacts' rows (as numbering does, in one order): nothing is linked or committed meanwhile.
    for artifact_id in artifact_ids:
        _lock_artifact(artifact_id)
    linked = (
        doomed.filter(links__isnull=False).distinct().select_related("artifact").order_by("artifact__name", "index")
    )
    labels = [str(version) for version in linked[:5]]
    if labels:
        raise ValidationError(
            f"Run {run.run_id} logged {', '.join(labels)}, linked to a registry or collection: unlink "
            f"{'it' if len(labels) == 1 else 'them'} there first, or delete the run without its artifacts.",
            code="linked",
        )
    gone = list(doomed.filter(state=VersionState.COMMITTED).select_related("artifact__project"))
    committed = Counter(version.artifact_id for version in gone)
    recorder = Recorder(user=user)
    for version in gone:
        _add_deleted(recorder, version)
    try:
        with transaction.atomic():
            doomed.delete()
    except ProtectedError:
        raise ValidationError(
            f"A version run {run.run_id} logged was linked meanwhile; unlink it first.", code="linked"
        ) from None
    for artifact_id, count in sorted(committed.items()):
        Artifact.objects.filter(pk=artifact_id).update(
            num_versions=F("num_versions") - count, updated_at=timezone.now()
        )
        newest = ArtifactVersion.committed.filter(artifact_id=artifact_id).order_by("-index").first()
        if newest is not None:
            _alias_move(version=newest, name=names.LATEST, recorder=recorder)
    recorder.save()
    kept = [] if delete_artifacts else list(logged.order_by("pk").values_list("pk", flat=True))
    if isinstance(run, DeletedRun):
        DeletedRun.objects.filter(pk=run.pk).update(kept_versions=kept)
        return
    DeletedRun.objects.create(
        project=run.project, run_id=run.run_id, run_pk=run.pk, kept_versions=kept, deleted_by=user
    )
    run.delete()


# Steps are 64-bit, as W&B's.
MAX_STEP = 2**63 - 1
# historyKeys lists at most this many metrics of a run (their rows keep every value).
MAX_HISTORY_KEYS = 2000


def _history_value_type(value: object) -> str:
    """W&B's name for the type of a logged value (a media or chart value says its own `_type`)."""
    if isinstance(value, dict) and isinstance(value.get("_type"), str):
        return value["_type"]
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", type(None): "nil", dict: "map", list: "list"}.get(type(value), "unknown")


@transaction.atomic
def run_history_write(*, run: Run, user: User, offset: int, rows: list[dict]) -> Run:
    """Store the SDK's history lines `rows`, the first being line `offset` of its history file: one row per
    `_step` (a non-negative integer every row must hold). A step sent again (a retried request) replaces its
    row; the run keeps its line count (the offset a resumed run goes on from), its last step and the types of
    its metrics, counted once per line."""
    if offset < 0:
        raise ValidationError("A line offset cannot be negative.", code="invalid")
    by_step: dict[int, tuple[int, dict]] = {}
    for line, row in enumerate(rows, start=offset):
        step = row.get("_step") if isinstance(row, dict) else None
        if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step <= MAX_STEP:
            raise ValidationError(
                f"History line {line} has no _step (a non-negative integer): every row needs one.", code="no_step"
            )
        jsonvalues.check(row, f"history line {line}")
        by_step[step] = (line, row)
    permissions.require_change_project(user, run.project)
    locked = (
        Run.objects.select_for_update().only("history_keys", "history_line_count", "history_last_step").get(pk=run.pk)
    )
    HistoryRow.objects.bulk_create(
        [HistoryRow(run=run, step=step, line=line, data=row) for step, (line, row) in by_step.items()],
        update_conflicts=True,
        unique_fields=["run", "step"],
        update_fields=["line", "data"],
    )
    keys = dict(locked.history_keys)
    for line, row in by_step.values():
        if line < locked.history_line_count:
            continue  # counted when first sent
        for key, value in row.items():
            if key not in keys and len(keys) >= MAX_HISTORY_KEYS:
                continue
            counts = keys.setdefault(key, {})
            kind = _history_value_type(value)
            counts[kind] = counts.get(kind, 0) + 1
    run.history_keys = keys
    run.history_line_count = max(locked.history_line_count, offset + len(rows))
    steps = [s for s in (locked.history_last_step, *by_step) if s is not None]
    run.history_last_step = max(steps) if steps else None
    run.save(update_fields=["history_keys", "history_line_count", "history_last_step", "updated_at"])
    return run


@transaction.atomic
def run_write_output(*, run: Run, user: User, offset: int, lines: list[str]) -> Run:
    """Put console `lines` at line `offset` of the run's output (the SDK rewrites lines, e.g. progress bars,
    and a resumed run goes on from the count it was told). Only the newest MAX_OUTPUT_CHARS are kept."""
    if offset < 0:
        raise ValidationError("A line offset cannot be negative.", code="invalid")
    permissions.require_change_project(user, run.project)
    run = Run.objects.select_for_update().get(pk=run.pk)
    current = run.output_log.split("\n") if run.output_log else []
    start = offset - run.output_lines_cut
    lines = [line.rstrip("\n") for line in lines]
    if start < 0:
        lines, start = lines[-start:], 0
    current[start : start + len(lines)] = lines
    cut = 0
    size = sum(len(line) + 1 for line in current)
    while size > Run.MAX_OUTPUT_CHARS and len(current) > 1:
        size -= len(current[cut]) + 1
        cut += 1
    run.output_log = "\n".join(current[cut:])[-Run.MAX_OUTPUT_CHARS :]
    run.output_lines_cut += cut
    run.save(update_fields=["output_log", "output_lines_cut", "updated_at"])
    return run


FileSource = Path | IO[bytes]


@dataclass(frozen=True)
class LogResult:
    version: ArtifactVersion
    created: bool


def _validate_aliases(aliases: Iterable[str]) -> list[str]:
    aliases = list(dict.fromkeys(aliases))
    for alias in aliases:
        names.validate_alias(alias)
    return aliases


def _normalized_paths(paths: Iterable[str]) -> dict[str, str]:
    """Each path -> its NFC form, all validated; two paths that are one file after normalizing are refused."""
    normalized: dict[str, str] = {}
    for path in paths:
        nfc = names.normalize_file_path(path)
        if nfc in normalized.values():
            raise ValidationError(
                f"'{path}' names the same file as another path (they differ only in Unicode normalization).",
                code="duplicate_path",
            )
        normalized[path] = nfc
    names.validate_file_tree(normalized.values())
    return normalized


def _validate_files(files: dict[str, FileSource]) -> dict[str, FileSource]:
    """The files keyed by their normalized paths, once every path and source is valid."""
    if not files:
        raise ValidationError("An artifact version needs at least one file.", code="empty")
    normalized = _normalized_paths(files)
    for source in files.values():
        if isinstance(source, Path) and not source.is_file():
            raise ValidationError(f"No such file: {source}", code="missing")
    return {normalized[path]: source for path, source in files.items()}


def files_from_path(path: Path) -> dict[str, Path]:
    """A file -> {its name: path}; a directory -> every file under it, keyed by its relative POSIX path."""
    path = Path(path)
    if path.is_file():
        return {path.name: path}
    if path.is_dir():
        found = {p.relative_to(path).as_posix(): p for p in sorted(path.rglob("*")) if p.is_file()}
        if not found:
            raise ValidationError(f"The directory {path} holds no files.", code="empty")
        return found
    raise ValidationError(f"The path {path} does not exist.", code="missing")


def version_log(
    *,
    run: Run,
    user: User,
    name: str,
    type: str,
    files: dict[str, FileSource],
    metadata: dict | None = None,
    description: str = "",
    aliases: Iterable[str] = (),
) -> LogResult:
    """Log `files` as a version of artifact `name` produced by `run`.

    The same content (digest) under the same name returns the existing version with `aliases` merged.
    Bytes are stored before any row is written; the version appears committed in one transaction or not at all.
    """
    names.validate_name(name, "artifact name")
    names.validate_name(type, "artifact type")
    aliases = _validate_aliases(aliases)
    files = _validate_files(files)
    jsonvalues.check(metadata, "metadata")
    project = run.project
    permissions.require_change_project(user, project)

    blobs = {}
    for path, source in files.items():
        if isinstance(source, Path):
            with source.open("rb") as f:
                blobs[path] = blob_store(f)
        else:
            blobs[path] = blob_store(source)
    digest = manifest_digest({path: blob.md5 for path, blob in blobs.items()})

    # The same three steps as the SDK's (create, add files, commit), in one transaction.
    with transaction.atomic():
        result = version_create(
            run=run,
            user=user,
            name=name,
            type=type,
            digest=digest,
            metadata=metadata,
            description=description,
            aliases=aliases,
        )
        if not result.created:
            return result
        ArtifactFile.objects.bulk_create(
            ArtifactFile(version=result.version, path=path, blob=blob) for path, blob in sorted(blobs.items())
        )
        return LogResult(version_commit(version=result.version, user=user), True)


DIGEST_RE = re.compile(r"[0-9a-f]{32}")


def version_create(
    *,
    run: Run | None,
    user: User,
    name: str,
    type: str,
    digest: str,
    metadata: dict | None = None,
    description: str = "",
    aliases: Iterable[str] = (),
    tags: Iterable[str] = (),
    project: Project | None = None,
    history_step: int | None = None,
    client_id: str | None = None,
    storage_region: str = "",
    distributed_id: str = "",
) -> LogResult:
    """Step one of logging in three steps (create, add files, commit), as the W&B SDK does.

    Returns the committed version that already has `digest` (aliases and tags merged, created=False), or a
    new PENDING version (with its tags), invisible everywhere until `version_commit`. Logged by `run`, or, as
    W&B's API allows, by no run: then into `project`. `client_id`, the SDK's own id for what it logs, then
    names the version returned (see VersionClientId). A `storage_region` must be one the store answers to
    (settings.STORAGE_REGIONS). With a `distributed_id`, the artifact's pending version of that id (or a new one):
    each run sends a part, with its own digest, so no committed version is matched by digest.
    """
    names.validate_name(name, "artifact name")
    names.validate_name(type, "artifact type")
    names.validate_text(description)
    aliases = _validate_aliases(aliases)
    tags = _validate_tags(tags)
    if not DIGEST_RE.fullmatch(digest or ""):
        raise ValidationError(f"Invalid digest {digest!r}: expected 32 hex characters.", code="invalid_digest")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValidationError("The metadata must be a JSON object.", code="invalid_json")
    jsonvalues.check(metadata, "metadata")
    if history_step is not None and (
        isinstance(history_step, bool) or not isinstance(history_step, int) or not 0 <= history_step < 2**63
    ):
        raise ValidationError("The history step must be a whole number from 0.", code="invalid_step")
    if client_id is not None:
        names.validate_client_id(client_id)
    if storage_region and storage_region not in settings.STORAGE_REGIONS:
        raise ValidationError(
            f"Invalid storage region {storage_region!r}: this server stores in {', '.join(settings.STORAGE_REGIONS)}.",
            code="invalid_region",
        )
    if len(distributed_id) > ArtifactVersion._meta.get_field("distributed_id").max_length:
        raise ValidationError("A distributed id has at most 128 characters.", code="too_long")
    project = run.project if run is not None else project
    if project is None:
        raise ValueError("version_create needs a run or a project.")
    permissions.require_change_project(user, project)
    if client_id is not None:
        _require_client_id_free(client_id=client_id, project=project, name=name)
    # Bytes of the existing version that are missing or corrupt are asked for again: the client gets a pending
    # version, uploads them (repairing the blobs) and its commit resolves to the existing version.
    intact = _version_with_intact_bytes(project=project, name=name, digest=digest)
    with transaction.atomic():
        artifact = _artifact_for_update(project=project, name=name, type=type)
        if distributed_id:
            shared = ArtifactVersion.objects.filter(
                artifact=artifact, state=VersionState.PENDING, distributed_id=distributed_id, duplicate_of=None
            ).first()
            if shared is not None:
                shared.pending_aliases = list(dict.fromkeys([*shared.pending_aliases, *aliases]))
                shared.save(update_fields=["pending_aliases"])
                _tags_add(shared, tags)
                _client_id_set(client_id=client_id, version=shared)
                _output_add(run=run, version=shared)
                return LogResult(shared, False)
        # Checked again under the lock only when there was one (committed versions are never un-committed).
        existing = None
        if intact is not None and not distributed_id:
            existing = ArtifactVersion.committed.filter(artifact=artifact, digest=digest).first()
        if existing is not None and existing.pk == intact:
            existing.artifact = artifact
            recorder = Recorder(user=user, run=run)
            _aliases_merge(version=existing, aliases=aliases, recorder=recorder)
            recorder.save()
            _tags_add(existing, tags)
            _client_id_set(client_id=client_id, version=existing)
            _output_add(run=run, version=existing)
            return LogResult(existing, False)
        version = ArtifactVersion.objects.create(
            artifact=artifact,
            digest=digest,
            metadata=metadata or {},
            description=description,
            pending_aliases=aliases,
            created_by_run=run,
            created_by=user if user.is_authenticated else None,
            history_step=history_step,
            storage_region=storage_region,
            distributed_id=distributed_id,
        )
        _tags_add(version, tags)
        _client_id_set(client_id=client_id, version=version)
    return LogResult(version, True)


def _require_client_id_free(*, client_id: str, project: Project, name: str) -> None:
    """A client id names one version. The same id again (the SDK retries a request whose answer it lost) is
    taken only for the same artifact, and then names the version this request gets."""
    if _CLIENT_ID_ELSEWHERE(client_id, project.pk, name):
        raise ValidationError(
            "This client id already names a version of another artifact: log with a new one.",
            code="client_id_taken",
        )


# Asked by every version the SDK creates: prepared once (registry_site/prepared.py).
_CLIENT_ID_ELSEWHERE: Prepared[int] = Prepared(
    lambda client_id, project_id, name: (
        VersionClientId.objects.filter(client_id=client_id)
        .exclude(version__artifact__project_id=project_id, version__artifact__name=name)
        .values_list("pk", flat=True)[:1]
    ),
    str,
    int,
    str,
)


def _client_id_set(*, client_id: str | None, version: ArtifactVersion) -> None:
    if client_id is not None:
        insert_or_update(VersionClientId, {"version": version}, client_id=client_id)


def _output_add(*, run: Run | None, version: ArtifactVersion) -> None:
    """`run` logged `version`'s content again: it is one of the run's outputs too (unless it logged it first)."""
    if run is not None and run.pk != version.created_by_run_id:
        ArtifactOutput.objects.get_or_create(run=run, version=version)


# Asked by every version the SDK creates: prepared once (registry_site/prepared.py).
_COMMITTED_WITH_DIGEST: Prepared[ArtifactVersion] = Prepared(
    lambda project_id, name, digest: ArtifactVersion.committed.filter(
        artifact__project_id=project_id, artifact__name=name, digest=digest
    ).order_by("pk")[:1],
    int,
    str,
    str,
)


def _version_with_intact_bytes(*, project: Project, name: str, digest: str) -> int | None:
    """The id of the committed version with this content whose stored bytes are all present and not bad."""
    existing = first(_COMMITTED_WITH_DIGEST, project.pk, name, digest)
    if existing is None or not all(storage.blob_present(f.blob) for f in existing.files.select_related("blob")):
        return None
    return existing.pk


def _require_pending(user: User, version: ArtifactVersion) -> None:
    project = version.artifact.project
    permissions.require_change_project(user, project)
    if version.is_committed:
        raise ValidationError(f"{version} is committed: its files cannot change.", code="immutable")


def version_files_add(
    *, version: ArtifactVersion, files: dict[str, Blob | None], user: User
) -> dict[str, ArtifactFile | None]:
    """Put stored bytes at each path of a pending version (replacing what was there), all or none.

    Every path is validated and normalized (NFC) and checked against the others and the version's files
    before anything is written; a path mapped to None (bytes still to be uploaded) is checked, not written.
    Returns each given path's file row (None for those not written). When nothing is to be written, nothing
    opens a transaction (which on SQLite takes the write lock).
    """
    normalized = _normalized_paths(files)
    _require_pending(user, version)
    if all(blob is None for blob in files.values()):
        _check_tree_against(version, set(normalized.values()))
        return dict.fromkeys(files)
    with transaction.atomic():
        return _files_add(version, files, normalized)


def _files_add(
    version: ArtifactVersion, files: dict[str, Blob | None], normalized: dict[str, str]
) -> dict[str, ArtifactFile | None]:
    _check_tree_against(version, set(normalized.values()))
    # collect_garbage removes a blob no file refers to while holding its row: lock the rows, so a blob reused by
    # its content either gets its file now or is found gone (and nothing is written).
    wanted = {blob.pk for blob in files.values() if blob is not None}
    present = Blob.objects.select_for_update().filter(pk__in=wanted).values_list("pk", flat=True)
    if wanted and len(present) != len(wanted):
        raise storage.BlobRemoved()
    result: dict[str, ArtifactFile | None] = {}
    for path, blob in files.items():
        result[path] = None
        if blob is not None:
            result[path] = insert_or_update(ArtifactFile, {"blob": blob}, version=version, path=normalized[path])
    if wanted:
        # A path given its bytes no longer waits for an upload to a staging name (a completed upload in parts
        # stays, marked, to answer a late retry of its completion).
        written = [normalized[path] for path, blob in files.items() if blob is not None]
        StagedUpload.objects.filter(version=version, path__in=written, completed=False).delete()
    return result


MAX_PARTS = 10_000
HEX_MD5_RE = re.compile(r"[0-9a-f]{32}")


@transaction.atomic
def version_uploads_expect(
    *,
    version: ArtifactVersion,
    md5_by_path: dict[str, str],
    user: User,
    parts_by_path: dict[str, list[str]] | None = None,
) -> dict[str, StagedUpload]:
    """Expect each path's bytes at a staging name, straight in the object store (storage.direct_transfers) or
    in parts (`parts_by_path`: each part's hex MD5, in order); each path -> its StagedUpload. A path asked for
    again with the same MD5 keeps its single upload, so one already under way still counts; an upload in parts
    always starts anew. What arrives is checked and added when the parts are completed
    (version_upload_complete) or the version commits (_adopt_staged_uploads)."""
    parts_by_path = parts_by_path or {}
    normalized = _normalized_paths(md5_by_path)
    _require_pending(user, version)
    _check_tree_against(version, set(normalized.values()))
    for path, md5 in md5_by_path.items():
        try:
            storage.md5_hex(md5)
        except ValueError as exc:
            raise ValidationError(f"'{path}': {exc}", code="invalid_md5") from None
    for path, parts in parts_by_path.items():
        if not 1 <= len(parts) <= MAX_PARTS or not all(HEX_MD5_RE.fullmatch(md5) for md5 in parts):
            raise ValidationError(
                f"'{path}': the parts must be 1 to {MAX_PARTS} hex MD5 digests, one per part in order.",
                code="invalid_parts",
            )
    known = {u.path: u for u in version.staged_uploads.filter(path__in=normalized.values())}
    uploads: dict[str, StagedUpload] = {}
    for path, md5 in md5_by_path.items():
        upload = known.get(normalized[path])
        if upload is not None and (upload.md5 != md5 or upload.in_parts or path in parts_by_path):
            upload.delete()
            upload = None
        if upload is None:
            key = storage.staging_name()
            parts = parts_by_path.get(path, [])
            # Parts through the app are found by the staging name; the object store's own id comes later
            # (version_upload_begin).
            upload = StagedUpload.objects.create(
                version=version,
                path=normalized[path],
                md5=md5,
                key=key,
                part_md5s=parts,
                upload_id=key if parts and not storage.direct_transfers() else "",
            )
        uploads[path] = upload
    return uploads


def version_upload_begin(upload: StagedUpload) -> StagedUpload:
    """Start an upload in parts straight to the object store (outside any transaction: the store answers)."""
    if upload.in_parts and not upload.upload_id:
        upload.upload_id = storage.multipart_begin(upload.key)
        StagedUpload.objects.filter(pk=upload.pk).update(upload_id=upload.upload_id)
    return upload


def version_upload_part(*, version: ArtifactVersion, upload_id: str, number: int, user: User) -> StagedUpload:
    """The upload in parts that part `number` belongs to, when it may still be sent (the version pending, the
    upload not completed or aborted, the number one of its parts)."""
    _require_pending(user, version)
    upload = version.staged_uploads.filter(upload_id=upload_id).exclude(upload_id="").first()
    if upload is None or not 1 <= number <= len(upload.part_md5s):
        raise ValidationError("No such upload in parts, or no such part of it.", code="not_found")
    return upload


def version_upload_complete(
    *, version: ArtifactVersion, upload_id: str, part_md5s: dict[int, str], user: User, abort: bool = False
) -> str:
    """Complete (or abort) an upload in parts and add its file: the parts the client reports (part number ->
    the MD5 or ETag the store answered) must be those it declared, and the joined bytes must have the file's
    MD5. Returns that MD5. Any failure writes nothing and raises ValidationError."""
    _require_pending(user, version)
    upload = version.staged_uploads.filter(upload_id=upload_id).exclude(upload_id="").first()
    if upload is None or not upload.in_parts:
        raise ValidationError(f"No upload in parts '{upload_id}' waits in this version.", code="not_found")
    if upload.completed and not abort:
        return upload.md5  # a client's retry of a completion that succeeded
    in_store = upload.upload_id != upload.key
    if abort:
        if in_store:
            storage.multipart_abort(upload.key, upload_id=upload.upload_id)
        for number in range(1, len(upload.part_md5s) + 1):
            with contextlib.suppress(Exception):
                storage.staged_delete(storage.part_name(upload.key, number))
        upload.delete()
        return upload.md5
    sent = [part_md5s.get(number, "").strip('"').lower() for number in range(1, len(upload.part_md5s) + 1)]
    if sorted(part_md5s) != list(range(1, len(upload.part_md5s) + 1)) or sent != upload.part_md5s:
        raise ValidationError(
            f"'{upload.path}': the completed parts are not the {len(upload.part_md5s)} parts declared for it.",
            code="parts_mismatch",
        )
    if not _claim_completion(upload):
        # Another request is completing it (a client retrying a completion that takes long): wait for its end.
        return _await_completion(version, upload)
    try:
        if in_store:
            storage.multipart_complete(upload.key, upload_id=upload.upload_id, md5_hexes=upload.part_md5s)
            blob = storage.blob_adopt_whole(upload.key, md5=upload.md5)
        else:
            blob = storage.blob_from_parts(upload.key, len(upload.part_md5s), md5=upload.md5)
        with transaction.atomic():
            # Marked first: adding the file removes the path's uploads still awaited.
            StagedUpload.objects.filter(pk=upload.pk).update(completed=True, completing_at=None)
            version_files_add(version=version, files={upload.path: blob}, user=user)
    except BaseException as exc:
        StagedUpload.objects.filter(pk=upload.pk).update(completing_at=None)
        if isinstance(exc, FileNotFoundError):
            raise ValidationError(
                f"'{upload.path}': a part was never uploaded, or the upload was aborted or collected as abandoned.",
                code="not_uploaded",
            ) from None
        if isinstance(exc, ValueError):
            raise ValidationError(f"'{upload.path}': {exc}", code="digest_mismatch") from None
        raise
    return upload.md5


# A completion claimed longer ago than this is taken to have died with its process.
COMPLETION_TIMEOUT = timedelta(minutes=30)
# How long a client's retry waits for the completion under way before it is told to ask again: below the SDK's
# 30 s GraphQL timeout, so the answer reaches it, and no server thread waits on behalf of a client that left.
COMPLETION_WAIT = 20.0


class StillCompleting(Exception):
    """Another request is still joining and checking this upload's parts (a large file takes longer than the
    client waits); nothing was written, and asking again shortly gets the result (503 with Retry-After)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"'{path}': the upload is still being completed; ask again shortly.")


def _claim_completion(upload: StagedUpload) -> bool:
    stale = timezone.now() - COMPLETION_TIMEOUT
    return bool(
        StagedUpload.objects.filter(pk=upload.pk)
        .filter(Q(completing_at__isnull=True) | Q(completing_at__lt=stale))
        .update(completing_at=timezone.now())
    )


def _await_completion(version: ArtifactVersion, upload: StagedUpload) -> str:
    deadline = time.monotonic() + COMPLETION_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.5)
        state = StagedUpload.objects.filter(pk=upload.pk).values_list("completing_at", "completed").first()
        if state is None or state[1]:
            # Done (marked, or the row went with the file), or failed (the claim was released): say which.
            if version.files.filter(path=upload.path).exists():
                return upload.md5
            raise ValidationError(f"'{upload.path}': completing the upload failed; send the file again.")
        if state[0] is None:
            raise ValidationError(f"'{upload.path}': completing the upload failed; send the file again.")
    raise StillCompleting(upload.path)


def _adopt_staged_uploads(version: ArtifactVersion, user: User) -> None:
    """Turn what clients PUT straight into the object store into the version's files: every upload is checked
    (present, the declared MD5; see storage.blob_adopt) before any file is added, and a failure adds none (the
    uploads stay expected, so sending a file again and committing again works). Store calls run outside any
    transaction."""
    uploads = [upload for upload in version.staged_uploads.all() if not upload.in_parts]
    if not uploads:
        return
    blobs: dict[str, Blob | None] = {}
    for upload in uploads:
        try:
            blobs[upload.path] = storage.blob_adopt(upload.key, md5=upload.md5)
        except FileNotFoundError:
            raise ValidationError(
                f"'{upload.path}' was never uploaded (or its upload was collected as abandoned): send the file again.",
                code="not_uploaded",
            ) from None
        except ValueError as exc:
            raise ValidationError(f"'{upload.path}': {exc} Send the file again.", code="digest_mismatch") from None
    with transaction.atomic():
        version_files_add(version=version, files=blobs, user=user)
        StagedUpload.objects.filter(pk__in=[u.pk for u in uploads]).delete()
    for upload in uploads:
        with contextlib.suppress(Exception):
            storage.staged_delete(upload.key)


@transaction.atomic
def version_references_set(*, version: ArtifactVersion, references: dict[str, dict], user: User) -> None:
    """Record reference entries of a pending version (`path -> {"ref", "digest", "size", "extra"}` as in W&B's
    manifest), replacing those at the same paths; all or none. A reference is a URI the clients resolve (see
    ArtifactReference); the server checks its form only and never fetches it."""
    normalized = _normalized_paths(references)
    _require_pending(user, version)
    _check_tree_against(version, set(normalized.values()), adding="reference")
    rows = []
    for path, entry in references.items():
        names.validate_reference(entry.get("ref"))
        digest, size, extra = entry.get("digest"), entry.get("size"), entry.get("extra") or {}
        if not isinstance(digest, str) or not 0 < len(digest) <= 128:
            raise ValidationError(f"The reference '{path}' needs a digest of at most 128 characters.")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise ValidationError(f"The size of the reference '{path}' must be a non-negative integer.")
        if not isinstance(extra, dict):
            raise ValidationError(f"The extra fields of the reference '{path}' must be an object.")
        jsonvalues.check(extra, "reference extra")
        rows.append(
            ArtifactReference(
                version=version, path=normalized[path], ref=entry["ref"], digest=digest, size=size, extra=extra
            )
        )
    ArtifactReference.objects.filter(version=version, path__in=normalized.values()).delete()
    ArtifactReference.objects.bulk_create(rows)


def version_file_add(*, version: ArtifactVersion, path: str, blob: Blob, user: User) -> ArtifactFile:
    """Put stored bytes at `path` in a pending version (replacing what was there)."""
    return version_files_add(version=version, files={path: blob}, user=user)[path]


@transaction.atomic
def version_file_extras_set(*, version: ArtifactVersion, extras: dict[str, dict], user: User) -> None:
    """Keep the `extra` objects of a pending version's manifest entries, by path (in NFC, as files are kept)."""
    _require_pending(user, version)
    if not all(isinstance(extra, dict) for extra in extras.values()):
        raise ValidationError("The extra of a manifest entry must be a JSON object.", code="invalid_json")
    jsonvalues.check(extras, "manifest extras")
    extras = {names.normalize_file_path(path): extra for path, extra in extras.items() if extra}
    if version.distributed_id:
        # Each run's manifest lists its own part.
        extras = {**(version.file_extras or {}), **extras}
    ArtifactVersion.objects.filter(pk=version.pk).update(file_extras=extras)
    version.file_extras = extras


def version_digest_from_manifest(*, version: ArtifactVersion, md5_by_path: dict[str, str], user: User) -> None:
    """Paths are stored in NFC, but a client computes the version's digest over the paths as it wrote them
    (macOS writes NFD). When `md5_by_path` is the manifest the version was created with (its digest matches)
    and normalizing changes the digest, the version takes the digest of the normalized paths, so committing
    checks the same files."""
    _require_pending(user, version)
    if manifest_digest(md5_by_path) != version.digest:
        return
    normalized = manifest_digest({names.normalize_file_path(path): md5 for path, md5 in md5_by_path.items()})
    if normalized != version.digest:
        ArtifactVersion.objects.filter(pk=version.pk).update(digest=normalized)
        version.digest = normalized


# Bound parameters per statement of _check_tree_against, well under SQLite's 32,766 (and PostgreSQL's 65,535).
TREE_CHECK_PARAMETERS = 5_000


def _check_tree_against(version: ArtifactVersion, paths: set[str], *, adding: str = "file") -> None:
    """Refuse paths that would be a file and a directory at once beside the version's entries (its files and its
    references alike, which a client writes to disk the same way), or that an entry of the other kind holds:
    `adding` is "file" or "reference" (one of the same kind is replaced)."""
    for chunk, parents in _tree_chunks(sorted(paths)):
        clash = Q(path__in=parents)
        for path in chunk:
            clash |= Q(path__startswith=path + "/")
        same = clash | Q(path__in=chunk)
        files = version.files.filter(same if adding == "reference" else clash)
        references = version.references.filter(same if adding == "file" else clash)
        existing = list(
            files.order_by()
            .values_list("path", flat=True)
            .union(references.order_by().values_list("path", flat=True), all=True)[:1]
        )
        if existing and existing[0] in chunk:
            other = "reference" if adding == "file" else "file"
            raise ValidationError(
                f"'{existing[0]}' is a {other} of this version and cannot also be a {adding}.", code="path_clash"
            )
        if existing:
            names.validate_file_tree([*chunk, *existing])


def _tree_chunks(paths: list[str]) -> Iterator[tuple[list[str], set[str]]]:
    """The paths in chunks whose statement binds at most TREE_CHECK_PARAMETERS values: each path (twice, as a
    prefix and as itself) and its parent directories, for files and references both."""
    chunk: list[str] = []
    parents: set[str] = set()
    for path in paths:
        own = set(names.parent_dirs(path)) - parents
        if chunk and 2 * (len(parents) + len(own) + 2 * (len(chunk) + 1)) > TREE_CHECK_PARAMETERS:
            yield chunk, parents
            chunk, parents = [], set()
            own = set(names.parent_dirs(path))
        chunk.append(path)
        parents |= own
    if chunk:
        yield chunk, parents


def _check_entries(files: list[ArtifactFile], references: list[ArtifactReference]) -> None:
    """A path is one entry, a file or a reference, and no entry is also the directory of another."""
    if both := {f.path for f in files} & {r.path for r in references}:
        raise ValidationError(f"'{min(both)}' is both a file and a reference of this version.", code="path_clash")
    names.validate_file_tree([*(f.path for f in files), *(r.path for r in references)])


@transaction.atomic
def version_base_set(*, version: ArtifactVersion, base: ArtifactVersion, user: User) -> None:
    """Make pending `version` incremental on `base`, a committed version of the same artifact: when it commits,
    it holds its own entries and those of `base` at every other path, and its digest is that content's."""
    _require_pending(user, version)
    if not base.is_committed or base.artifact_id != version.artifact_id:
        raise ValidationError(
            "An incremental version adds to a committed version of the same artifact.", code="invalid_base"
        )
    ArtifactVersion.objects.filter(pk=version.pk).update(base=base)
    version.base = base


def _merge_base(
    version: ArtifactVersion, files: list[ArtifactFile], references: list[ArtifactReference]
) -> tuple[list[ArtifactFile], list[ArtifactReference]]:
    """Copy into `version` the entries of its base at paths it does not hold (its own replace them); returns
    all its files and references."""
    own = {f.path for f in files} | {r.path for r in references}
    base = version.base
    inherited = [f for f in base.files.select_related("blob") if f.path not in own]
    refs = [r for r in base.references.all() if r.path not in own]
    names.validate_file_tree([*own, *(f.path for f in inherited), *(r.path for r in refs)])
    unusable = [f.path for f in inherited if not f.blob.is_ok]
    if unusable:
        raise ValidationError(
            f"The server's copy of {', '.join(unusable)} (from {base}) is missing or corrupt: log it again.",
            code="blob_unavailable",
        )
    files = files + ArtifactFile.objects.bulk_create(
        [ArtifactFile(version=version, path=f.path, blob=f.blob) for f in inherited]
    )
    references = references + ArtifactReference.objects.bulk_create(
        [
            ArtifactReference(version=version, path=r.path, ref=r.ref, digest=r.digest, size=r.size, extra=r.extra)
            for r in refs
        ]
    )
    extras = {path: extra for path, extra in (base.file_extras or {}).items() if path not in own}
    if extras:
        version.file_extras = {**extras, **(version.file_extras or {})}
        version.save(update_fields=["file_extras"])
    return files, references


def version_commit(*, version: ArtifactVersion, user: User) -> ArtifactVersion:
    """Make a pending version visible: its files (none is allowed) must produce its digest. Committing twice is
    harmless.

    If another version with the same content was committed meanwhile, that one is returned (with the
    pending version's aliases) and the pending one is discarded.
    """
    project = version.artifact.project
    permissions.require_change_project(user, project)
    if storage.direct_transfers():
        _adopt_staged_uploads(version, user)
    with transaction.atomic():
        next_index = _lock_artifact(version.artifact_id)
        version = first(_TO_COMMIT, version.pk) or _gone(version)
        if version.is_committed:
            return version
        if version.duplicate_of is not None:
            return version.duplicate_of
        # No files is a version too (W&B allows empty artifacts): its digest is that of an empty manifest.
        files = _FILES_WITH_BLOBS(version.pk)
        for f in files:
            f.version = version
        references = _REFERENCES(version.pk)
        for r in references:
            r.version = version
        _check_entries(files, references)
        unusable = [f.path for f in files if not f.blob.is_ok]
        if unusable:
            raise ValidationError(
                f"The server's copy of {', '.join(unusable)} is missing or corrupt: upload the file again.",
                code="blob_unavailable",
            )
        digest = manifest_digest({**{f.path: f.blob.md5 for f in files}, **{r.path: r.digest for r in references}})
        if version.distributed_id:
            # Each run's part came with its own digest (checked file by file as uploaded): the version is the whole.
            version.digest = digest
            version.save(update_fields=["digest"])
        elif digest != version.digest:
            _require_parts_completed(version)
            raise ValidationError(
                f"The files' digest {digest} does not match the version's digest {version.digest}.",
                code="digest_mismatch",
            )
        if version.base_id is not None:
            # The client's digest covered its own entries (checked above); the version is the merged content.
            files, references = _merge_base(version, files, references)
            digest = manifest_digest({**{f.path: f.blob.md5 for f in files}, **{r.path: r.digest for r in references}})
            # Merged: the version holds its base's entries now, and no longer depends on the base (whose deletion
            # deletes only increments still pending on it).
            version.digest, version.base = digest, None
            version.save(update_fields=["digest", "base"])
        recorder = Recorder(user=user, run=version.created_by_run)
        existing = first(_COMMITTED_IN_ARTIFACT, version.artifact_id, digest)
        if existing is not None:
            existing.artifact = version.artifact
            _aliases_merge(version=existing, aliases=version.pending_aliases, recorder=recorder)
            recorder.save()
            _tags_add(existing, list(version.tags.values_list("name", flat=True)))
            version.files.all().delete()
            version.references.all().delete()
            version.duplicate_of = existing
            version.pending_aliases = []
            version.save(update_fields=["duplicate_of", "pending_aliases"])
            version.client_ids.update(version=existing)
            _output_add(run=version.created_by_run, version=existing)
            return existing
        version.size = sum(f.blob.size for f in files) + sum(r.size or 0 for r in references)
        version.num_files = len(files) + len(references)
        aliases, version.pending_aliases = version.pending_aliases, []
        _commit(version=version, aliases=aliases, index=next_index, recorder=recorder)
        recorder.save()
    return version


# What committing reads, for every version the SDK logs: prepared once (registry_site/prepared.py).
_TO_COMMIT: Prepared[ArtifactVersion] = Prepared(
    lambda pk: ArtifactVersion.objects.select_related(
        "artifact__project__entity", "duplicate_of", "created_by_run"
    ).filter(pk=pk),
    int,
)
_FILES_WITH_BLOBS: Prepared[ArtifactFile] = Prepared(
    lambda version_id: ArtifactFile.objects.select_related("blob").filter(version_id=version_id), int
)
_REFERENCES: Prepared[ArtifactReference] = Prepared(
    lambda version_id: ArtifactReference.objects.filter(version_id=version_id), int
)
_COMMITTED_IN_ARTIFACT: Prepared[ArtifactVersion] = Prepared(
    lambda artifact_id, digest: ArtifactVersion.committed.filter(artifact_id=artifact_id, digest=digest).order_by("pk")[
        :1
    ],
    int,
    str,
)
_ARTIFACT_LOCKED: Prepared[Artifact] = Prepared(
    lambda project_id, name: (
        Artifact.objects.select_for_update().filter(project_id=project_id, name=name).order_by()[:1]
    ),
    int,
    str,
)
_NEXT_INDEX_LOCKED: Prepared[int] = Prepared(
    lambda pk: Artifact.objects.select_for_update().filter(pk=pk).values_list("next_index", flat=True), int
)


def _gone(version: ArtifactVersion) -> ArtifactVersion:
    raise ArtifactVersion.DoesNotExist(f"Version {version.pk} was deleted meanwhile.")


def _require_parts_completed(version: ArtifactVersion) -> None:
    """Explain a commit that lacks files still being sent in parts."""
    unfinished = list(
        version.staged_uploads.exclude(part_md5s=[]).filter(completed=False).values_list("path", flat=True)[:3]
    )
    if unfinished:
        raise ValidationError(
            f"{', '.join(unfinished)}: sent in parts that were never completed; send the file again.",
            code="not_uploaded",
        )


def _artifact_for_update(*, project: Project, name: str, type: str) -> Artifact:
    """The artifact row, created if missing and locked until the transaction ends (serialises numbering)."""
    artifact = first(_ARTIFACT_LOCKED, project.pk, name)
    if artifact is None:
        # `entity/project/name` names one collection: a portfolio's name (registry.models, through the reverse
        # relation: artifacts never imports registry) is taken.
        if project.portfolios.filter(name=name).exists():
            raise ValidationError(
                f"'{name}' is a collection of linked versions in project '{project.entity.name}/{project.name}': "
                "log the artifact under another name.",
                code="name_taken",
            )
        try:
            with transaction.atomic():
                artifact = Artifact.objects.create(project=project, name=name, type=type)
        except IntegrityError:  # created by a concurrent caller meanwhile
            artifact = Artifact.objects.select_for_update().get(project=project, name=name)
    artifact.project = project
    if artifact.type != type:
        raise ValidationError(f"The artifact '{name}' has type '{artifact.type}', not '{type}'.", code="type_mismatch")
    return artifact


def _commit(*, version: ArtifactVersion, aliases: list[str], index: int, recorder: Recorder) -> None:
    """Give a pending version the next index (`index`, read under the artifact's lock, which the caller holds),
    make it visible with its size and file count and move `latest` onto it; `recorder` gathers the events."""
    Artifact.objects.filter(pk=version.artifact_id).update(
        next_index=index + 1, num_versions=F("num_versions") + 1, updated_at=timezone.now()
    )
    version.index = index
    version.state = VersionState.COMMITTED
    version.committed_at = timezone.now()
    version.save(update_fields=["index", "state", "committed_at", "size", "num_files", "pending_aliases"])
    recorder.add_version(
        EventKind.VERSION_CREATED,
        version,
        after={"version": version.label, "digest": version.digest, "files": version.num_files, "size": version.size},
    )
    moves = move_aliases(
        ArtifactAlias,
        scope={"artifact_id": version.artifact_id},
        holder={"version": version},
        names_=[names.LATEST, *aliases],
        fresh=True,
    )
    _add_moves(recorder, version, moves)


def _lock_artifact(artifact_id: int) -> int:
    """Hold the artifact's row until the transaction ends: alias changes, commits and deletes of its versions
    queue here, so a delete never misses an alias set meanwhile. Returns its next version index.

    A plain row lock, not registry_site/locks.py's line: several paths lock this row first some other way (finding
    the artifact by name, touching it on a delete) and come here later in the same transaction, where waiting in
    line behind a caller who waits for that row would deadlock."""
    for next_index in _NEXT_INDEX_LOCKED(artifact_id):
        return next_index
    raise Artifact.DoesNotExist(f"Artifact {artifact_id} was deleted meanwhile.")


@dataclass(frozen=True)
class AliasMove:
    """One alias that `move_aliases` pointed at its holder: `from_index` is the index of the version (link) it
    left, None when it was new in its scope."""

    name: str
    from_index: int | None


def move_aliases(
    model: type, *, scope: dict, holder: dict, names_: Iterable[str], fresh: bool = False
) -> list[AliasMove]:
    """Point each alias in `names_` at `holder` (a version, or a registry link), taking it off any other holder
    in `scope` (its artifact, or its registered model): the one rule for artifact and registry aliases. Returns
    the aliases that moved or were new (not those the holder already had), so callers can record them.

    The caller holds the scope's row lock. `fresh` says the holder was just created, so it has no aliases yet.
    """
    names_ = list(dict.fromkeys(names_))
    if not names_:
        return []
    [(field, target)] = holder.items()
    # One read of every holder of these names in the scope: what moves, where from, and what the holder has.
    current = model.objects.filter(**scope, name__in=names_).values_list("pk", "name", f"{field}_id", f"{field}__index")
    held, taken, left = set(), [], {}
    for pk, name, holder_id, index in current:
        if holder_id == target.pk:
            held.add(name)
        else:
            taken.append(pk)
            left[name] = index
    if taken:
        model.objects.filter(pk__in=taken).delete()
    names_ = [name for name in names_ if name not in held]
    model.objects.bulk_create(model(**scope, **holder, name=name) for name in names_)
    return [AliasMove(name, left.get(name)) for name in names_]


def _add_moves(recorder: Recorder, version: ArtifactVersion, moves: Iterable[AliasMove], left: str = "") -> None:
    """An alias new to the artifact was set; one another version held moved (`left`: the label of the version it
    left when that version is gone already)."""
    after = {"version": version.label}
    for move in moves:
        before = f"v{move.from_index}" if move.from_index is not None else left
        if before:
            recorder.add_version(
                EventKind.ALIAS_MOVED, version, alias=move.name, before={"version": before}, after=after
            )
        else:
            recorder.add_version(EventKind.ALIAS_SET, version, alias=move.name, after=after)


def _add_deleted(recorder: Recorder, version: ArtifactVersion, aliases: Iterable[str] = ()) -> None:
    """A version deleted, with the aliases that went with it: named by label, as its row is gone at commit."""
    before = {"version": version.label}
    recorder.add_version(EventKind.VERSION_DELETED, version, gone=True, before={**before, "digest": version.digest})
    for name in aliases:
        recorder.add_version(EventKind.ALIAS_REMOVED, version, gone=True, alias=name, before=before)


def _alias_move(*, version: ArtifactVersion, name: str, recorder: Recorder, left: str = "") -> ArtifactAlias:
    _lock_artifact(version.artifact_id)
    moves = move_aliases(
        ArtifactAlias, scope={"artifact_id": version.artifact_id}, holder={"version": version}, names_=[name]
    )
    _add_moves(recorder, version, moves, left)
    return ArtifactAlias.objects.get(version=version, name=name)


def _aliases_merge(*, version: ArtifactVersion, aliases: Iterable[str], recorder: Recorder) -> None:
    """Add `aliases` to an existing committed version (logging the same content again)."""
    _lock_artifact(version.artifact_id)
    moves = move_aliases(
        ArtifactAlias, scope={"artifact_id": version.artifact_id}, holder={"version": version}, names_=aliases
    )
    _add_moves(recorder, version, moves)


def _require_change_version(user: User, version: ArtifactVersion) -> None:
    project = version.artifact.project
    permissions.require_change_project(user, project)
    if not version.is_committed:
        raise ValidationError("This version is not committed yet.", code="pending")


@transaction.atomic
def alias_set(*, version: ArtifactVersion, name: str, user: User) -> ArtifactAlias:
    """Point alias `name` at `version`, taking it off any other version of the artifact."""
    names.validate_alias(name)
    _require_change_version(user, version)
    recorder = Recorder(user=user)
    alias = _alias_move(version=version, name=name, recorder=recorder)
    recorder.save()
    return alias


@transaction.atomic
def alias_remove(*, version: ArtifactVersion, name: str, user: User) -> None:
    _require_change_version(user, version)
    if name == names.LATEST:
        raise ValidationError("The alias 'latest' is managed automatically and cannot be removed.", code="reserved")
    _lock_artifact(version.artifact_id)
    deleted, _ = ArtifactAlias.objects.filter(version=version, name=name).delete()
    if not deleted:
        raise ValidationError(f"{version} has no alias '{name}'.", code="missing")
    recorder = Recorder(user=user)
    recorder.add_version(EventKind.ALIAS_REMOVED, version, alias=name, before={"version": version.label})
    recorder.save()


@transaction.atomic
def version_update(
    *,
    version: ArtifactVersion,
    user: User,
    description: str | None = None,
    metadata: dict | None = None,
    tags_add: Iterable[str] = (),
    tags_remove: Iterable[str] = (),
) -> ArtifactVersion:
    """Edit a committed version as W&B allows (`artifact.save()`): its description, metadata and tags. Its
    content (files, digest) and index never change. Arguments left None (or empty) leave that part as it is."""
    if description is not None:
        names.validate_text(description)
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise ValidationError("The metadata must be a JSON object.", code="invalid_json")
        jsonvalues.check(metadata, "metadata")
    tags_add, tags_remove = _validate_tags(tags_add), _validate_tags(tags_remove)
    _require_change_version(user, version)
    # What is stored, not the instance: a caller (the admin's form) may have set the new values on it already.
    stored = ArtifactVersion.objects.values("description", "metadata").get(pk=version.pk)
    before, after, fields = {}, {}, []
    if description is not None:
        if description != stored["description"]:
            before["description"], after["description"] = clip(stored["description"]), clip(description)
        version.description = description
        fields.append("description")
    if metadata is not None:
        old = stored["metadata"] or {}
        if metadata != old:
            # The keys added, removed or changed, not the values: metadata can be large.
            before["metadata"] = sorted(k for k in old if k not in metadata or old[k] != metadata[k])
            after["metadata"] = sorted(k for k in metadata if k not in old or old[k] != metadata[k])
        version.metadata = metadata
        fields.append("metadata")
    if fields:
        version.save(update_fields=fields)
    if tags_add or tags_remove:
        tags = list(version.tags.values_list("name", flat=True))
        if tags_remove:
            VersionTag.objects.filter(version=version, name__in=tags_remove).delete()
        _tags_add(version, tags_add)
        new = [tag for tag in tags if tag not in tags_remove] + [tag for tag in tags_add if tag not in tags]
        if new != tags:
            before["tags"], after["tags"] = tags, new
    if before:
        recorder = Recorder(user=user)
        recorder.add_version(EventKind.VERSION_EDITED, version, before=before, after=after)
        recorder.save()
    return version


def _validate_tags(tags: Iterable[str]) -> list[str]:
    tags = list(dict.fromkeys(tags))
    for tag in tags:
        names.validate_tag(tag)
    return tags


def _tags_add(version: ArtifactVersion, tags: list[str]) -> None:
    VersionTag.objects.bulk_create([VersionTag(version=version, name=tag) for tag in tags], ignore_conflicts=True)


@transaction.atomic
def version_delete(*, version: ArtifactVersion, user: User, delete_aliases: bool = False) -> None:
    """Delete a committed version, as W&B's `Artifact.delete(delete_aliases=...)`.

    Refused while the version is linked to a registered model (unlink it there first, where protected aliases
    are checked), and while it holds aliases other than `latest` unless `delete_aliases`. `latest` moves to
    the newest remaining version; the index is never reused. The files' bytes stay until `collect_garbage`
    removes blobs no version refers to.
    """
    _require_change_version(user, version)
    artifact = version.artifact
    # Lock the artifact row (as numbering does) before checking: aliases and `latest` cannot move meanwhile.
    Artifact.objects.filter(pk=artifact.pk).update(updated_at=timezone.now())
    version_delete_check(version=version, user=user, delete_aliases=delete_aliases)
    newest = ArtifactVersion.committed.filter(artifact=artifact).exclude(pk=version.pk).order_by("-index").first()
    recorder = Recorder(user=user)
    # `latest` moves on to the newest version left (recorded below), unless none is left.
    held = version_aliases_to_delete(version) + ([names.LATEST] if newest is None else [])
    _add_deleted(recorder, version, held)
    try:
        with transaction.atomic():
            version.delete()
    except ProtectedError:
        # Linked meanwhile by someone else.
        raise ValidationError(f"{version} is linked to the registry; unlink it first.", code="linked") from None
    Artifact.objects.filter(pk=artifact.pk).update(num_versions=F("num_versions") - 1)
    if newest is not None:
        newest.artifact = artifact
        _alias_move(version=newest, name=names.LATEST, recorder=recorder, left=version.label)
    recorder.save()


@transaction.atomic
def artifact_delete(*, artifact: Artifact, user: User) -> None:
    """Delete an artifact with every version it holds (W&B's `ArtifactCollection.delete()` of an artifact).

    Refused while any of its versions is linked (unlink them first, where protected aliases are checked). Its
    aliases go with it; the files' bytes stay until `collect_garbage` removes blobs no version refers to.
    """
    permissions.require_change_project(user, artifact.project)
    # Lock the artifact row (as numbering does): no version is committed or linked to it meanwhile.
    Artifact.objects.filter(pk=artifact.pk).update(updated_at=timezone.now())
    linked = ArtifactVersion.objects.filter(artifact=artifact, links__isnull=False).order_by("index").distinct()
    labels = [f"v{index}" for index in linked.values_list("index", flat=True)[:5]]
    if labels:
        raise ValidationError(
            f"{artifact.name}:{', '.join(labels)} {'is' if len(labels) == 1 else 'are'} linked to a registry or "
            "collection: unlink them there first.",
            code="linked",
        )
    recorder = Recorder(user=user)
    recorder.add_artifact(
        EventKind.ARTIFACT_DELETED,
        artifact,
        gone=True,
        before={"type": artifact.type, "versions": ArtifactVersion.committed.filter(artifact=artifact).count()},
    )
    try:
        with transaction.atomic():
            artifact.delete()
    except ProtectedError:
        raise ValidationError(
            f"A version of {artifact.name} was linked meanwhile; unlink it first.", code="linked"
        ) from None
    recorder.save()


def version_delete_check(*, version: ArtifactVersion, user: User, delete_aliases: bool = False) -> None:
    """Why `version` cannot be deleted (a ValidationError), checked without writing. Its links are named only
    where `user` may see them (a version may be linked into a registry its project's writers cannot see)."""
    if count := version.links.count():
        visible = [lk.short_name for lk in queries.version_links(user, version)]
        hidden = count - len(visible)
        where = ", ".join([*visible, *([f"{hidden} more you cannot see"] if hidden else [])])
        raise ValidationError(f"{version} is linked as {where}: unlink it there first.", code="linked")
    aliases = version_aliases_to_delete(version)
    if aliases and not delete_aliases:
        raise ValidationError(
            f"{version} holds the alias{'es' if len(aliases) > 1 else ''} {', '.join(aliases)}: "
            "confirm removing them to delete it.",
            code="has_aliases",
        )


def version_aliases_to_delete(version: ArtifactVersion) -> list[str]:
    """The aliases deleting `version` takes away (`latest` is not one: it moves to the newest version left)."""
    return sorted(a.name for a in version.aliases.all() if a.name != names.LATEST)


@transaction.atomic
def version_use(*, run: Run, version: ArtifactVersion, user: User) -> ArtifactUsage:
    """Record that `run` consumed `version` (lineage)."""
    permissions.require_view_project(user, version.artifact.project)
    project = run.project
    permissions.require_change_project(user, project)
    if not version.is_committed:
        raise ValidationError("This version is not committed yet.", code="pending")
    usage, _ = ArtifactUsage.objects.get_or_create(run=run, version=version)
    return usage


# W&B keeps types with this prefix (`wandb-history`, ...) for the SDK's own artifacts: logged as any other, but
# no artifact moves into or out of one.
RESERVED_TYPE_PREFIX = "wandb-"


@transaction.atomic
def artifact_update(
    *, artifact: Artifact, user: User, name: str | None = None, description: str | None = None
) -> Artifact:
    """Rename `artifact` (W&B's artifact sequence) or set its description; None leaves a field as it is. A name
    another artifact of the project holds is refused. Versions, aliases and links follow, as they point at rows."""
    if name is not None:
        names.validate_name(name, "artifact name")
    if description is not None:
        names.validate_text(description)
    project = artifact.project
    permissions.require_change_project(user, project)
    artifact = Artifact.objects.select_for_update().get(pk=artifact.pk)
    artifact.project = project
    was = {"name": artifact.name, "description": clip(artifact.description)}
    if name is not None and name != artifact.name:
        if Artifact.objects.filter(project=artifact.project_id, name=name).exists():
            raise ValidationError(f"The project already has an artifact named {name!r}.", code="duplicate_name")
        artifact.name = name
    if description is not None:
        artifact.description = description
    try:
        with transaction.atomic():
            artifact.save(update_fields=["name", "description", "updated_at"])
    except IntegrityError:  # the name was taken by a concurrent caller meanwhile
        raise ValidationError(f"The project already has an artifact named {name!r}.", code="duplicate_name") from None
    _record_artifact_edit(user, artifact, was, {"name": artifact.name, "description": clip(artifact.description)})
    return artifact


def _record_artifact_edit(user: User, artifact: Artifact, was: dict, now: dict) -> None:
    """Record the fields of `artifact` that changed (none changed: nothing)."""
    if diff := changes(was, now):
        recorder = Recorder(user=user)
        recorder.add_artifact(EventKind.ARTIFACT_EDITED, artifact, **diff)
        recorder.save()


@transaction.atomic
def artifact_tags_change(
    *, artifact: Artifact, user: User, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> Artifact:
    """Add and remove tags of `artifact` (W&B's collection tags). Added tags go last in the order given; adding
    a tag it has, or removing one it lacks, changes nothing. An invalid tag refuses the whole call."""
    add, remove = _validate_tags(add), _validate_tags(remove)
    project = artifact.project
    permissions.require_change_project(user, project)
    artifact = Artifact.objects.select_for_update().get(pk=artifact.pk)
    artifact.project = project
    tags = [tag for tag in artifact.tags if tag not in remove]
    tags += [tag for tag in add if tag not in tags]
    if tags != artifact.tags:
        _record_artifact_edit(user, artifact, {"tags": artifact.tags}, {"tags": tags})
        artifact.tags = tags
        artifact.save(update_fields=["tags", "updated_at"])
    return artifact


@transaction.atomic
def artifact_type_change(*, artifact: Artifact, user: User, type: str) -> Artifact:
    """Give `artifact` and so all its versions another type. Refused for W&B's internal types (`wandb-...`, to
    or from) and while any version is linked into a registered model, whose type rules checked the old type."""
    names.validate_name(type, "artifact type")
    max_length = Artifact._meta.get_field("type").max_length
    if len(type) > max_length:
        raise ValidationError(f"An artifact type has at most {max_length} characters.", code="too_long")
    project = artifact.project
    permissions.require_change_project(user, project)
    artifact = Artifact.objects.select_for_update().get(pk=artifact.pk)
    artifact.project = project
    if type == artifact.type:
        return artifact
    for reserved in (artifact.type, type):
        if reserved.startswith(RESERVED_TYPE_PREFIX):
            raise ValidationError(
                f"The type {reserved!r} is reserved for W&B's internal artifacts: no artifact moves into or out of it.",
                code="reserved_type",
            )
    if ArtifactVersion.objects.filter(artifact=artifact, links__isnull=False).exists():
        raise ValidationError(
            f"Versions of '{artifact.name}' are linked into registered models, which accepted its type "
            f"'{artifact.type}': unlink them before changing it.",
            code="linked",
        )
    _record_artifact_edit(user, artifact, {"type": artifact.type}, {"type": type})
    artifact.type = type
    artifact.save(update_fields=["type", "updated_at"])
    return artifact


def _api_key_name(name: str) -> str:
    name = (name or "").strip() or f"Key created {timezone.now():%Y-%m-%d %H:%M}"
    if len(name) > 100:
        raise ValidationError("A key name has at most 100 characters.", code="too_long")
    return name


def api_key_create(*, user: User, name: str = "") -> tuple[ApiKey, str]:
    """A new API key; the secret is returned once and only its hash is stored."""
    name = _api_key_name(name)
    secret = secrets.token_hex(20)
    key = ApiKey.objects.create(
        user=user, name=name, prefix=secret[:8], key_hash=hashlib.sha256(secret.encode()).hexdigest()
    )
    return key, secret


# A secret chosen by the caller: printable ASCII without spaces, long enough not to be guessed.
IMPORTED_SECRET_RE = re.compile(r"[\x21-\x7e]{32,256}")


@transaction.atomic
def api_key_import(*, user: User, secret: str, name: str = "") -> ApiKey:
    """An API key whose secret was chosen elsewhere (W&B's test fixtures make a user's name its key); only its
    hash is stored. A secret another key already has is refused."""
    name = _api_key_name(name)
    if not IMPORTED_SECRET_RE.fullmatch(secret or ""):
        raise ValidationError(
            "An imported API key has 32 to 256 printable ASCII characters and no spaces.", code="invalid"
        )
    key_hash = hashlib.sha256(secret.encode()).hexdigest()
    duplicate = "Another API key has this secret."
    if ApiKey.objects.filter(key_hash=key_hash).exists():
        raise ValidationError(duplicate, code="duplicate")
    return create_unique(ApiKey, duplicate=duplicate, user=user, name=name, prefix=secret[:8], key_hash=key_hash)


def api_key_revoke(*, key: ApiKey, user: User) -> None:
    if key.user_id != user.pk:
        raise PermissionDenied("You can only revoke your own keys.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


# Read on every API request, so prepared once (registry_site/prepared.py); the hash is unique: nothing is sorted.
_ACTIVE_KEY: Prepared[ApiKey] = Prepared(
    lambda key_hash: (
        ApiKey.objects.select_related("user").filter(key_hash=key_hash, revoked_at__isnull=True).order_by()[:1]
    ),
    str,
)


def api_key_lookup(secret: str) -> ApiKey | None:
    """The active key with this secret, held by an active user, or None. Reads only (see api_key_touch)."""
    if not secret or len(secret) > 256:
        return None
    key = first(_ACTIVE_KEY, hashlib.sha256(secret.encode()).hexdigest())
    if key is None or not key.user.is_active:
        return None
    return key


def api_key_authenticate(secret: str) -> User | None:
    """The active user holding this key, or None."""
    key = api_key_lookup(secret)
    return key.user if key is not None else None


# `last_used_at` is written at most this often per key, so nearly no request writes it.
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


def api_key_touch(*, key: ApiKey) -> None:
    """Record that `key` was used, at most once per API_KEY_TOUCH_INTERVAL, in its own transaction.

    Called once a request is answered: bookkeeping never makes a request wait for the database's write
    lock, and a failure (the database is busy) is logged and dropped.
    """
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < API_KEY_TOUCH_INTERVAL:
        return
    try:
        with transaction.atomic():
            ApiKey.objects.filter(pk=key.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - API_KEY_TOUCH_INTERVAL)
            ).update(last_used_at=now)
    except DatabaseError as exc:
        logger.warning("Could not record the use of API key %s: %s", key.prefix, exc)


@dataclass(frozen=True)
class PruneResult:
    versions: int
    files: int


def version_prune_pending(*, older_than: timedelta) -> PruneResult:
    """Delete versions left pending (an upload that never committed) for longer than `older_than`."""
    cutoff = timezone.now() - older_than
    _, deleted = ArtifactVersion.objects.filter(state=VersionState.PENDING, created_at__lt=cutoff).delete()
    return PruneResult(
        versions=deleted.get(ArtifactVersion._meta.label, 0), files=deleted.get(ArtifactFile._meta.label, 0)
    )


def blob_for_dedupe(*, entity: Entity, md5: str) -> Blob | None:
    """Stored bytes the entity may reuse instead of uploading them: held by one of its files, marked OK, and
    present in the store with their size (checked now; a missing copy is recorded and not trusted)."""
    blob = queries.stored_blob(entity, md5)
    return blob if blob is not None and storage.blob_present(blob) else None


@dataclass
class VerifyReport:
    checked: int = 0
    bad: list[Blob] = dataclasses.field(default_factory=list)
    missing: list[Blob] = dataclasses.field(default_factory=list)


def blobs_verify(*, sample: int | None = None) -> VerifyReport:
    """Hash every stored blob (or `sample` random ones) against its SHA-256 and size, and record each status.

    Reads stream; rows are updated one by one and never over a concurrent upload's repair, so it is safe to run
    while serving. A bad or missing blob is refused to downloads and re-uploaded by the next client that logs
    the same content.
    """
    keys = list(Blob.objects.order_by("pk").values_list("pk", flat=True))
    if sample is not None and sample < len(keys):
        keys = random.sample(keys, sample)
    report = VerifyReport()
    for pk in keys:
        blob = Blob.objects.filter(pk=pk).first()
        if blob is None:
            continue
        status = storage.blob_verify(blob)
        report.checked += 1
        if status == BlobStatus.BAD:
            report.bad.append(blob)
        elif status == BlobStatus.MISSING:
            report.missing.append(blob)
    return report


@dataclass
class GarbageReport:
    pending: PruneResult
    blobs: list[Blob] = dataclasses.field(default_factory=list)
    staged: list[str] = dataclasses.field(default_factory=list)


def garbage_collect(*, older_than: timedelta) -> GarbageReport:
    """Remove what nothing needs and is older than `older_than`: pending versions, blobs no file refers to
    (row and bytes), staged objects of uploads and writes that died half-way, and uploads in parts to the
    object store never completed.

    Safe against concurrent uploads: a blob is deleted only while its row is locked and after no file is
    found referring to it; an upload that reuses it either adds its file first (the blob stays) or finds the
    row gone and stores the bytes again (storage.blob_store looks for them under the same lock).
    """
    cutoff = timezone.now() - older_than
    report = GarbageReport(pending=version_prune_pending(older_than=older_than))
    candidates = Blob.objects.filter(files__isnull=True, created_at__lt=cutoff).values_list("pk", flat=True)
    for pk in list(candidates):
        with transaction.atomic():
            blob = Blob.objects.select_for_update().filter(pk=pk, created_at__lt=cutoff).first()
            if blob is None or ArtifactFile.objects.filter(blob=blob).exists():
                continue
            storage.blob_delete_bytes(blob)
            Blob.objects.filter(pk=blob.pk).delete()
        report.blobs.append(blob)
    for key in storage.staged_leftovers(older_than=cutoff):
        storage.staged_delete(key)
        report.staged.append(key)
    # Uploads of versions still pending are awaited; those of pruned versions went with their rows.
    awaited = set(StagedUpload.objects.values_list("key", flat=True))
    report.staged.extend(storage.abort_abandoned_uploads(older_than=cutoff, keep=awaited))
    return report
