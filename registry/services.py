"""Every write to registries, registered models (collections), links and registry aliases (views, commands, admin
and API alike). A legacy registered model and a registry's collection are one model: one linking, numbering and
alias implementation, which asks registry.permissions about the scope it lives in."""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from artifacts import names, permissions
from artifacts import services as artifact_services
from artifacts.events import Recorder, changes, clip
from artifacts.models import Artifact, ArtifactVersion, Entity, EventKind, Organization, Project
from artifacts.permissions import User
from registry import automations
from registry import permissions as registry_permissions
from registry.models import (
    Automation,
    AutomationEvent,
    Delivery,
    Link,
    LinkAlias,
    RegisteredModel,
    Registry,
    RegistryMember,
    RegistryRole,
    RegistryTeamMember,
    Visibility,
    Webhook,
    in_scope,
    scope_filter,
    validate_registry_name,
)
from registry.permissions import Scope
from registry_site.locks import lock_in_order, take_index_in_order
from registry_site.prepared import Prepared, first


def check_accepts(registered_model: RegisteredModel, version: ArtifactVersion) -> None:
    """A registered model (a collection) accepts one artifact type, fixed when it is created."""
    if version.artifact.type != registered_model.type:
        raise ValidationError(
            f"'{registered_model.name}' accepts versions of type '{registered_model.type}': "
            f"'{version.artifact.name}' has type '{version.artifact.type}'.",
            code="type_mismatch",
        )


def check_scope_accepts(scope: Scope, type: str, what: str) -> None:
    """The types a registry holds: models in a team's Model Registry; a registry's accepted types (any when it
    lists none); any in a project's portfolios. `what` names the thing refused, for the message."""
    if isinstance(scope, Project):
        return
    if isinstance(scope, Entity):
        if not names.is_model_type(type):
            raise ValidationError(
                f"{what} has type '{type}': only artifacts whose type contains 'model' can be linked to the "
                "Model Registry.",
                code="not_a_model",
            )
    elif not scope.accepts(type):
        raise ValidationError(
            f"{what} has type '{type}': the {scope.name} registry accepts {', '.join(scope.artifact_types)}.",
            code="type_not_accepted",
        )


def _clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned = []
    for tag in tags:
        tag = tag.strip()
        if not tag:
            continue
        names.validate_name(tag, "tag")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def _scope(entity: Entity | None, registry: Registry | None, project: Project | None = None) -> Scope:
    given = [scope for scope in (entity, registry, project) if scope is not None]
    if len(given) != 1:
        raise TypeError("Pass one scope: the entity (its Model Registry), a registry or a project.")
    return given[0]


def _owner(scope: Scope) -> Entity:
    """The entity registered models of the scope belong to: the team (its own or its project's), or the registry's
    organization's own."""
    if isinstance(scope, Project):
        return scope.entity
    return scope if isinstance(scope, Entity) else scope.organization.entity


def _where(scope: Scope) -> str:
    if isinstance(scope, Project):
        return f"project '{scope.entity.name}/{scope.name}'"
    return f"'{scope}'" if isinstance(scope, Entity) else f"the {scope.name} registry"


def _what(scope: Scope) -> str:
    return "registered model" if isinstance(scope, Entity) else "collection"


def check_portfolio_name(project: Project, name: str) -> None:
    """A portfolio shares its project's collection names with the artifacts logged there: `entity/project/name`
    names one collection."""
    if Artifact.objects.filter(project=project, name=name).exists():
        raise ValidationError(
            f"'{name}' is an artifact of project '{project.entity.name}/{project.name}': link into a collection "
            "of another name.",
            code="name_taken",
        )


@transaction.atomic
def registered_model_create(
    *,
    name: str,
    user: User,
    entity: Entity | None = None,
    registry: Registry | None = None,
    project: Project | None = None,
    type: str = "model",
    description: str = "",
    tags: Iterable[str] = (),
) -> RegisteredModel:
    """A registered model in the entity's Model Registry, a collection in `registry`, or a portfolio in
    `project`."""
    scope = _scope(entity, registry, project)
    what = _what(scope)
    names.validate_name(name, f"{what} name")
    names.validate_name(type, "type")
    names.validate_text(description, "model card" if isinstance(scope, Entity) else "description")
    if isinstance(scope, Entity) and not names.is_model_type(type):
        raise ValidationError(
            f"The Model Registry holds models: a registered model's type must contain 'model', not '{type}'.",
            code="not_a_model",
        )
    check_scope_accepts(scope, type, f"A {what}")
    tags = _clean_tags(tags)
    registry_permissions.require_change(user, scope)
    duplicate = f"A {what} named '{name}' already exists in {_where(scope)}."
    if RegisteredModel.objects.filter(**scope_filter(scope), name=name).exists():
        raise ValidationError(duplicate, code="duplicate")
    if project is not None:
        check_portfolio_name(project, name)
    rm = artifact_services.create_unique(
        RegisteredModel,
        duplicate=duplicate,
        entity=_owner(scope),
        registry=registry,
        project=project,
        name=name,
        type=type,
        description=description,
        tags=tags,
        created_by=user if user.is_authenticated else None,
    )
    _count_collection(registry, +1)
    recorder = _Events(user=user)
    recorder.add_model(EventKind.MODEL_CREATED, rm, after=_model_state(rm))
    recorder.save()
    return rm


def _model_state(rm: RegisteredModel) -> dict:
    return {"name": rm.name, "type": rm.type, "description": clip(rm.description), "tags": rm.tags}


@transaction.atomic
def registered_model_update(
    *,
    registered_model: RegisteredModel,
    user: User,
    description: str | None = None,
    tags: Iterable[str] | None = None,
    name: str | None = None,
) -> RegisteredModel:
    """Edit a registered model (collection): its description (model card), tags, and name (W&B renames
    collections in place: links, aliases and versions keep pointing at it)."""
    scope = registered_model.scope
    if description is not None:
        names.validate_text(description, "model card")
    renamed = name is not None and name != registered_model.name
    if renamed:
        names.validate_name(name, f"{_what(scope)} name")
    registry_permissions.require_change(user, scope)
    # In line for the row first, as every writer of it (see _lock_model).
    _lock_model(registered_model.pk)
    # What is stored, not the instance: a caller (the admin's form) may have set the new values on it already.
    was = _model_state(RegisteredModel.objects.get(pk=registered_model.pk))
    if renamed:
        if RegisteredModel.objects.filter(**scope_filter(scope), name=name).exists():
            raise ValidationError(
                f"A {_what(scope)} named '{name}' already exists in {_where(scope)}.", code="duplicate"
            )
        if isinstance(scope, Project):
            check_portfolio_name(scope, name)
        registered_model.name = name
    if description is not None:
        registered_model.description = description
    if tags is not None:
        registered_model.tags = _clean_tags(tags)
    registered_model.save(update_fields=["name", "description", "tags", "updated_at"])
    now = _model_state(registered_model)
    if diff := changes(was, now):
        recorder = _Events(user=user)
        recorder.add_model(EventKind.MODEL_EDITED, registered_model, **diff)
        recorder.save()
    return registered_model


@dataclass(frozen=True)
class LinkResult:
    link: Link
    created: bool


def link_check(
    *,
    version: ArtifactVersion,
    user: User,
    registered_model: RegisteredModel | None = None,
    entity: Entity | None = None,
    registry: Registry | None = None,
    project: Project | None = None,
    registered_model_name: str | None = None,
    aliases: Iterable[str] = (),
) -> tuple[Scope, list[str], RegisteredModel | None]:
    """Every rule a link must pass, checked without writing; returns the target scope (the team's Model Registry,
    a registry or a project), the clean aliases and the target registered model (collection) when it exists."""
    if registered_model is not None:
        scope = registered_model.scope
    elif registered_model_name is None:
        raise TypeError("Pass registered_model, or a scope (entity, registry or project) and registered_model_name.")
    else:
        scope = _scope(entity, registry, project)
        names.validate_name(registered_model_name, f"{_what(scope)} name")
    aliases = list(dict.fromkeys(aliases))
    for alias in aliases:
        names.validate_alias(alias)

    source_project = version.artifact.project
    permissions.require_view_project(user, source_project)
    registry_permissions.require_change(user, scope)
    for alias in aliases:
        registry_permissions.require_alias_allowed(user, scope, alias)
    if not version.is_committed:
        raise ValidationError("Only committed versions can be linked.", code="pending")
    check_scope_accepts(scope, version.artifact.type, f"'{version.artifact.name}'")
    if not registry_permissions.may_link_from(version, scope):
        if isinstance(scope, Project):
            raise ValidationError(
                f"{version.full_name} belongs to '{source_project.entity}', not '{scope.entity.name}': a project's "
                "collections link only versions of its own entity's projects.",
                code="other_entity",
            )
        if isinstance(scope, Entity):
            raise ValidationError(
                f"{version.full_name} belongs to '{source_project.entity}', not '{scope}': a registered model "
                "links only versions of its own entity's projects.",
                code="other_entity",
            )
        raise ValidationError(
            f"{version.full_name} belongs to '{source_project.entity}', which is not a team of the organization "
            f"'{scope.organization.name}': a registry links only versions of its organization's teams.",
            code="other_organization",
        )
    if registered_model is None:
        registered_model = _named_in(scope, registered_model_name)
    if registered_model is not None:
        in_scope(registered_model, scope)
        check_accepts(registered_model, version)
    elif isinstance(scope, Project):
        check_portfolio_name(scope, registered_model_name)
    return scope, aliases, registered_model


# Read by every link: prepared once per kind of scope (registry_site/prepared.py), as scope_filter selects.
_NAMED_IN_ENTITY: Prepared[RegisteredModel] = Prepared(
    lambda pk, name: RegisteredModel.objects.filter(entity_id=pk, registry=None, project=None, name=name)[:1], int, str
)
_NAMED_IN_PROJECT: Prepared[RegisteredModel] = Prepared(
    lambda pk, name: RegisteredModel.objects.filter(project_id=pk, name=name)[:1], int, str
)
_NAMED_IN_REGISTRY: Prepared[RegisteredModel] = Prepared(
    lambda pk, name: RegisteredModel.objects.filter(registry_id=pk, name=name)[:1], int, str
)


def _named_in(scope: Scope, name: str) -> RegisteredModel | None:
    """The registered model `name` of `scope` (see scope_filter), or None."""
    if isinstance(scope, Entity):
        return first(_NAMED_IN_ENTITY, scope.pk, name)
    if isinstance(scope, Project):
        return first(_NAMED_IN_PROJECT, scope.pk, name)
    return first(_NAMED_IN_REGISTRY, scope.pk, name)


def link_version(
    *,
    version: ArtifactVersion,
    user: User,
    registered_model: RegisteredModel | None = None,
    entity: Entity | None = None,
    registry: Registry | None = None,
    project: Project | None = None,
    registered_model_name: str | None = None,
    aliases: Iterable[str] = (),
) -> LinkResult:
    """Link `version` to a registered model or collection: the next index, `latest` moved, `aliases` applied.

    Name the target either as `registered_model` or as a scope (`entity`: its Model Registry, a `registry`, or a
    `project`: its portfolios) and
    `registered_model_name` (created when missing, accepting the version's type). Linking a source that is already
    linked there returns the existing link with aliases merged. Concurrent callers get consecutive indexes: the
    registered model's row is locked while numbering.
    """
    scope, aliases, registered_model = link_check(
        version=version,
        user=user,
        registered_model=registered_model,
        entity=entity,
        registry=registry,
        project=project,
        registered_model_name=registered_model_name,
        aliases=aliases,
    )
    link = functools.partial(
        _link, version=version, user=user, scope=scope, name=registered_model_name, aliases=aliases
    )
    try:
        return link(registered_model=registered_model)
    except IntegrityError:
        # The version was linked there meanwhile by a concurrent caller (one link per source): done once more,
        # finding that link.
        return link(registered_model=registered_model)


def _link(
    *,
    version: ArtifactVersion,
    user: User,
    scope: Scope,
    registered_model: RegisteredModel | None,
    name: str | None,
    aliases: list[str],
) -> LinkResult:
    """link_version's writes, in one transaction holding the registered model's lock. Read before the lock, which
    is held only for what needs it: whether the version is linked there already (the common case, a new link,
    then reads nothing more under the lock), and the automations a new link may fire."""
    known = registered_model is not None
    link = first(_LINK_OF, registered_model.pk, version.pk) if known else None
    enabled = automations.enabled_automations(registered_model) if known else None
    with transaction.atomic():
        recorder = _Events(user=user, automations=enabled)
        if not known:
            registered_model = _registered_model_get_or_create(
                scope=scope, name=name, user=user, type=version.artifact.type, recorder=recorder
            )
            # Created by a concurrent caller meanwhile: the type rule is checked again on the row itself.
            check_accepts(registered_model, version)
        # Lock the registered model until commit: concurrent links queue here (SQLite queues on BEGIN IMMEDIATE).
        # None found before the lock (the common case) needs no second look: the insert would fail if a concurrent
        # caller made one (one per source), so the lock takes the new link's index at once, in the same statement.
        taken = known and link is None
        next_index = _take_index(registered_model.pk) if taken else _lock_model(registered_model.pk)
        if not taken:
            # Read (again) under the lock: a link found before it may have been unlinked meanwhile.
            link = first(_LINK_OF, registered_model.pk, version.pk)
        created = link is None
        if created:
            link = Link.objects.create(
                registered_model=registered_model,
                index=next_index,
                source=version,
                created_by=user if user.is_authenticated else None,
            )
            if not taken:
                RegisteredModel.objects.filter(pk=registered_model.pk).update(
                    next_index=next_index + 1, num_versions=F("num_versions") + 1, updated_at=timezone.now()
                )
            moves = _aliases_move(link=link, names_=[names.LATEST, *aliases], fresh=True)
        else:
            RegisteredModel.objects.filter(pk=registered_model.pk).update(updated_at=timezone.now())
            moves = _aliases_move(link=link, names_=aliases)
        link.registered_model = registered_model
        recorder.link = link
        if created:
            recorder.add(EventKind.LINK_CREATED, after={"version": link.label, "source": _source_label(version)})
        recorder.add_moves(moves)
        recorder.save()
    return LinkResult(link, created)


def link_version_into_project(
    *,
    version: ArtifactVersion,
    user: User,
    entity: Entity,
    project_name: str,
    registered_model_name: str,
    aliases: Iterable[str] = (),
) -> LinkResult:
    """W&B's `link_artifact` into an ordinary project of a team: a collection (portfolio) there, created when
    missing, and the project too, as `wandb.init` creates it. A refused link leaves no new project behind."""
    project = Project.objects.select_related("entity").filter(entity=entity, name=project_name).first()
    link = functools.partial(
        link_version, version=version, user=user, registered_model_name=registered_model_name, aliases=aliases
    )
    if project is not None:
        permissions.require_view_project(user, project)
        return link(project=project)
    with transaction.atomic():
        return link(project=artifact_services.project_get_or_create(entity=entity, name=project_name, user=user))


def _registered_model_get_or_create(
    *, scope: Scope, name: str, user: User, type: str, recorder: "_Events"
) -> RegisteredModel:
    """The named registered model (collection); a new one accepts `type` (its first version's type) from now on,
    and its creation is recorded with the link that made it."""
    lookup = scope_filter(scope)
    try:
        with transaction.atomic():
            rm, created = RegisteredModel.objects.get_or_create(
                **lookup,
                name=name,
                defaults={
                    "entity": _owner(scope),
                    "type": type,
                    "created_by": user if user.is_authenticated else None,
                },
            )
            if created:
                _count_collection(rm.registry, +1)
                recorder.add_model(EventKind.MODEL_CREATED, rm, after=_model_state(rm))
    except IntegrityError:
        rm = RegisteredModel.objects.get(**lookup, name=name)
    return rm


def _count_collection(registry: Registry | None, delta: int) -> None:
    """Keep a registry's number of collections on its row (legacy registered models have none)."""
    if registry is not None:
        Registry.objects.filter(pk=registry.pk).update(num_collections=F("num_collections") + delta)


def _lock_model(registered_model_id: int) -> int:
    """Hold the registered model's row until the transaction ends (numbering, aliases, unlinking, edits and
    deletion queue here, in the order they asked: registry_site/locks.py; so an unlink never misses a protected
    alias set meanwhile); returns its next version index.

    Every service that writes the row comes here (or to _take_index) before it touches the row: a transaction
    that locked the row some other way and came here later could wait in line behind a caller who waits for it."""
    found = lock_in_order(RegisteredModel, registered_model_id, "next_index", _NEXT_INDEX_LOCKED)
    if not found:
        raise RegisteredModel.DoesNotExist(f"No registered model {registered_model_id}.")
    return found[0]


def _take_index(registered_model_id: int) -> int:
    """_lock_model for a new link, handing out its index in the same statement (the model's number of versions
    and time of change updated with it)."""
    taken = take_index_in_order(RegisteredModel, registered_model_id, timezone.now())
    if taken is None:
        raise RegisteredModel.DoesNotExist(f"No registered model {registered_model_id}.")
    return taken


# Each link takes the lock and looks for the same link: both prepared once (registry_site/prepared.py).
_NEXT_INDEX_LOCKED: Prepared[int] = Prepared(
    lambda pk: RegisteredModel.objects.select_for_update().filter(pk=pk).values_list("next_index", flat=True), int
)
_LINK_OF: Prepared[Link] = Prepared(
    lambda rm_id, source_id: Link.objects.filter(registered_model_id=rm_id, source_id=source_id).order_by("pk")[:1],
    int,
    int,
)


class _Events(Recorder):
    """The registry events one operation records (on `link`, when it concerns one): gathered as it goes, written
    at its end by `save()`, one insert. Every registry event is written there."""

    def __init__(
        self, *, user: User | None, link: Link | None = None, automations: list[Automation] | None = None
    ) -> None:
        super().__init__(user=user)
        self.link = link
        self.automations = automations  # the link's model's enabled automations, when read already

    def add(self, kind: str, *, alias: str = "", before: dict | None = None, after: dict | None = None) -> None:
        """An event of `self.link`."""
        rm = self.link.registered_model
        super().add(
            kind,
            entity_id=rm.entity_id,
            registered_model_id=rm.pk,
            object_id=self.link.pk,
            object_label=f"{rm.name}:{self.link.label}",
            version_id=self.link.source_id,
            alias=alias,
            before=before,
            after=after,
        )

    def add_model(self, kind: str, rm: RegisteredModel, **fields: object) -> None:
        """An event of the registered model (collection) itself."""
        super().add(kind, entity_id=rm.entity_id, registered_model_id=rm.pk, object_label=rm.name, **fields)

    def add_registry(self, kind: str, registry: Registry, **fields: object) -> None:
        """An event of a registry's settings (its members, its protected aliases)."""
        super().add(
            kind, entity_id=registry.organization.entity_id, object_id=registry.pk, object_label=str(registry), **fields
        )

    def add_moves(self, moves: Iterable[artifact_services.AliasMove], *, left: str | None = None) -> None:
        """An alias new to the registered model was set; one another version held moved (`left`: the label of
        the version it left when that version is gone already)."""
        for move in moves:
            before = f"v{move.from_index}" if move.from_index is not None else left
            after = {"version": self.link.label}
            if before is None:
                self.add(EventKind.ALIAS_SET, alias=move.name, after=after)
            else:
                self.add(EventKind.ALIAS_MOVED, alias=move.name, before={"version": before}, after=after)

    def save(self) -> None:
        """The one write point of the registry's events: writes them, then the webhook deliveries they fire (same
        transaction: both commit or neither)."""
        rows = self.rows
        super().save()
        if rows and self.link is not None:
            automations.dispatch(events=rows, link=self.link, enabled=self.automations)

    def add_member(self, registry: Registry, *, member: str, was: str | None, role: str | None) -> None:
        """A user or team added to the registry (`was` None), given another role, or removed (`role` None)."""
        if was == role:
            return
        kind = EventKind.MEMBER_ADDED if was is None else EventKind.MEMBER_REMOVED if role is None else None
        self.add_registry(
            kind or EventKind.MEMBER_CHANGED,
            registry,
            before={"member": member, "role": was} if was is not None else None,
            after={"member": member, "role": role} if role is not None else None,
        )


def _source_label(version: ArtifactVersion) -> str:
    return f"{version.artifact.name}:{version.label}"


def _aliases_move(*, link: Link, names_: Iterable[str], fresh: bool = False) -> list[artifact_services.AliasMove]:
    """Point each alias in `names_` at `link` by the rule artifact aliases follow; the caller holds the lock."""
    return artifact_services.move_aliases(
        LinkAlias,
        scope={"registered_model_id": link.registered_model_id},
        holder={"link": link},
        names_=names_,
        fresh=fresh,
    )


@transaction.atomic
def link_alias_set(*, link: Link, name: str, user: User) -> LinkAlias:
    """Point registry alias `name` at `link`, taking it off any other link of the registered model."""
    names.validate_alias(name)
    registry_permissions.require_alias_allowed(user, link.registered_model.scope, name)
    _lock_model(link.registered_model_id)
    recorder = _Events(user=user, link=link)
    recorder.add_moves(_aliases_move(link=link, names_=[name]))
    recorder.save()
    return LinkAlias.objects.get(link=link, name=name)


@transaction.atomic
def link_alias_remove(*, link: Link, name: str, user: User) -> None:
    scope = link.registered_model.scope
    registry_permissions.require_change(user, scope)
    if name == names.LATEST:
        raise ValidationError("The alias 'latest' is managed automatically and cannot be removed.", code="reserved")
    registry_permissions.require_alias_allowed(user, scope, name)
    _lock_model(link.registered_model_id)
    deleted, _ = LinkAlias.objects.filter(link=link, name=name).delete()
    if not deleted:
        raise ValidationError(f"{link} has no alias '{name}'.", code="missing")
    recorder = _Events(user=user, link=link)
    recorder.add(EventKind.ALIAS_REMOVED, alias=name, before={"version": link.label})
    recorder.save()


@transaction.atomic
def link_delete(*, link: Link, user: User) -> None:
    """Unlink a registry version (W&B's `Artifact.unlink()`): the source version stays, the index is never
    reused and `latest` moves to the newest remaining link. A version with a protected alias: admins only."""
    registered_model = link.registered_model
    scope = registered_model.scope
    registry_permissions.require_change(user, scope)
    # Locked first (as linking and alias changes do), so the aliases read below are the ones being deleted.
    _lock_model(registered_model.pk)
    RegisteredModel.objects.filter(pk=registered_model.pk).update(updated_at=timezone.now())
    protected = registry_permissions.protected_aliases(scope)
    held = sorted(link.aliases.values_list("name", flat=True))
    if protected & set(held) and not registry_permissions.is_admin(user, scope):
        raise PermissionDenied("This version carries a protected alias: only admins may unlink it.")
    newest = Link.objects.filter(registered_model=registered_model).exclude(pk=link.pk).order_by("-index").first()
    unlinked = _Events(user=user, link=link)
    unlinked.add(EventKind.LINK_REMOVED, before={"version": link.label, "source": _source_label(link.source)})
    for name in held:
        # `latest` moves on to the newest link left (recorded below), unless none is left.
        if name != names.LATEST or newest is None:
            unlinked.add(EventKind.ALIAS_REMOVED, alias=name, before={"version": link.label})
    link.delete()
    RegisteredModel.objects.filter(pk=registered_model.pk).update(num_versions=F("num_versions") - 1)
    if newest is not None:
        newest.registered_model = registered_model
        moved = _Events(user=user, link=newest)
        moved.now = unlinked.now
        moved.add_moves(_aliases_move(link=newest, names_=[names.LATEST]), left=link.label)
        unlinked.rows += moved.rows
    unlinked.save()


@transaction.atomic
def registered_model_delete(*, registered_model: RegisteredModel, user: User) -> None:
    """Delete a registered model (collection) and its links (the source versions stay). Admins only."""
    scope = registered_model.scope
    if not registry_permissions.is_admin(user, scope):
        registry_permissions.require_view(user, scope)
        raise PermissionDenied(f"Only admins of {_where(scope)} may delete a {registered_model.kind}.")
    # In line for the row first, as every writer of it (see _lock_model).
    _lock_model(registered_model.pk)
    recorder = _Events(user=user)
    recorder.add_model(
        EventKind.MODEL_DELETED,
        registered_model,
        before={**_model_state(registered_model), "versions": registered_model.num_versions},
    )
    registered_model.delete()
    _count_collection(registered_model.registry, -1)
    recorder.save()


# The organization's registries (W&B's current Registry).

# Every organization starts with W&B's two core registries.
CORE_REGISTRIES = {
    "model": ("Models of the organization, ready for staging and production.", ["model"]),
    "dataset": ("Datasets of the organization.", ["dataset"]),
}


@transaction.atomic
def organization_create(
    *, name: str, teams: Iterable[Entity] = (), user: User | None = None, core_registries: bool = True
) -> Organization:
    """An organization, its own entity (named as it: W&B's orgEntity, which holds its registries), its teams and,
    unless `core_registries` is false (W&B's test fixtures start bare), its core registries Model and Dataset. The
    system acts here (setup, admin site, fixtures)."""
    names.validate_entity_name(name)
    if Organization.objects.filter(name=name).exists():
        raise ValidationError(f"An organization named '{name}' already exists.", code="duplicate")
    entity = artifact_services.entity_create(name=name, description=f"The organization {name}'s registries.")
    organization = Organization.objects.create(name=name, entity=entity)
    Entity.objects.filter(pk__in=[team.pk for team in teams]).update(organization=organization)
    for registry_name, (description, types) in CORE_REGISTRIES.items() if core_registries else ():
        Registry.objects.create(
            organization=organization,
            name=registry_name,
            description=description,
            artifact_types=types,
            created_by=user if user is not None and user.is_authenticated else None,
        )
    return organization


@transaction.atomic
def organization_team_add(*, organization: Organization, team: Entity) -> None:
    """Make `team` one of the organization's teams (its members become the organization's)."""
    if team.pk == organization.entity_id or Organization.objects.filter(entity=team).exists():
        raise ValidationError(f"'{team}' is an organization's own entity, not a team.", code="not_a_team")
    Entity.objects.filter(pk=team.pk).update(organization=organization)
    team.organization = organization


def _clean_types(types: Iterable[str]) -> list[str]:
    cleaned = []
    for type in types:
        type = type.strip()
        if type:
            names.validate_name(type, "artifact type")
            if type not in cleaned:
                cleaned.append(type)
    return cleaned


def _validate_visibility(visibility: str) -> None:
    if visibility not in Visibility.values:
        raise ValidationError(
            f"Unknown visibility '{visibility}': use one of {', '.join(Visibility.values)}.", code="invalid"
        )


@transaction.atomic
def registry_create(
    *,
    organization: Organization,
    name: str,
    user: User,
    description: str | None = None,
    artifact_types: Iterable[str] = (),
    visibility: str = Visibility.ORGANIZATION,
) -> Registry:
    """A new registry of the organization: organization admins only. No accepted types accepts every type; no
    description (None) is kept apart from an empty one, as W&B does."""
    validate_registry_name(name)
    if description is not None:
        names.validate_text(description, "description")
    types = _clean_types(artifact_types)
    _validate_visibility(visibility)
    registry_permissions.require_create_registry(user, organization.pk)
    duplicate = f"A registry named '{name}' already exists in '{organization}'."
    if Registry.objects.filter(organization=organization, name=name).exists():
        raise ValidationError(duplicate, code="duplicate")
    registry = artifact_services.create_unique(
        Registry,
        duplicate=duplicate,
        organization=organization,
        name=name,
        description=description,
        artifact_types=types,
        visibility=visibility,
        created_by=user if user.is_authenticated else None,
    )
    recorder = _Events(user=user)
    recorder.add_registry(EventKind.REGISTRY_CREATED, registry, after=_registry_state(registry))
    recorder.save()
    return registry


def _registry_state(registry: Registry) -> dict:
    return {
        "name": registry.name,
        "description": clip(registry.description),
        "artifact_types": registry.artifact_types,
        "visibility": registry.visibility,
    }


@transaction.atomic
def registry_update(
    *,
    registry: Registry,
    user: User,
    description: str | None = None,
    artifact_types: Iterable[str] | None = None,
    visibility: str | None = None,
    name: str | None = None,
) -> Registry:
    """Change a registry's settings (and, given `name`, rename it: W&B's SDK does): its admins only. An accepted
    type a collection holds cannot be removed, and a registry that lists types cannot go back to accepting any
    while its collections hold others."""
    if name is not None:
        validate_registry_name(name)
    if description is not None:
        names.validate_text(description, "description")
    if visibility is not None:
        _validate_visibility(visibility)
    types = _clean_types(artifact_types) if artifact_types is not None else None
    registry_permissions.require_admin(user, registry)
    registry = Registry.objects.select_for_update().get(pk=registry.pk)
    was = _registry_state(registry)
    if types is not None:
        held = set(registry.collections.values_list("type", flat=True))
        stranded = sorted(held - set(types)) if types else []
        if stranded:
            raise ValidationError(
                f"Collections of the {registry.name} registry hold type {', '.join(stranded)}: keep it accepted.",
                code="type_in_use",
            )
        registry.artifact_types = types
    if description is not None:
        registry.description = description
    if visibility is not None:
        registry.visibility = visibility
    if name is not None and name != registry.name:
        if Registry.objects.filter(organization_id=registry.organization_id, name=name).exists():
            raise ValidationError(
                f"A registry named '{name}' already exists in '{registry.organization}'.", code="duplicate"
            )
        registry.name = name
    registry.save(update_fields=["name", "description", "artifact_types", "visibility", "updated_at"])
    now = _registry_state(registry)
    if diff := changes(was, now):
        recorder = _Events(user=user)
        recorder.add_registry(EventKind.REGISTRY_EDITED, registry, **diff)
        recorder.save()
    return registry


@transaction.atomic
def registry_delete(*, registry: Registry, user: User) -> None:
    """Delete a registry with its collections and links (the source versions stay): organization admins only."""
    registry_permissions.require_create_registry(user, registry.organization_id)
    # Each collection's history records its end, as deleting it alone does.
    recorder = _Events(user=user)
    for rm in registry.collections.all():
        recorder.add_model(EventKind.MODEL_DELETED, rm, before={**_model_state(rm), "versions": rm.num_versions})
    recorder.add_registry(EventKind.REGISTRY_DELETED, registry, before=_registry_state(registry))
    registry.delete()
    recorder.save()


def _validate_registry_role(role: str) -> None:
    if role not in RegistryRole.values:
        raise ValidationError(f"Unknown role '{role}': use one of {', '.join(RegistryRole.values)}.", code="invalid")


def _require_active(user: User) -> None:
    if not user.is_active:
        raise ValidationError(f"{user.get_username()} is deactivated.", code="inactive")


def _require_team(team: Entity) -> None:
    """A registry's team members are teams: an organization's own entity (its members, all at once) is not one."""
    if Organization.objects.filter(entity=team).exists():
        raise ValidationError(f"'{team.name}' is an organization's own entity, not a team.", code="not_a_team")


@transaction.atomic
def registry_member_set(*, registry: Registry, user: User, role: str, actor: User | None = None) -> RegistryMember:
    """Give `user` this role in the registry (adding them if needed). `actor`, when given, must be an admin of the
    registry (pages and the API pass it; setup acts as the system). Any active user may be given a role: being a
    member opens this registry to them, not the rest of the organization (W&B's server takes users from outside
    the organization too)."""
    _validate_registry_role(role)
    if actor is not None:
        registry_permissions.require_admin(actor, registry)
    _require_active(user)
    was = RegistryMember.objects.filter(registry=registry, user=user).values_list("role", flat=True).first()
    member, _ = RegistryMember.objects.update_or_create(registry=registry, user=user, defaults={"role": role})
    registry_permissions.forget_roles(user)
    recorder = _Events(user=actor)
    recorder.add_member(registry, member=user.get_username(), was=was, role=role)
    recorder.save()
    return member


@transaction.atomic
def registry_member_add(*, registry: Registry, username: str, role: str, actor: User) -> RegistryMember:
    """Add an existing user, named by username, to the registry; someone already in it keeps their role."""
    registry_permissions.require_admin(actor, registry)
    user = artifact_services.user_named(username)
    if RegistryMember.objects.filter(registry=registry, user=user).exists():
        raise ValidationError(
            f"{username} is already in the {registry.name} registry: change their role in the list instead.",
            code="duplicate",
        )
    return registry_member_set(registry=registry, user=user, role=role, actor=actor)


@transaction.atomic
def registry_member_remove(*, registry: Registry, user: User, actor: User) -> None:
    registry_permissions.require_admin(actor, registry)
    was = RegistryMember.objects.filter(registry=registry, user=user).values_list("role", flat=True).first()
    deleted, _ = RegistryMember.objects.filter(registry=registry, user=user).delete()
    if not deleted:
        raise ValidationError(f"{user.get_username()} is not a member of the {registry.name} registry.", code="missing")
    registry_permissions.forget_roles(user)
    recorder = _Events(user=actor)
    recorder.add_member(registry, member=user.get_username(), was=was, role=None)
    recorder.save()


@transaction.atomic
def registry_team_member_set(
    *, registry: Registry, team: Entity, role: str, actor: User | None = None
) -> RegistryTeamMember:
    """Give a team this role in the registry (adding it if needed): each of its members has at least this role
    there while they are in the team. `actor`, when given, must be an admin of the registry."""
    _validate_registry_role(role)
    if actor is not None:
        registry_permissions.require_admin(actor, registry)
    _require_team(team)
    was = RegistryTeamMember.objects.filter(registry=registry, team=team).values_list("role", flat=True).first()
    member, _ = RegistryTeamMember.objects.update_or_create(registry=registry, team=team, defaults={"role": role})
    if actor is not None:
        registry_permissions.forget_roles(actor)
    recorder = _Events(user=actor)
    recorder.add_member(registry, member=f"team {team.name}", was=was, role=role)
    recorder.save()
    return member


@transaction.atomic
def registry_team_member_add(*, registry: Registry, team_name: str, role: str, actor: User) -> RegistryTeamMember:
    """Add an existing team, by name, to the registry; a team already in it keeps its role."""
    registry_permissions.require_admin(actor, registry)
    team = Entity.objects.filter(name=team_name).first()
    if team is None:
        raise ValidationError(f"There is no team named '{team_name}'.", code="unknown_team")
    if RegistryTeamMember.objects.filter(registry=registry, team=team).exists():
        raise ValidationError(
            f"{team_name} is already in the {registry.name} registry: change its role in the list instead.",
            code="duplicate",
        )
    return registry_team_member_set(registry=registry, team=team, role=role, actor=actor)


@transaction.atomic
def registry_team_member_remove(*, registry: Registry, team: Entity, actor: User) -> None:
    registry_permissions.require_admin(actor, registry)
    was = RegistryTeamMember.objects.filter(registry=registry, team=team).values_list("role", flat=True).first()
    deleted, _ = RegistryTeamMember.objects.filter(registry=registry, team=team).delete()
    if not deleted:
        raise ValidationError(f"{team.name} is not a member of the {registry.name} registry.", code="missing")
    registry_permissions.forget_roles(actor)
    recorder = _Events(user=actor)
    recorder.add_member(registry, member=f"team {team.name}", was=was, role=None)
    recorder.save()


@transaction.atomic
def registry_members_add(
    *,
    registry: Registry,
    actor: User,
    users: Iterable[User] = (),
    teams: Iterable[Entity] = (),
    role: str = RegistryRole.VIEWER,
) -> None:
    """W&B's `add_members`: users and teams join with `role` (W&B's default on a self-hosted server: viewer);
    those already in keep theirs. Every one is checked before anything is written."""
    users, teams = list(users), list(teams)
    _validate_registry_role(role)
    registry_permissions.require_admin(actor, registry)
    for user in users:
        _require_active(user)
    for team in teams:
        _require_team(team)
    recorder = _Events(user=actor)
    for user in users:
        _, added = RegistryMember.objects.get_or_create(registry=registry, user=user, defaults={"role": role})
        registry_permissions.forget_roles(user)
        if added:
            recorder.add_member(registry, member=user.get_username(), was=None, role=role)
    for team in teams:
        _, added = RegistryTeamMember.objects.get_or_create(registry=registry, team=team, defaults={"role": role})
        if added:
            recorder.add_member(registry, member=f"team {team.name}", was=None, role=role)
    registry_permissions.forget_roles(actor)
    recorder.save()


@transaction.atomic
def registry_members_remove(
    *, registry: Registry, actor: User, users: Iterable[User] = (), teams: Iterable[Entity] = ()
) -> None:
    """W&B's `remove_members`: removing a user or team that is not a member does nothing."""
    users, teams = list(users), list(teams)
    registry_permissions.require_admin(actor, registry)
    recorder = _Events(user=actor)
    gone_users = RegistryMember.objects.filter(registry=registry, user__in=users)
    for username, was in gone_users.values_list("user__username", "role"):
        recorder.add_member(registry, member=username, was=was, role=None)
    gone_teams = RegistryTeamMember.objects.filter(registry=registry, team__in=teams)
    for team_name, was in gone_teams.values_list("team__name", "role"):
        recorder.add_member(registry, member=f"team {team_name}", was=was, role=None)
    gone_users.delete()
    gone_teams.delete()
    for user in [*users, actor]:
        registry_permissions.forget_roles(user)
    recorder.save()


@transaction.atomic
def registry_protected_alias_add(*, registry: Registry, name: str, actor: User) -> list[str]:
    """Protect alias `name` in the registry: from now on only its admins may set or remove it."""
    names.validate_alias(name)
    registry_permissions.require_admin(actor, registry)
    aliases = artifact_services.protected_alias_add(registry, name)
    recorder = _Events(user=actor)
    recorder.add_registry(EventKind.PROTECTED_ALIAS_ADDED, registry, alias=name)
    recorder.save()
    return aliases


@transaction.atomic
def registry_protected_alias_remove(*, registry: Registry, name: str, actor: User) -> list[str]:
    registry_permissions.require_admin(actor, registry)
    aliases = artifact_services.protected_alias_remove(registry, name)
    recorder = _Events(user=actor)
    recorder.add_registry(EventKind.PROTECTED_ALIAS_REMOVED, registry, alias=name)
    recorder.save()
    return aliases


@dataclass(frozen=True)
class ModelLinkResult:
    log: artifact_services.LogResult
    link: LinkResult


@transaction.atomic
def model_link_path(
    *,
    project: Project,
    path: Path,
    registered_model_name: str,
    user: User,
    name: str | None = None,
    aliases: Iterable[str] = (),
) -> ModelLinkResult:
    """What `run.link_model(path, registered_model_name, name, aliases)` does, from the server's side.

    A new run in `project` logs `path` (a file or a directory) as a `model` artifact named `name`
    (default, as W&B: `run-<run id>-<file name>`) and the version is linked to the registered model,
    which is created when missing. Everything is checked before the run is created.
    """
    files = artifact_services.files_from_path(path)
    if name is not None:
        names.validate_name(name, "artifact name")
    names.validate_name(registered_model_name, "registered model name")
    aliases = list(dict.fromkeys(aliases))
    for alias in aliases:
        names.validate_alias(alias)
        permissions.require_alias_allowed(user, project.entity, alias)
    permissions.require_change_project(user, project)

    run = artifact_services.run_create(project=project, user=user, job_type="link_model")
    log = artifact_services.version_log(
        run=run,
        user=user,
        name=name or f"run-{run.run_id}-{Path(path).name}",
        type="model",
        files=files,
    )
    link = link_version(
        version=log.version,
        user=user,
        entity=project.entity,
        registered_model_name=registered_model_name,
        aliases=aliases,
    )
    return ModelLinkResult(log, link)


# Automations: a team's (or a registry's) webhooks and the automations that send to them; registry.automations
# delivers. Only admins of the team or registry.


def _clean_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > 64:
        raise ValidationError(f"A {what} name has 1 to 64 characters.", code="invalid")
    names.validate_text(name, f"{what} name")
    return name


def _owned_by(scope: Scope) -> dict:
    return {"registry": scope} if isinstance(scope, Registry) else {"entity": scope}


def _scope_name(scope: Scope) -> str:
    return f"the {scope.name} registry" if isinstance(scope, Registry) else f"'{scope.name}'"


def webhook_create(
    *,
    name: str,
    url: str,
    user: User,
    entity: Entity | None = None,
    registry: Registry | None = None,
    secret: str = "",
    headers: dict[str, str] | None = None,
) -> Webhook:
    """A webhook of a team (`entity`) or a registry: its admins only. The URL must be http(s) and, unless
    WEBHOOK_ALLOW_PRIVATE is on, resolve to public addresses only (checked again at every delivery). No
    transaction is open while the host name resolves: on SQLite that would hold every writer back."""
    scope = _scope(entity, registry)
    name = _clean_name(name, "webhook")
    headers = headers or {}
    automations.validate_headers(headers)
    if len(secret) > 256:
        raise ValidationError("A secret has at most 256 characters.", code="invalid")
    registry_permissions.require_admin(user, scope)
    automations.resolve(url.strip())
    duplicate = f"A webhook named '{name}' already exists in {_scope_name(scope)}."
    if Webhook.objects.filter(**_owned_by(scope), name=name).exists():
        raise ValidationError(duplicate, code="duplicate")
    return artifact_services.create_unique(
        Webhook,
        duplicate=duplicate,
        **_owned_by(scope),
        name=name,
        url=url.strip(),
        secret=secret,
        headers=headers,
        created_by=user if user.is_authenticated else None,
    )


def webhook_update(
    *,
    webhook: Webhook,
    user: User,
    name: str,
    url: str,
    secret: str | None = None,
    headers: dict[str, str] | None = None,
) -> Webhook:
    """Change a webhook: the same checks as webhook_create. `secret` and `headers` None keep the current ones
    (pages never show them back), "" and {} remove them. Automations that send to it use the change from their
    next attempt on."""
    scope = webhook.scope
    name = _clean_name(name, "webhook")
    if headers is not None:
        automations.validate_headers(headers)
    if secret is not None and len(secret) > 256:
        raise ValidationError("A secret has at most 256 characters.", code="invalid")
    registry_permissions.require_admin(user, scope)
    automations.resolve(url.strip())
    duplicate = f"A webhook named '{name}' already exists in {_scope_name(scope)}."
    if Webhook.objects.filter(**_owned_by(scope), name=name).exclude(pk=webhook.pk).exists():
        raise ValidationError(duplicate, code="duplicate")
    webhook.name, webhook.url = name, url.strip()
    fields = ["name", "url"]
    if secret is not None:
        webhook.secret = secret
        fields.append("secret")
    if headers is not None:
        webhook.headers = headers
        fields.append("headers")
    try:
        with transaction.atomic():
            webhook.save(update_fields=fields)
    except IntegrityError:
        raise ValidationError(duplicate, code="duplicate") from None
    return webhook


@transaction.atomic
def webhook_delete(*, webhook: Webhook, user: User) -> None:
    registry_permissions.require_admin(user, webhook.scope)
    used = list(webhook.automations.values_list("name", flat=True))
    if used:
        raise ValidationError(
            f"The webhook '{webhook.name}' is used by {', '.join(used)}: delete those automations first.",
            code="in_use",
        )
    webhook.delete()


def _automation_fields(
    scope: Scope,
    *,
    name: str,
    event: str,
    webhook: Webhook,
    payload_template: str,
    user: User,
    alias_pattern: str = "",
    registered_model: RegisteredModel | None = None,
) -> dict:
    """An automation's fields checked for `scope`, as automation_create and automation_update take them."""
    name = _clean_name(name, "automation")
    if event not in AutomationEvent.values:
        raise ValidationError(f"Unknown event '{event}'.", code="invalid")
    if event == AutomationEvent.ALIAS_ADDED:
        if not alias_pattern:
            raise ValidationError("Give the pattern of the aliases to watch, such as production.", code="required")
        automations.validate_alias_pattern(alias_pattern)
    else:
        alias_pattern = ""
    names.validate_text(payload_template, "payload template", 20_000)
    automations.validate_template(payload_template)
    registry_permissions.require_admin(user, scope)
    if webhook.scope != scope:
        raise ValidationError(f"The webhook '{webhook.name}' is not one of {_scope_name(scope)}'s.", code="invalid")
    if registered_model is not None and registered_model.scope != scope:
        raise ValidationError(f"'{registered_model.name}' is not in {_scope_name(scope)}.", code="invalid")
    return {
        "name": name,
        "event": event,
        "alias_pattern": alias_pattern,
        "registered_model": registered_model,
        "webhook": webhook,
        "payload_template": payload_template,
    }


def _automation_duplicate(scope: Scope, name: str) -> str:
    return f"An automation named '{name}' already exists in {_scope_name(scope)}."


@transaction.atomic
def automation_create(
    *, user: User, entity: Entity | None = None, registry: Registry | None = None, **fields: Any
) -> Automation:
    """An automation of a team's Model Registry (`entity`) or of a registry: its admins only. An alias automation
    needs a pattern (a regular expression the whole alias must match); the payload template must be JSON once its
    variables are filled in; the webhook and the registered model (collection), if any, must be the scope's
    (_automation_fields)."""
    scope = _scope(entity, registry)
    fields = _automation_fields(scope, user=user, **fields)
    duplicate = _automation_duplicate(scope, fields["name"])
    if Automation.objects.filter(**_owned_by(scope), name=fields["name"]).exists():
        raise ValidationError(duplicate, code="duplicate")
    return artifact_services.create_unique(
        Automation,
        duplicate=duplicate,
        **_owned_by(scope),
        **fields,
        created_by=user if user.is_authenticated else None,
    )


@transaction.atomic
def automation_update(*, automation: Automation, user: User, **fields: Any) -> Automation:
    """Change what an automation watches, where it sends and what: the same rules as automation_create. Deliveries
    already owed keep the payload they were given."""
    scope = automation.scope
    fields = _automation_fields(scope, user=user, **fields)
    duplicate = _automation_duplicate(scope, fields["name"])
    if Automation.objects.filter(**_owned_by(scope), name=fields["name"]).exclude(pk=automation.pk).exists():
        raise ValidationError(duplicate, code="duplicate")
    for field, value in fields.items():
        setattr(automation, field, value)
    try:
        with transaction.atomic():
            automation.save(update_fields=list(fields))
    except IntegrityError:
        raise ValidationError(duplicate, code="duplicate") from None
    return automation


@transaction.atomic
def automation_delete(*, automation: Automation, user: User) -> None:
    """Delete an automation and its delivery log (pending deliveries are dropped)."""
    registry_permissions.require_admin(user, automation.scope)
    automation.delete()


@transaction.atomic
def automation_enable(*, automation: Automation, enabled: bool, user: User) -> Automation:
    registry_permissions.require_admin(user, automation.scope)
    automation.enabled = enabled
    automation.save(update_fields=["enabled"])
    return automation


def automation_test(*, automation: Automation, user: User) -> Delivery:
    """The Test button: the payload with sample values goes to the webhook through the worker."""
    registry_permissions.require_admin(user, automation.scope)
    return automations.delivery_test(automation=automation)
