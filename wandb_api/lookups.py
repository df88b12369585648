"""Reads by W&B's names and ids, with the visibility rules of artifacts.permissions.

Queries answer null for what the user may not see, exactly as for what does not exist, so private names
do not leak; the `*_for_write` helpers raise Http404 instead, for mutations.
"""

import datetime
from dataclasses import dataclass

from django.http import Http404

from artifacts import names, permissions
from artifacts import queries as artifact_queries
from artifacts.models import Artifact, ArtifactVersion, Entity, Organization, Project, Run
from artifacts.permissions import User
from registry import permissions as registry_permissions
from registry import queries as registry_queries
from registry.models import Link, RegisteredModel, Registry, scope_filter, scope_related
from registry.permissions import Scope
from wandb_api import ids
from wandb_api.models import DefaultEntity

# W&B's legacy Model Registry lives in this pseudo-project of every entity (no real project may take the name).
REGISTRY_PROJECT = names.REGISTRY_PROJECT


@dataclass(frozen=True)
class ProjectNode:
    """A project as the SDK sees it: a real project, or (`project` None) an entity's Model Registry, or (`registry`
    set) a registry of an organization, `<org entity>/wandb-registry-<name>`."""

    entity: Entity
    name: str
    project: Project | None
    registry: Registry | None = None

    @property
    def is_registry(self) -> bool:
        return self.project is None and (self.registry is not None or self.name == REGISTRY_PROJECT)

    @property
    def scope(self) -> Scope | None:
        """Whose registered models (collections) it holds: the registry, the entity's Model Registry, or (its
        portfolios) the real project."""
        if self.registry is not None:
            return self.registry
        return self.entity if self.is_registry else self.project


@dataclass(frozen=True)
class MembershipNode:
    """A version inside one collection: an artifact's own version, or a registered model's link to it."""

    version: ArtifactVersion
    link: Link | None = None


@dataclass(frozen=True)
class ArtifactTypeNode:
    project: ProjectNode
    name: str
    # When its first collection was created, if already read.
    created_at: datetime.datetime | None = None


@dataclass(frozen=True)
class IndexAlias:
    """A link's index (`v3`) among its source version's aliases: W&B lists a version's index in each collection
    there, and the SDK reads a listed registry version's own index from it."""

    link: Link


def entity_named(user: User, name: str | None) -> Entity | None:
    """A team, or an organization's own entity (for the organization's members)."""
    entity = Entity.objects.filter(name=name or "").first()
    if entity is None or not registry_permissions.can_view_entity(user, entity):
        return None
    return entity


def default_entity(user: User) -> Entity | None:
    """The entity the SDK uses when none is given: the one the user chose (`updateUser`), while they belong to it;
    else the one named after the user, else their first."""
    entities = Entity.objects.filter(memberships__user=user).order_by("name")
    chosen = DefaultEntity.objects.filter(user_id=user.pk).values("entity_id")
    return (
        entities.filter(pk__in=chosen).first() or entities.filter(name=user.get_username()).first() or entities.first()
    )


def project_node(user: User, entity_name: str | None, project_name: str | None) -> ProjectNode | None:
    """`<entity>/<project>`: the entity's Model Registry for the registry's reserved name, when the user may see
    that registry; otherwise the real project, when the user may see it."""
    if not project_name:
        return None
    if names.is_registry_project_name(project_name):
        entity = Entity.objects.filter(name=entity_name or "").order_by().first()
        if entity is None:
            return None
        if project_name == REGISTRY_PROJECT:
            return registry_node(entity) if permissions.can_view_registry(user, entity) else None
        registry = (
            Registry.objects.select_related("organization__entity")
            .filter(organization__entity=entity, name=project_name.removeprefix(names.REGISTRY_PROJECT_PREFIX))
            .first()
        )
        if registry is None or not registry_permissions.can_view(user, registry):
            return None
        return organization_registry_node(registry)
    project = artifact_queries.project_named(entity_name or "", project_name)
    if project is None or not permissions.can_view_project(user, project):
        return None
    return ProjectNode(project.entity, project_name, project)


def registry_node(entity: Entity) -> ProjectNode:
    """The Model Registry of an entity whose registry the caller has already been allowed to see."""
    return ProjectNode(entity, REGISTRY_PROJECT, None)


def organization_registry_node(registry: Registry) -> ProjectNode:
    """A registry the caller has already been allowed to see, as the project `<org entity>/wandb-registry-<name>`."""
    return ProjectNode(registry.organization.entity, registry.project_name, None, registry)


def scope_node(registered_model: RegisteredModel) -> ProjectNode:
    """The project a registered model (collection) is listed in: its entity's Model Registry, its registry, or
    (a portfolio) its real project."""
    if registered_model.registry_id is not None:
        return organization_registry_node(registered_model.registry)
    if registered_model.project_id is not None:
        project = registered_model.project
        return ProjectNode(project.entity, project.name, project)
    return registry_node(registered_model.entity)


def split_name(name: str) -> tuple[str, str]:
    """`model:v3` -> ("model", "v3"); a bare name means its `latest`."""
    collection, sep, ref = name.rpartition(":")
    return (collection, ref) if sep else (name, names.LATEST)


def version_in(artifact: Artifact, ref: str) -> ArtifactVersion | None:
    """The committed version `ref` (`vN` or an alias) of an artifact; pending versions never match."""
    return artifact_queries.committed_version(artifact, index=names.parse_version(ref), alias=ref)


def link_in(registered_model: RegisteredModel, ref: str) -> Link | None:
    links = Link.objects.filter(registered_model=registered_model).select_related(
        *scope_related("registered_model__"), "source__artifact__project__entity"
    )
    index = names.parse_version(ref)
    if index is not None:
        return links.filter(index=index).first()
    return links.filter(aliases__name=ref).first()


def artifact_in(node: ProjectNode, name: str) -> Artifact | None:
    if node.project is None:
        return None
    return artifact_queries.artifact_named(node.project, name)


def registered_model_in(node: ProjectNode, name: str) -> RegisteredModel | None:
    if node.scope is None:
        return None
    return (
        RegisteredModel.objects.filter(**scope_filter(node.scope), name=name).select_related(*scope_related()).first()
    )


def collection_in(node: ProjectNode, name: str) -> Artifact | RegisteredModel | None:
    """A registered model in `model-registry` (a collection in `wandb-registry-*`); in a real project, an artifact
    or else a portfolio (the services keep their names apart)."""
    if node.project is not None:
        return artifact_in(node, name) or registered_model_in(node, name)
    return registered_model_in(node, name)


def membership_in(collection: Artifact | RegisteredModel | None, ref: str) -> MembershipNode | None:
    if isinstance(collection, RegisteredModel):
        link = link_in(collection, ref)
        return MembershipNode(link.source, link) if link else None
    if isinstance(collection, Artifact):
        version = version_in(collection, ref)
        return MembershipNode(version) if version else None
    return None


def membership_named(node: ProjectNode, name: str) -> MembershipNode | None:
    collection, ref = split_name(name)
    return membership_in(collection_in(node, collection), ref)


def collection_by_id(user: User, collection_id: str) -> Artifact | RegisteredModel | None:
    """An artifact (`ArtifactSequence:<pk>`) or a registered model, collection or portfolio
    (`ArtifactPortfolio:<pk>`) by id, when the user may see it."""
    for kind, model, related in (
        ("ArtifactSequence", Artifact, ["project__entity"]),
        ("ArtifactPortfolio", RegisteredModel, scope_related()),
    ):
        try:
            pk = ids.decode_int(collection_id, kind)
        except Http404:
            continue
        found = model.objects.select_related(*related).filter(pk=pk).first()
        if isinstance(found, Artifact) and permissions.can_view_project(user, found.project):
            return found
        if isinstance(found, RegisteredModel) and registry_permissions.can_view_model(user, found):
            return found
        return None
    return None


def sequence_for_write(user: User, collection_id: str) -> Artifact:
    """An artifact by its collection id for a mutation: 404 when the user may not see it."""
    found = collection_by_id(user, collection_id)
    if not isinstance(found, Artifact):
        raise Http404(f"No artifact collection with id {collection_id!r}.")
    return found


def portfolio_for_write(user: User, collection_id: str) -> RegisteredModel:
    """A registered model, collection or portfolio by id for a mutation: 404 when the user may not see it."""
    found = collection_by_id(user, collection_id)
    if not isinstance(found, RegisteredModel):
        raise Http404(f"No artifact collection with id {collection_id!r}.")
    return found


def version_by_id(user: User, artifact_id: str) -> ArtifactVersion | None:
    """A version by id if the user may see it; a pending one only to those who may be uploading it."""
    try:
        pk = ids.decode_int(artifact_id, "Artifact")
    except Http404:
        return None
    return _visible_version(user, artifact_queries.version_with_project(pk))


def version_by_client_id(user: User, client_id: str) -> ArtifactVersion | None:
    """The version the SDK logged under its own id `client_id` (artifacts.models.VersionClientId), by the rules
    of version_by_id."""
    # One version at most (a client id is unique): nothing to sort.
    versions = ArtifactVersion.objects.filter(client_ids__client_id=client_id).order_by()
    return _visible_version(user, next(iter(versions.select_related("artifact__project__entity")[:1]), None))


def _visible_version(user: User, version: ArtifactVersion | None) -> ArtifactVersion | None:
    if version is not None and version.duplicate_of_id is not None:
        # Its content was committed by another writer first: that version is what this one became.
        version = artifact_queries.version_with_project(version.duplicate_of_id)
    if version is None or not registry_permissions.can_view_version(user, version):
        return None
    if not version.is_committed and not permissions.can_change(user, version.artifact.project.entity):
        return None
    return version


def version_for_write(user: User, artifact_id: str) -> ArtifactVersion:
    version = version_by_id(user, artifact_id)
    if version is None:
        raise Http404(f"No artifact with id {artifact_id!r}.")
    return version


def version_for_change(user: User, artifact_id: str) -> ArtifactVersion:
    """A version whose files the user may change (403 for a viewer, 404 when they may not see it)."""
    version = version_for_write(user, artifact_id)
    permissions.require_change(user, version.artifact.project.entity, visible=True)
    return version


def committed_version_for_write(user: User, artifact_id: str) -> ArtifactVersion:
    version = version_for_write(user, artifact_id)
    if not version.is_committed:
        raise Http404(f"No committed artifact with id {artifact_id!r}.")
    return version


def organization_named(user: User, name: str | None) -> Organization | None:
    """An organization the user belongs to, by its name or its own entity's; None otherwise."""
    return registry_queries.organization_for_user(user, name=name)


def registry_by_id(user: User, registry_id: str) -> Registry | None:
    """A registry by its project id (`Project:registry-<pk>`) when the user may see it."""
    key = ids.decode(registry_id, "Project")
    pk = ids.parse_int_key(key.removeprefix("registry-")) if key.startswith("registry-") else None
    registry = Registry.objects.select_related("organization__entity").filter(pk=pk).first() if pk else None
    if registry is None or not registry_permissions.can_view(user, registry):
        return None
    return registry


def project_for_write(user: User, entity_name: str | None, project_name: str | None) -> Project:
    project = artifact_queries.project_named(entity_name or "", project_name or "")
    if project is None or not permissions.can_view_project(user, project):
        raise Http404(f"No project {entity_name}/{project_name}.")
    return project


def run_for_write(user: User, entity_name: str | None, project_name: str | None, run_name: str | None) -> Run:
    """The run named in a mutation, once the user may change its entity (404 when they may not see it)."""
    project = project_for_write(user, entity_name, project_name)
    run = artifact_queries.run_named(project, run_name or "")
    if run is None:
        raise Http404(f"No run {entity_name}/{project_name}/{run_name}.")
    permissions.require_change(user, project.entity, visible=True)
    return run
