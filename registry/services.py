"""Every write to registered models, links and registry aliases (views, commands, admin and API alike)."""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from artifacts import names, permissions
from artifacts import services as artifact_services
from artifacts.models import ArtifactVersion, Entity, Project
from artifacts.permissions import User
from registry.models import Link, LinkAlias, RegisteredModel


def check_accepts(registered_model: RegisteredModel, version: ArtifactVersion) -> None:
    """A registered model accepts one artifact type, fixed when it is created."""
    if version.artifact.type != registered_model.type:
        raise ValidationError(
            f"'{registered_model.name}' accepts versions of type '{registered_model.type}': "
            f"'{version.artifact.name}' has type '{version.artifact.type}'.",
            code="type_mismatch",
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


@transaction.atomic
def registered_model_create(
    *,
    entity: Entity,
    name: str,
    user: User,
    type: str = "model",
    description: str = "",
    tags: Iterable[str] = (),
) -> RegisteredModel:
    names.validate_name(name, "registered model name")
    names.validate_name(type, "type")
    names.validate_text(description, "model card")
    if not names.is_model_type(type):
        raise ValidationError(
            f"The Model Registry holds models: a registered model's type must contain 'model', not '{type}'.",
            code="not_a_model",
        )
    tags = _clean_tags(tags)
    permissions.require_change(user, entity)
    if RegisteredModel.objects.filter(entity=entity, name=name).exists():
        raise ValidationError(f"A registered model named '{name}' already exists in '{entity}'.", code="duplicate")
    return RegisteredModel.objects.create(
        entity=entity,
        name=name,
        type=type,
        description=description,
        tags=tags,
        created_by=user if user.is_authenticated else None,
    )


@transaction.atomic
def registered_model_update(
    *, registered_model: RegisteredModel, user: User, description: str | None = None, tags: Iterable[str] | None = None
) -> RegisteredModel:
    if description is not None:
        names.validate_text(description, "model card")
    permissions.require_change(user, registered_model.entity)
    if description is not None:
        registered_model.description = description
    if tags is not None:
        registered_model.tags = _clean_tags(tags)
    registered_model.save(update_fields=["description", "tags", "updated_at"])
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
    registered_model_name: str | None = None,
    aliases: Iterable[str] = (),
) -> tuple[Entity, list[str], RegisteredModel | None]:
    """Every rule a link must pass, checked without writing; returns the target entity, the clean aliases and
    the target registered model when it exists."""
    if registered_model is not None:
        entity = registered_model.entity
    elif entity is None or registered_model_name is None:
        raise TypeError("Pass registered_model, or entity and registered_model_name.")
    else:
        names.validate_name(registered_model_name, "registered model name")
    aliases = list(dict.fromkeys(aliases))
    for alias in aliases:
        names.validate_alias(alias)

    source_project = version.artifact.project
    permissions.require_view_project(user, source_project)
    permissions.require_view_registry(user, entity)
    permissions.require_change(user, entity)
    for alias in aliases:
        permissions.require_alias_allowed(user, entity, alias)
    if not version.is_committed:
        raise ValidationError("Only committed versions can be linked.", code="pending")
    if not names.is_model_type(version.artifact.type):
        raise ValidationError(
            f"'{version.artifact.name}' has type '{version.artifact.type}': only artifacts whose type "
            "contains 'model' can be linked to the Model Registry.",
            code="not_a_model",
        )
    if source_project.entity_id != entity.pk:
        raise ValidationError(
            f"{version.full_name} belongs to '{source_project.entity}', not '{entity}': a registered model "
            "links only versions of its own entity's projects.",
            code="other_entity",
        )
    if registered_model is None:
        registered_model = RegisteredModel.objects.filter(entity=entity, name=registered_model_name).first()
    if registered_model is not None:
        check_accepts(registered_model, version)
    return entity, aliases, registered_model


def link_version(
    *,
    version: ArtifactVersion,
    user: User,
    registered_model: RegisteredModel | None = None,
    entity: Entity | None = None,
    registered_model_name: str | None = None,
    aliases: Iterable[str] = (),
) -> LinkResult:
    """Link `version` to a registered model: the next index, `latest` moved, `aliases` applied.

    Name the target either as `registered_model` or as `entity` + `registered_model_name` (created when
    missing). Linking a source that is already linked there returns the existing link with aliases merged.
    Concurrent callers get consecutive indexes: the registered model's row is locked while numbering.
    """
    entity, aliases, registered_model = link_check(
        version=version,
        user=user,
        registered_model=registered_model,
        entity=entity,
        registered_model_name=registered_model_name,
        aliases=aliases,
    )
    with transaction.atomic():
        if registered_model is None:
            registered_model = _registered_model_get_or_create(
                entity=entity, name=registered_model_name, user=user, type=version.artifact.type
            )
            # Created by a concurrent caller meanwhile: the type rule is checked again on the row itself.
            check_accepts(registered_model, version)
        # Lock the registered model until commit: concurrent links queue here (SQLite queues on BEGIN IMMEDIATE).
        next_index = _lock_model(registered_model.pk)
        link = Link.objects.filter(registered_model=registered_model, source=version).first()
        created = link is None
        if created:
            link = Link.objects.create(
                registered_model=registered_model,
                index=next_index,
                source=version,
                created_by=user if user.is_authenticated else None,
            )
            RegisteredModel.objects.filter(pk=registered_model.pk).update(
                next_index=next_index + 1, num_versions=F("num_versions") + 1, updated_at=timezone.now()
            )
            _aliases_move(link=link, names_=[names.LATEST, *aliases], fresh=True)
        else:
            RegisteredModel.objects.filter(pk=registered_model.pk).update(updated_at=timezone.now())
            _aliases_move(link=link, names_=aliases)
    return LinkResult(link, created)


def _registered_model_get_or_create(*, entity: Entity, name: str, user: User, type: str) -> RegisteredModel:
    """The named registered model; a new one accepts `type` (its first version's type) from now on."""
    try:
        with transaction.atomic():
            rm, _ = RegisteredModel.objects.get_or_create(
                entity=entity,
                name=name,
                defaults={"type": type, "created_by": user if user.is_authenticated else None},
            )
    except IntegrityError:
        rm = RegisteredModel.objects.get(entity=entity, name=name)
    return rm


def _lock_model(registered_model_id: int) -> int:
    """Hold the registered model's row until the transaction ends (numbering, aliases and unlinking queue here,
    so an unlink never misses a protected alias set meanwhile); returns its next version index."""
    return (
        RegisteredModel.objects.select_for_update()
        .filter(pk=registered_model_id)
        .values_list("next_index", flat=True)
        .get()
    )


def _aliases_move(*, link: Link, names_: Iterable[str], fresh: bool = False) -> None:
    """Point each alias in `names_` at `link` by the rule artifact aliases follow; the caller holds the lock."""
    artifact_services.move_aliases(
        LinkAlias,
        scope={"registered_model_id": link.registered_model_id},
        holder={"link": link},
        names_=names_,
        fresh=fresh,
    )


def _alias_move(*, link: Link, name: str) -> LinkAlias:
    _lock_model(link.registered_model_id)
    _aliases_move(link=link, names_=[name])
    return LinkAlias.objects.get(link=link, name=name)


@transaction.atomic
def link_alias_set(*, link: Link, name: str, user: User) -> LinkAlias:
    """Point registry alias `name` at `link`, taking it off any other link of the registered model."""
    names.validate_alias(name)
    permissions.require_alias_allowed(user, link.registered_model.entity, name)
    return _alias_move(link=link, name=name)


@transaction.atomic
def link_alias_remove(*, link: Link, name: str, user: User) -> None:
    permissions.require_change(user, link.registered_model.entity)
    if name == names.LATEST:
        raise ValidationError("The alias 'latest' is managed automatically and cannot be removed.", code="reserved")
    permissions.require_alias_allowed(user, link.registered_model.entity, name)
    _lock_model(link.registered_model_id)
    deleted, _ = LinkAlias.objects.filter(link=link, name=name).delete()
    if not deleted:
        raise ValidationError(f"{link} has no alias '{name}'.", code="missing")


@transaction.atomic
def link_delete(*, link: Link, user: User) -> None:
    """Unlink a registry version (W&B's `Artifact.unlink()`): the source version stays, the index is never
    reused and `latest` moves to the newest remaining link. A version with a protected alias: admins only."""
    registered_model = link.registered_model
    permissions.require_change(user, registered_model.entity)
    # Locked first (as linking and alias changes do), so the aliases read below are the ones being deleted.
    _lock_model(registered_model.pk)
    RegisteredModel.objects.filter(pk=registered_model.pk).update(updated_at=timezone.now())
    protected = set(registered_model.entity.protected_aliases or [])
    if protected & set(link.aliases.values_list("name", flat=True)) and not permissions.is_admin(
        user, registered_model.entity
    ):
        raise PermissionDenied("This version carries a protected alias: only admins may unlink it.")
    link.delete()
    RegisteredModel.objects.filter(pk=registered_model.pk).update(num_versions=F("num_versions") - 1)
    newest = Link.objects.filter(registered_model=registered_model).order_by("-index").first()
    if newest is not None:
        _alias_move(link=newest, name=names.LATEST)


@transaction.atomic
def registered_model_delete(*, registered_model: RegisteredModel, user: User) -> None:
    """Delete a registered model and its links (the source versions stay). Admins only."""
    if not permissions.is_admin(user, registered_model.entity):
        permissions.require_view_registry(user, registered_model.entity)
        raise PermissionDenied("Only admins of the entity may delete a registered model.")
    registered_model.delete()


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
