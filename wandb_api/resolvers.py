"""Field resolvers for queries and every object type, keyed by W&B's type and field names (see schema.py).

Objects behind the types: User -> the Django user (or RunCreator, a run's `user`), Entity -> Entity,
Project -> lookups.ProjectNode, Run -> Run, ArtifactSequence -> Artifact, ArtifactPortfolio -> RegisteredModel,
Artifact -> ArtifactVersion, ArtifactCollectionMembership -> lookups.MembershipNode, ArtifactAlias ->
ArtifactAlias, LinkAlias or lookups.IndexAlias, ArtifactType -> lookups.ArtifactTypeNode; files, manifests, pages
and ParquetHistory are plain dicts. Fields missing here resolve by attribute or key of the same name. Arguments
arrive under their GraphQL names (`entityName`).
"""

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.http import HttpRequest
from graphql import GraphQLResolveInfo

from artifacts import names, permissions, queries, storage
from artifacts.models import (
    Artifact,
    ArtifactAlias,
    ArtifactFile,
    ArtifactReference,
    ArtifactUsage,
    ArtifactVersion,
    Entity,
    Organization,
    Run,
)
from artifacts.permissions import User
from registry import permissions as registry_permissions
from registry import queries as registry_queries
from registry.models import LinkAlias, RegisteredModel, Registry, Visibility, scope_related
from wandb_api import filters, ids, lookups, runs, tokens
from wandb_api.lookups import ArtifactTypeNode, IndexAlias, MembershipNode, ProjectNode

# Only what this server does differently from W&B's oldest behaviour; the SDK falls back for the rest.
SERVER_VERSION = "0.1.0"
SERVER_FEATURES = [
    "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE",
    # `len(artifact.files())`: the files connection has totalCount.
    "TOTAL_COUNT_IN_FILE_CONNECTION",
    # views.artifact_file takes the version's own id as well as the birth version's.
    "ARTIFACT_V2_DOWNLOAD_HANDLER_SUPPORTS_ARTIFACT_ID",
    # W&B's current Registry: `api.registries()` / `api.registry()` (organization(...).orgEntity lists), and
    # `api.create_registry()` / `registry.save()` (upsertModel with artifact types).
    "ARTIFACT_REGISTRY_SEARCH",
    "INCLUDE_ARTIFACT_TYPES_IN_REGISTRY_CREATION",
]
# W&B's servers name in `cliVersionInfo.max_cli_version` the newest SDK release they know; SDKs compare it with
# the release that began to use a feature (client ids from 0.11.0 on) and keep it for the process. This is the
# release this server is tested against (requirements-test.txt).
MAX_CLI_VERSION = "0.31.0"
# W&B's "TTL disabled" value.
TTL_DISABLED = -2
MAX_PAGE = 10_000
# Lists of versions, collections and types: the SDK asks for 50 a page unless told otherwise; a larger ask gets
# at most LIST_MAX_PAGE and pages on.
LIST_PAGE = 50
LIST_MAX_PAGE = 1_000

Info = GraphQLResolveInfo
Resolver = Callable[..., Any]


@dataclass(frozen=True)
class Context:
    request: HttpRequest
    user: User


def _user(info: Info) -> User:
    return info.context.user


def _request(info: Info) -> HttpRequest:
    return info.context.request


def timestamp(value: datetime.datetime | None) -> str | None:
    """W&B's DateTime: UTC, to the second, no offset."""
    if value is None:
        return None
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def page_info(end_cursor: str | None, has_next: bool) -> dict[str, Any]:
    return {"startCursor": None, "endCursor": end_cursor, "hasNextPage": has_next, "hasPreviousPage": False}


def manifest_node(request: HttpRequest, version: ArtifactVersion, upload_url: str | None = None) -> dict[str, Any]:
    """A version's manifest; its JSON is generated from the stored files when downloaded (views.download)."""
    return {
        "id": ids.encode("ArtifactManifest", version.pk),
        "type": "FULL",
        "file": {
            "id": ids.encode("File", f"manifest-{version.pk}"),
            "name": "wandb_manifest.json",
            "displayName": "wandb_manifest.json",
            "directUrl": tokens.download_url(request, manifest=version.pk, name="wandb_manifest.json"),
            "uploadUrl": upload_url,
            "uploadHeaders": [],
            "uploadMultipartUrls": None,
            "artifact": version,
        },
    }


def file_node(request: HttpRequest, file: ArtifactFile, downloadable: bool = True) -> dict[str, Any]:
    """A file; with an empty download URL for those who see the version but may not read its bytes (a registry's
    restricted viewers): the SDK then asks views.artifact_file, which refuses them."""
    name = PurePosixPath(file.path).name
    if not downloadable:
        url = ""
    elif storage.direct_transfers() and file.blob.is_ok:
        url = storage.presigned_download(file.blob, filename=name, expires=tokens.DOWNLOAD_MAX_AGE)
    else:
        # Ours: it streams the bytes, or says why a copy marked bad or missing is not served.
        url = tokens.download_url(request, blob=file.blob_id, name=name)
    return {
        "id": ids.encode("File", file.pk),
        "name": file.path,
        "displayName": PurePosixPath(file.path).name,
        "url": url,
        "directUrl": url,
        "sizeBytes": file.blob.size,
        "digest": file.blob.md5,
        "md5": file.blob.md5,
        "mimetype": None,
        "updatedAt": timestamp(file.blob.created_at),
        # Where its bytes are in the store (under S3_PREFIX, or DATA_DIR/files): content-addressed, shared by every
        # file with the same bytes.
        "storagePath": file.blob.storage_key,
        "uploadUrl": None,
        "uploadHeaders": [],
        "uploadMultipartUrls": None,
        "artifact": file.version,
    }


def reference_node(reference: ArtifactReference) -> dict[str, Any]:
    """A reference entry as W&B lists it among the files: its URI as both URLs (the SDK's storage handlers fetch
    it; the server never does)."""
    return {
        "id": ids.encode("File", f"ref-{reference.pk}"),
        "name": reference.path,
        "displayName": PurePosixPath(reference.path).name,
        "url": reference.ref,
        "directUrl": reference.ref,
        "sizeBytes": reference.size,
        "digest": reference.digest,
        "md5": None,
        "mimetype": None,
        "updatedAt": None,
        "storagePath": None,
        "uploadUrl": None,
        "uploadHeaders": [],
        "uploadMultipartUrls": None,
        "artifact": reference.version,
    }


def _entry_node(request: HttpRequest, row: ArtifactFile | ArtifactReference, downloadable: bool) -> dict[str, Any]:
    if isinstance(row, ArtifactFile):
        return file_node(request, row, downloadable)
    node = reference_node(row)
    # A restricted viewer sees the entry, not where its bytes are.
    return node if downloadable else {**node, "url": "", "directUrl": ""}


def files_page(
    info: Info,
    version: ArtifactVersion,
    names: list[str] | None = None,
    after: str | None = None,
    first: int | None = None,
) -> dict[str, Any]:
    """A version's entries ordered by path, stored files and references together (the SDK downloads what this
    lists); the cursor is the last path, which no file and reference of one version share."""
    files = version.files.select_related("blob", "version").order_by("path")
    references = version.references.select_related("version").order_by("path")
    if names is not None:
        wanted = [n for n in names if n]
        files, references = files.filter(path__in=wanted), references.filter(path__in=wanted)
    total = files.count() + references.count()
    if after:
        files, references = files.filter(path__gt=after), references.filter(path__gt=after)
    limit = max(1, min(first or MAX_PAGE, MAX_PAGE))
    rows = sorted([*files[: limit + 1], *references[: limit + 1]], key=lambda row: row.path)
    has_next = len(rows) > limit
    rows = rows[:limit]
    downloadable = registry_permissions.can_download_version(_user(info), version)
    request = _request(info)
    return {
        "totalCount": total,
        "pageInfo": page_info(rows[-1].path if rows else after, has_next),
        "edges": [{"node": _entry_node(request, row, downloadable), "cursor": row.path} for row in rows],
    }


def _limit(first: int | None) -> int:
    return max(1, min(first or LIST_PAGE, LIST_MAX_PAGE))


def _int_cursor(after: str | None) -> int | None:
    if not after:
        return None
    key = ids.parse_int_key(after)
    if key is None:
        raise ValidationError(f"{after!r} is not a cursor of this list.", code="bad_cursor")
    return key


def keyset_page(rows: QuerySet, key: str, after: str | None, first: int | None, descending: bool) -> tuple[list, bool]:
    """One page of `rows` ordered by their integer column `key` (unique among them), and whether more follow; the
    cursor is the last row's key, so a page reads only its own rows at any depth."""
    start = _int_cursor(after)
    if start is not None:
        rows = rows.filter(**{f"{key}__lt" if descending else f"{key}__gt": start})
    limit = _limit(first)
    found = list(rows.order_by(f"-{key}" if descending else key)[: limit + 1])
    return found[:limit], len(found) > limit


def connection(edges: list[dict[str, Any]], has_next: bool, after: str | None, **fields: Any) -> dict[str, Any]:
    return {"pageInfo": page_info(edges[-1]["cursor"] if edges else after, has_next), "edges": edges, **fields}


def viewer(_: None, info: Info) -> User:
    return _user(info)


def server_info(_: None, info: Info) -> dict[str, Any]:
    return {
        "features": [{"name": name, "isEnabled": True} for name in SERVER_FEATURES],
        "cliVersionInfo": {"max_cli_version": MAX_CLI_VERSION},
        # This server is never "out of date" in W&B Server's sense (no newer local image to suggest).
        "latestLocalVersionInfo": {
            "outOfDate": False,
            "latestVersionString": SERVER_VERSION,
            "versionOnThisInstanceString": SERVER_VERSION,
        },
    }


def entity(_: None, info: Info, name: str | None = None) -> Entity | None:
    return lookups.entity_named(_user(info), name)


def organization(_: None, info: Info, name: str) -> Organization | None:
    """An organization the user belongs to; null (never an error) for any other name, as the SDK expects."""
    return lookups.organization_named(_user(info), name)


def project(_: None, info: Info, name: str | None = None, entityName: str | None = None) -> ProjectNode | None:
    return lookups.project_node(_user(info), entityName or _default_entity_name(info), name)


def artifact(_: None, info: Info, id: str) -> ArtifactVersion | None:
    return lookups.version_by_id(_user(info), id)


def client_id_mapping(_: None, info: Info, clientID: str) -> dict[str, str] | None:
    """The id of the version the SDK logged under its own id (artifacts.models.VersionClientId)."""
    version = lookups.version_by_client_id(_user(info), clientID)
    return {"serverID": ids.encode("Artifact", version.pk)} if version is not None else None


def nothing(*_: Any, **__: Any) -> None:
    return None


def _default_entity_name(info: Info) -> str | None:
    entity = lookups.default_entity(_user(info))
    return entity.name if entity else None


def users(_: None, info: Info, query: str | None = None, first: int | None = None) -> dict[str, Any]:
    """W&B's user search, answered for an exact username or email only (no listing of accounts); another user is
    shown as a run's creator is, by name (no email, keys or teams), except to site admins."""
    viewer = _user(info)
    query = (query or "").strip()
    found = get_user_model().objects.filter(Q(username=query) | Q(email__iexact=query), is_active=True)[:10]
    return {
        "edges": [{"node": u if permissions.can_see_account(viewer, u) else run_creator_of(u)} for u in found if query]
    }


QUERY: dict[str, Resolver] = {
    "viewer": viewer,
    "serverInfo": server_info,
    "entity": entity,
    "project": project,
    "model": project,
    "artifact": artifact,
    "clientIDMapping": client_id_mapping,
    "organization": organization,
    "users": users,
    "artifactCollection": lambda _, info, id: lookups.collection_by_id(_user(info), id),
}


def _teams(user: User, info: Info, first: int | None = None) -> dict[str, Any]:
    entities = list(Entity.objects.filter(memberships__user=user).order_by("name"))
    return {
        "edges": [{"node": e, "cursor": e.name} for e in entities],
        "pageInfo": page_info(entities[-1].name if entities else None, False),
    }


@dataclass(frozen=True)
class RunCreator:
    """Who started a run, as the run page shows them to anyone who may read the run: a name, nothing of their
    account (no email, teams or flags)."""

    pk: int | None
    username: str
    name: str


def run_creator(run: Run) -> RunCreator:
    return run_creator_of(run.created_by)


def run_creator_of(user: User | None) -> RunCreator:
    """Another user as anyone may see them: a name, nothing of their account."""
    if user is None:
        return RunCreator(None, "", "")
    return RunCreator(user.pk, user.get_username(), user.get_full_name() or user.get_username())


def _own(resolve: Resolver, other: Any = None) -> Resolver:
    """A User field only the user themself (or a site admin, users()) is told: a run's creator answers `other`."""
    return lambda user, info, **args: other if isinstance(user, RunCreator) else resolve(user, info, **args)


def _api_keys(user: User, info: Info) -> dict[str, Any]:
    """The viewer's active keys (a run's creator has none to show). A key's `name` is W&B's key id, a start of the
    key that cannot be used as one (`viewer.api_keys`): its stored prefix, as the profile page shows it, without
    the ellipsis; the name given to the key is its `description`."""
    keys = queries.api_keys_of(user).order_by("created_at", "pk")
    return {
        "edges": [{"node": {"id": ids.encode("ApiKey", k.pk), "name": k.prefix, "description": k.name}} for k in keys]
    }


USER: dict[str, Resolver] = {
    "id": lambda user, info: ids.encode("User", user.pk),
    "entity": _own(lambda user, info: getattr(lookups.default_entity(user), "name", None)),
    "username": lambda user, info: user.username if isinstance(user, RunCreator) else user.get_username(),
    "email": _own(lambda user, info: user.email),
    "name": lambda user, info: (
        user.name if isinstance(user, RunCreator) else user.get_full_name() or user.get_username()
    ),
    "admin": _own(lambda user, info: user.is_superuser),
    "flags": _own(lambda user, info: "{}"),
    "teams": _own(_teams, {"edges": [], "pageInfo": page_info(None, False)}),
    "organizations": _own(
        lambda user, info: list(
            Organization.objects.filter(pk__in=registry_permissions.organization_roles(user))
            .select_related("entity")
            .order_by("name")
        ),
        [],
    ),
    "apiKeys": _own(_api_keys, {"edges": []}),
    "deletedAt": nothing,
}


def _own_organization(entity: Entity) -> Organization | None:
    """The organization whose own entity (W&B's orgEntity, holding its registries) this is."""
    if not hasattr(entity, "_own_organization"):
        entity._own_organization = Organization.objects.filter(entity=entity).select_related("entity").first()
    return entity._own_organization


def _entity_organization(entity: Entity, info: Info) -> Organization | None:
    """A team's organization, or the organization of its own entity; null for entities outside organizations."""
    organization = _own_organization(entity) or entity.organization
    if organization is None or not registry_permissions.can_view_organization(_user(info), organization):
        return None
    return organization


def _entity_user(entity: Entity, info: Info) -> User | None:
    """The caller, on their personal entity (named as them, outside every organization); null otherwise. The SDK
    resolves a personal entity's organization through `user.organizations`."""
    user = _user(info)
    if entity.name != user.get_username() or entity.organization_id is not None or _own_organization(entity):
        return None
    return user


def offset_page(rows: QuerySet, after: str | None, first: int | None) -> tuple[list, int, bool]:
    """One page of ordered `rows` after an offset cursor: the rows, the offset of the first, whether more follow."""
    start = _int_cursor(after) or 0
    limit = _limit(first)
    found = list(rows[start : start + limit + 1])
    return found[:limit], start, len(found) > limit


def offset_connection(nodes: list, start: int, has_next: bool, after: str | None, **fields: Any) -> dict[str, Any]:
    edges = [{"node": node, "cursor": str(start + i + 1)} for i, node in enumerate(nodes)]
    return connection(edges, has_next, after, **fields)


REGISTRY_FILTERS: filters.Fields = {
    "id": filters.id_field("pk", "ProjectInternalId"),
    "name": "wandb_project_name",
    "entity_id": filters.id_field("organization__entity_id", "Entity"),
    "description": "description",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
REGISTRY_ORDERS = {"name": "name", "created_at": "created_at", "updated_at": "updated_at"}
COLLECTION_FILTERS: filters.Fields = {
    "id": filters.id_field("pk", "ArtifactPortfolio"),
    "collection_id": filters.id_field("pk", "ArtifactPortfolio"),
    "artifact_collection_id": filters.id_field("pk", "ArtifactPortfolio"),
    "name": "name",
    "description": "description",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
COLLECTION_ORDERS = REGISTRY_ORDERS
VERSION_FILTERS: filters.Fields = {
    "id": filters.id_field("source_id", "Artifact"),
    "version": filters.version_field("index"),
    "alias": "aliases__name",
    "tag": "source__tags__name",
    "metadata": "source__metadata",
    "created_at": "created_at",
    "updated_at": "created_at",
}
VERSION_ORDERS_REGISTRY = {"created_at": "created_at", "acm_created_at": "created_at"}


def _org_registries(entity: Entity, info: Info, project_filters: str | None) -> QuerySet[Registry] | None:
    """The registries of the organization whose own entity this is that the user may see, matching W&B's
    `projectFilters` (project names are `wandb-registry-<name>`); None for any other entity."""
    organization = _entity_organization(entity, info)
    if organization is None or organization.entity_id != entity.pk:
        return None
    rows = registry_queries.organization_registries(_user(info), organization).annotate(
        wandb_project_name=Concat(Value(names.REGISTRY_PROJECT_PREFIX), "name", output_field=CharField())
    )
    return rows.filter(filters.to_q(runs.parse_json_object(project_filters, "filters"), REGISTRY_FILTERS))


def _entity_project(entity: Entity, info: Info, name: str | None = None) -> ProjectNode | None:
    return lookups.project_node(_user(info), entity.name, name)


def _entity_projects(
    entity: Entity,
    info: Info,
    filters: str | None = None,
    after: str | None = None,
    first: int | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """An organization's registries as projects `wandb-registry-<name>` (what `api.registries()` lists); other
    entities' projects are not listed here."""
    registries = _org_registries(entity, info, filters)
    if registries is None:
        return offset_connection([], 0, False, after)
    rows = registries.order_by(*_orders(order, REGISTRY_ORDERS, ("name", "pk")))
    found, start, has_next = offset_page(rows, after, first)
    return offset_connection([lookups.organization_registry_node(r) for r in found], start, has_next, after)


def _orders(order: str | None, fields: dict[str, str], default: tuple[str, ...]) -> tuple[str, ...]:
    return filters.order_by(order, fields, default)


def _entity_collections(
    entity: Entity,
    info: Info,
    projectFilters: str | None = None,
    filters: str | None = None,
    collectionTypes: list[str] | None = None,
    after: str | None = None,
    first: int | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """The collections (W&B's portfolios) of the organization's registries the user may see."""
    registries = _org_registries(entity, info, projectFilters)
    if registries is None or (collectionTypes is not None and "PORTFOLIO" not in collectionTypes):
        return offset_connection([], 0, False, after, totalCount=0)
    rows = registry_queries.organization_collections(_user(info), registries)
    rows = rows.filter(_filter_q(filters, COLLECTION_FILTERS))
    total = rows.count()
    rows = rows.order_by(*_orders(order, COLLECTION_ORDERS, ("-pk",)))
    found, start, has_next = offset_page(rows, after, first)
    return offset_connection(found, start, has_next, after, totalCount=total)


def _filter_q(text: str | None, fields: filters.Fields) -> Q:
    return filters.to_q(runs.parse_json_object(text, "filters"), fields)


def _entity_memberships(
    entity: Entity,
    info: Info,
    projectFilters: str | None = None,
    collectionFilters: str | None = None,
    filters: str | None = None,
    after: str | None = None,
    first: int | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """The versions linked into collections of the organization's registries the user may see, newest first."""
    registries = _org_registries(entity, info, projectFilters)
    if registries is None:
        return offset_connection([], 0, False, after)
    collections = registry_queries.organization_collections(_user(info), registries)
    collections = collections.filter(_filter_q(collectionFilters, COLLECTION_FILTERS))
    links = registry_queries.organization_links(_user(info), collections)
    links = links.filter(_filter_q(filters, VERSION_FILTERS)).distinct()
    rows = links.order_by(*_orders(order, VERSION_ORDERS_REGISTRY, ("-pk",)))
    found, start, has_next = offset_page(rows, after, first)
    return offset_connection([MembershipNode(link.source, link) for link in found], start, has_next, after)


def _entity_members(entity: Entity, info: Info) -> list[dict[str, Any]]:
    """A team's members, to those who may see the team; a registry's team member is shown to the registry's
    readers, who are not told who is in it."""
    if not registry_permissions.can_view_entity(_user(info), entity):
        return []
    return [
        {
            "id": ids.encode("User", m.user.pk),
            "admin": m.role == "admin",
            "role": m.role,
            "pending": False,
            "email": m.user.email,
            "username": m.user.get_username(),
            "name": m.user.get_full_name() or m.user.get_username(),
            "photoUrl": None,
            "accountType": "USER",
            "apiKey": None,
        }
        for m in entity.memberships.select_related("user").order_by("user__username")
    ]


ENTITY: dict[str, Resolver] = {
    "id": lambda entity, info: ids.encode("Entity", entity.pk),
    "isTeam": lambda entity, info: True,
    "entityType": lambda entity, info: "organization" if _own_organization(entity) else "team",
    "organization": _entity_organization,
    "user": _entity_user,
    "project": _entity_project,
    "projects": _entity_projects,
    "artifactCollections": _entity_collections,
    "artifactMemberships": _entity_memberships,
    "xxhashDigestsEnabled": lambda entity, info: False,
    "available": lambda entity, info: False,
    "readOnly": lambda entity, info: not permissions.can_change(_user(info), entity),
    "readOnlyAdmin": lambda entity, info: False,
    "privateOnly": lambda entity, info: False,
    "storageBytes": lambda entity, info: 0,
    "codeSavingEnabled": lambda entity, info: False,
    "defaultAccess": lambda entity, info: "PRIVATE",
    "isPaid": lambda entity, info: False,
    "members": _entity_members,
    "limits": lambda entity, info: "{}",
}


def _project_id(node: ProjectNode) -> str:
    if node.registry is not None:
        return ids.encode("Project", f"registry-{node.registry.pk}")
    return ids.encode("Project", node.project.pk if node.project else f"{node.entity.pk}-{node.name}")


def _project_internal_id(node: ProjectNode) -> str:
    """A registry's is W&B's `ProjectInternalId:<n>`, which the SDK sends back as the filter `{"id": n}`."""
    if node.registry is not None:
        return ids.encode("ProjectInternalId", node.registry.pk)
    return str(node.project.pk) if node.project else f"{node.entity.pk}-{node.name}"


def _project_artifact(node: ProjectNode, info: Info, name: str, enableTracking: bool | None = None) -> Any:
    membership = lookups.membership_named(node, name)
    return membership.version if membership else None


def _type_created(node: ProjectNode, name: str) -> datetime.datetime | None:
    """When the first collection of type `name` was created: an artifact or (in a real project) a portfolio."""
    found = [registry_queries.model_type_created(node.scope, name)]
    if node.project is not None:
        found.append(queries.artifact_type_created(node.project, name))
    return min((when for when in found if when is not None), default=None)


def _project_artifact_type(node: ProjectNode, info: Info, name: str) -> ArtifactTypeNode | None:
    created = _type_created(node, name)
    return ArtifactTypeNode(node, name, created) if created else None


def _project_artifact_types(
    node: ProjectNode, info: Info, after: str | None = None, first: int | None = None, includeAll: bool | None = None
) -> dict:
    """Types by name; the cursor is the last name. A registry that lists the types it accepts answers those with
    `includeAll` (W&B's registry settings), whether or not a collection holds them yet."""
    if node.registry is not None and includeAll and node.registry.artifact_types:
        names_ = sorted(n for n in node.registry.artifact_types if not after or n > after)
        created = node.registry.created_at
        edges = [{"node": ArtifactTypeNode(node, n, created), "cursor": n} for n in names_]
        return connection(edges, False, after)
    sources = [registry_queries.visible_model_types(_user(info), node.scope)]
    if node.project is not None:
        # A real project's artifacts and portfolios (a project has a handful of types).
        sources.append(queries.visible_artifact_types(_user(info), node.project))
    created: dict[str, datetime.datetime] = {}
    for rows in sources:
        for row in rows.filter(type__gt=after) if after else rows:
            created[row["type"]] = min(created.get(row["type"], row["created_at"]), row["created_at"])
    limit = _limit(first)
    found = [{"type": type, "created_at": created[type]} for type in sorted(created)[: limit + 1]]
    edges = [{"node": ArtifactTypeNode(node, r["type"], r["created_at"]), "cursor": r["type"]} for r in found[:limit]]
    return connection(edges, len(found) > limit, after)


def collections_page(
    node: ProjectNode,
    info: Info,
    type: str | None = None,
    after: str | None = None,
    first: int | None = None,
    filters: str | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """A project's artifacts then its portfolios, or a registry's registered models, newest first (W&B's order by
    id); the cursor is the last id (`p<id>` among a project's portfolios). The server does not advertise
    filtering and ordering collections, so the SDK sends neither."""
    if order or runs.parse_json_object(filters, "filters"):
        raise ValidationError("This server neither filters nor orders artifact collections.", code="unsupported")
    models = registry_queries.visible_models(_user(info), node.scope, type)
    if node.project is None:
        found, has_next = keyset_page(models, "pk", after, first, descending=True)
        edges = [{"node": collection, "cursor": str(collection.pk)} for collection in found]
        return connection(edges, has_next, after, totalCount=models.count())
    artifacts = queries.visible_artifacts(_user(info), node.project, type)
    total = artifacts.count() + models.count()
    edges = []
    # After an artifact's cursor (or none) the page starts among the artifacts, and the portfolios from their first.
    portfolio_after = after[1:] if (after or "").startswith("p") else None
    if portfolio_after is None:
        found, has_next = keyset_page(artifacts, "pk", after, first, descending=True)
        edges = [{"node": collection, "cursor": str(collection.pk)} for collection in found]
        if has_next:
            return connection(edges, True, after, totalCount=total)
    remaining = _limit(first) - len(edges)
    if remaining <= 0:
        return connection(edges, models.exists(), after, totalCount=total)
    found, has_next = keyset_page(models, "pk", portfolio_after, remaining, descending=True)
    edges += [{"node": collection, "cursor": f"p{collection.pk}"} for collection in found]
    return connection(edges, has_next, after, totalCount=total)


def _project_run(node: ProjectNode, info: Info, name: str, missingOk: bool | None = None) -> Run | None:
    if node.project is None:
        return None
    return Run.objects.filter(project=node.project, run_id=name).select_related("project__entity", "created_by").first()


# A page of runs carries their config and summary: fewer than files or versions at once.
RUNS_MAX_PAGE = 1000
RUNS_PAGE = 50


def _runs_matching(node: ProjectNode, filters: str | None, order: str | None = None) -> QuerySet[Run]:
    if node.project is None:
        return Run.objects.none()
    return queries.runs_matching(node.project, filters=runs.parse_json_object(filters, "filters"), order=order)


def _project_runs(
    node: ProjectNode,
    info: Info,
    filters: str | None = None,
    after: str | None = None,
    first: int | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """A page of the project's runs matching `filters`, in `order`; the cursor is an offset."""
    matching = _runs_matching(node, filters, order)
    start = ids.parse_int_key(after) or 0
    limit = max(1, min(first or RUNS_PAGE, RUNS_MAX_PAGE))
    rows = list(matching[start : start + limit + 1])
    has_next = len(rows) > limit
    edges = [{"node": run, "cursor": str(start + i + 1)} for i, run in enumerate(rows[:limit])]
    return {
        # Counted only when asked for.
        "totalCount": lambda info: matching.count(),
        "pageInfo": page_info(edges[-1]["cursor"] if edges else after, has_next),
        "edges": edges,
    }


def _project_run_count(node: ProjectNode, info: Info, filters: str | None = None) -> int:
    return _runs_matching(node, filters).count()


def _project_description(node: ProjectNode, info: Info) -> str | None:
    if node.registry is not None:
        return node.registry.description
    return node.project.description if node.project else ""


def _project_access(node: ProjectNode, info: Info) -> str:
    """W&B's project access; a registry's visibility is PRIVATE (organization) or RESTRICTED."""
    if node.registry is not None:
        return "RESTRICTED" if node.registry.visibility == Visibility.RESTRICTED else "PRIVATE"
    return "PUBLIC" if node.project and node.project.is_public else "PRIVATE"


def _project_read_only(node: ProjectNode, info: Info) -> bool:
    if node.project is None:
        return not registry_permissions.can_change(_user(info), node.scope)
    return not permissions.can_change(_user(info), node.entity)


def _project_members(node: ProjectNode, info: Info) -> list[dict[str, Any]]:
    """A registry's members with their roles (only those given a role there, as W&B lists them)."""
    if node.registry is None:
        return []
    return [
        {
            "id": ids.encode("User", m.user.pk),
            "name": m.user.get_full_name() or m.user.get_username(),
            "username": m.user.get_username(),
            "email": m.user.email,
            "role": {"name": m.role},
        }
        for m in registry_queries.registry_members(node.registry)
    ]


def _project_team_members(node: ProjectNode, info: Info) -> list[dict[str, Any]]:
    """A registry's teams with their roles."""
    if node.registry is None:
        return []
    return [{"team": m.team, "role": {"name": m.role}} for m in registry_queries.registry_team_members(node.registry)]


def _project_created(node: ProjectNode, info: Info, field: str = "created_at") -> str | None:
    row = node.registry or node.project
    return timestamp(getattr(row, field)) if row is not None else None


PROJECT: dict[str, Resolver] = {
    "id": lambda node, info: _project_id(node),
    "internalId": lambda node, info: _project_internal_id(node),
    "entityName": lambda node, info: node.entity.name,
    "description": _project_description,
    "access": _project_access,
    "readOnly": _project_read_only,
    "createdAt": _project_created,
    "updatedAt": lambda node, info: _project_created(node, info, "updated_at"),
    "allowAllArtifactTypesInRegistry": lambda node, info: not (node.registry and node.registry.artifact_types),
    "members": _project_members,
    "teamMembers": _project_team_members,
    "artifact": _project_artifact,
    "artifactType": _project_artifact_type,
    "artifactTypes": _project_artifact_types,
    "artifactCollection": lambda node, info, name: lookups.collection_in(node, name),
    "artifactCollections": collections_page,
    "artifactCollectionMembership": lambda node, info, name: lookups.membership_named(node, name),
    "run": _project_run,
    "bucket": _project_run,
    "runs": _project_runs,
    "runCount": _project_run_count,
}


def _history_keys(run: Run, info: Info, format: str | None = None) -> dict[str, Any]:
    """W&B's historyKeys: each metric's value types with how many rows hold them, and the last step (left out
    when nothing was logged, which the SDK reads as -1)."""
    keys = {
        key: {"typeCounts": [{"type": kind, "count": count} for kind, count in counts.items()]}
        for key, counts in run.history_keys.items()
    }
    return {"keys": keys} | ({"lastStep": run.history_last_step} if run.history_last_step is not None else {})


def _history(
    run: Run, info: Info, samples: int | None = None, minStep: int | None = None, maxStep: int | None = None
) -> list[str]:
    rows = queries.history_rows(
        run, samples=runs.DEFAULT_SAMPLES if samples is None else samples, min_step=minStep, max_step=maxStep
    )
    return [json.dumps(row) for row in rows]


# Specs in one sampledHistory request (the SDK sends one).
MAX_SPECS = 10


def _sampled_history(run: Run, info: Info, specs: list[str], packVersion: int | None = None) -> list[list[dict]]:
    if len(specs) > MAX_SPECS:
        raise ValidationError(f"Send at most {MAX_SPECS} sampledHistory specs at once.", code="too_many")
    parsed = [runs.sampled_history_spec(spec) for spec in specs]
    return [queries.history_rows(run, **spec) for spec in parsed]


def _parquet_history(run: Run, info: Info, liveKeys: list[str]) -> dict[str, Any]:
    """No Parquet files: every row is live. Only the first live step is listed (W&B lists them all), which is
    where the SDK's reader starts asking `history` and `sampledHistory` for pages."""
    first = queries.history_first_step(run)
    return {"parquetUrls": [], "liveData": [] if first is None else [{"_step": first}]}


def _history_tail(run: Run, info: Info) -> str:
    """The last row, as W&B's list of JSON lines: a resumed run goes on from its step."""
    last = queries.history_last_row(run)
    return json.dumps([] if last is None else [json.dumps(last)])


def _run_versions(rows: QuerySet, info: Info, after: str | None, first: int | None) -> dict[str, Any]:
    """A page of committed versions, in projects the user may see, in the order they were created; the cursor is
    the last version's id."""
    rows = rows.filter(permissions.visible_projects_q(_user(info), "artifact__project__")).select_related(
        "artifact__project__entity"
    )
    found, has_next = keyset_page(rows, "pk", after, first, descending=False)
    edges = [{"node": version, "cursor": str(version.pk)} for version in found]
    return connection(edges, has_next, after, totalCount=rows.count())


def _run_input_artifacts(run: Run, info: Info, after: str | None = None, first: int | None = None) -> dict:
    return _run_versions(ArtifactVersion.committed.filter(usages__run=run), info, after, first)


def _run_output_artifacts(run: Run, info: Info, after: str | None = None, first: int | None = None) -> dict:
    return _run_versions(ArtifactVersion.committed.filter(queries.logged_by_q(run)), info, after, first)


RUN: dict[str, Resolver] = {
    "id": lambda run, info: ids.encode("Run", run.pk),
    "name": lambda run, info: run.run_id,
    "displayName": lambda run, info: run.display_name or run.run_id,
    "description": nothing,
    "notes": nothing,
    "config": lambda run, info: runs.config_to_wandb(run.config),
    "summaryMetrics": lambda run, info: json.dumps(run.summary or {}),
    # Every key asked for is answered present: the SDK asks for "t" (telemetry) to learn a run has started, for
    # resuming, and runs stored before the config kept its `_wandb` entry have none.
    "wandbConfig": lambda run, info, keys=None: json.dumps({key: {} for key in keys or []}),
    "sweepName": nothing,
    "state": lambda run, info: run.current_state,
    "group": nothing,
    "jobType": lambda run, info: run.job_type or None,
    "host": nothing,
    "tags": lambda run, info: [tag.name for tag in run.tags.all()],
    "commit": nothing,
    "readOnly": lambda run, info: not permissions.can_change(_user(info), run.project.entity),
    "projectId": lambda run, info: run.project_id,
    # The SDK reads `user { name username }` of every run it loads, and fails on null.
    "user": lambda run, info: run_creator(run),
    "createdAt": lambda run, info: timestamp(run.created_at),
    "updatedAt": lambda run, info: timestamp(run.updated_at),
    "heartbeatAt": lambda run, info: timestamp(run.heartbeat_at),
    "project": lambda run, info: ProjectNode(run.project.entity, run.project.name, run.project),
    "historyLineCount": lambda run, info: run.history_line_count,
    "logLineCount": lambda run, info: run.output_line_count,
    "eventsLineCount": lambda run, info: 0,
    "historyTail": _history_tail,
    "eventsTail": lambda run, info: "[]",
    "systemMetrics": lambda run, info: "{}",
    "historyKeys": _history_keys,
    "history": _history,
    "sampledHistory": _sampled_history,
    "parquetHistory": _parquet_history,
    "events": lambda run, info, samples=None: [],
    "inputArtifacts": _run_input_artifacts,
    "outputArtifacts": _run_output_artifacts,
}


def _type_collection(node: ArtifactTypeNode, info: Info, name: str) -> Artifact | RegisteredModel | None:
    collection = lookups.collection_in(node.project, name)
    if collection is None or collection.type != node.name:
        return None
    return collection


ARTIFACT_TYPE: dict[str, Resolver] = {
    "id": lambda node, info: ids.encode("ArtifactType", f"{_project_id(node.project)}-{node.name}"),
    "description": nothing,
    "createdAt": lambda node, info: timestamp(node.created_at or _type_created(node.project, node.name)),
    "artifactCollection": _type_collection,
    "artifactCollections": lambda node, info, **page: collections_page(node.project, info, node.name, **page),
}

# `order` of a collection's versions: by version index (W&B's `versionIndex`, as the SDK spells it or not) or
# creation, which is the same order here (indexes are handed out as versions commit and links are made).
VERSION_ORDERS = {"versionIndex", "version_index", "createdAt", "created_at"}


def _descending(order: str | None) -> bool:
    """Newest first unless `order` asks for `+versionIndex` (or a bare name, which W&B reads as ascending)."""
    if not order:
        return True
    sign, name = (order[0], order[1:]) if order[0] in "+-" else ("+", order)
    if name not in VERSION_ORDERS:
        raise ValidationError(
            f"Versions are ordered by {', '.join(sorted(VERSION_ORDERS))}, not {name!r}.", code="unsupported"
        )
    return sign == "-"


def _check_version_filters(filters: str | None) -> None:
    """Only committed versions are listed; the SDK asks for exactly those (`{"state": "COMMITTED"}`)."""
    if runs.parse_json_object(filters, "filters") not in (None, {}, {"state": "COMMITTED"}):
        raise ValidationError('Versions can only be filtered by {"state": "COMMITTED"}.', code="unsupported")


def versions_page(
    collection: Artifact | RegisteredModel,
    info: Info,
    after: str | None = None,
    first: int | None = None,
    order: str | None = None,
    filters: str | None = None,
) -> dict[str, Any]:
    """A collection's versions; each edge names the version's index in this collection (a link's in a registered
    model), which is also the cursor."""
    descending = _descending(order)
    _check_version_filters(filters)
    if isinstance(collection, RegisteredModel):
        links, total = registry_queries.visible_model_links(_user(info), collection)
        found, has_next = keyset_page(links, "index", after, first, descending)
        edges = [{"node": link.source, "version": link.label, "cursor": str(link.index)} for link in found]
    else:
        versions, total = registry_queries.visible_versions(_user(info), collection)
        found, has_next = keyset_page(versions, "index", after, first, descending)
        edges = [{"node": v, "version": v.label, "cursor": str(v.index)} for v in found]
    return connection(edges, has_next, after, totalCount=total)


def tag_nodes(collection: Artifact | RegisteredModel) -> list[dict[str, Any]]:
    """A collection's tags (kept on its row) as W&B's Tag objects."""
    owner = f"{collection.pk}" if isinstance(collection, RegisteredModel) else f"artifact-{collection.pk}"
    return [
        {"id": ids.encode("Tag", f"{owner}:{name}"), "name": name, "tagCategoryName": None, "attributes": None}
        for name in collection.tags or []
    ]


def _collection_tags(
    collection: Artifact | RegisteredModel, info: Info, after: str | None = None, first: int | None = None
) -> dict[str, Any]:
    """A collection's tags: one page, they are few."""
    return connection([{"node": node, "cursor": node["name"]} for node in tag_nodes(collection)], False, after)


def _sequence_project(artifact: Artifact, info: Info) -> ProjectNode:
    return ProjectNode(artifact.project.entity, artifact.project.name, artifact.project)


def _visible_sequence_project(artifact: Artifact, info: Info) -> ProjectNode | None:
    """A version's own project, null for a user who reads it through a registry but may not see its project (W&B
    answers so, and the SDK then leaves the source entity and project empty)."""
    if not permissions.can_view_project(_user(info), artifact.project):
        return None
    return _sequence_project(artifact, info)


def _latest(artifact: Artifact, info: Info) -> ArtifactVersion | None:
    return lookups.version_in(artifact, "latest")


def _collection_aliases(
    collection: Artifact | RegisteredModel, info: Info, after: str | None = None, first: int | None = None
) -> dict[str, Any]:
    """The aliases its versions hold in it (each name once: aliases are unique in a collection), by name; the
    cursor is the last name."""
    if isinstance(collection, RegisteredModel):
        rows = LinkAlias.objects.filter(registered_model=collection)
        rows = rows.select_related(*scope_related("registered_model__"))
    else:
        rows = ArtifactAlias.objects.filter(artifact=collection).select_related("artifact__project__entity")
    if after:
        rows = rows.filter(name__gt=after)
    limit = _limit(first)
    found = list(rows.order_by("name")[: limit + 1])
    edges = [{"node": alias, "cursor": alias.name} for alias in found[:limit]]
    return connection(edges, len(found) > limit, after)


def _collection_state(collection: Artifact | RegisteredModel, info: Info) -> str:
    """READY, or DELETED for the one a delete mutation hands back (Django clears a deleted row's pk)."""
    return "DELETED" if collection.pk is None else "READY"


SEQUENCE: dict[str, Resolver] = {
    "id": lambda artifact, info: ids.encode("ArtifactSequence", artifact.pk),
    "createdAt": lambda artifact, info: timestamp(artifact.created_at),
    "updatedAt": lambda artifact, info: timestamp(artifact.updated_at),
    "project": _visible_sequence_project,
    "description": lambda artifact, info: artifact.description,
    "defaultArtifactType": lambda artifact, info: ArtifactTypeNode(_sequence_project(artifact, info), artifact.type),
    "artifactMembership": lambda artifact, info, aliasName: lookups.membership_in(artifact, aliasName),
    "tags": _collection_tags,
    "artifacts": versions_page,
    "latestArtifact": _latest,
    "digestAlgorithm": lambda artifact, info: "MANIFEST_MD5",
    "aliases": _collection_aliases,
    "state": _collection_state,
}

PORTFOLIO: dict[str, Resolver] = {
    "id": lambda model, info: ids.encode("ArtifactPortfolio", model.pk),
    "createdAt": lambda model, info: timestamp(model.created_at),
    "updatedAt": lambda model, info: timestamp(model.updated_at),
    "project": lambda model, info: lookups.scope_node(model),
    "description": lambda model, info: model.description,
    "defaultArtifactType": lambda model, info: ArtifactTypeNode(lookups.scope_node(model), model.type),
    "artifactMembership": lambda model, info, aliasName: lookups.membership_in(model, aliasName),
    "tags": _collection_tags,
    "artifacts": versions_page,
    "aliases": _collection_aliases,
    "state": _collection_state,
}


def collection_type(collection: Any, info: Info, _: Any) -> str:
    return "ArtifactPortfolio" if isinstance(collection, RegisteredModel) else "ArtifactSequence"


def _membership_aliases(node: MembershipNode, info: Info) -> list[ArtifactAlias | LinkAlias]:
    if node.link is not None:
        if "links" in getattr(node.version, "_prefetched_objects_cache", {}):
            # The version's memberships were read already (with every link's aliases): not read again.
            _, links = registry_queries.version_memberships(_user(info), node.version)
            for link in links:
                if link.pk == node.link.pk:
                    return list(link.aliases.all())
        aliases = list(node.link.aliases.all())
        for alias in aliases:  # the link's registered model is theirs: not read again (see registry.queries)
            alias.registered_model = node.link.registered_model
        return aliases
    return list(node.version.aliases.select_related("artifact__project__entity"))


def _membership_created(node: MembershipNode, info: Info) -> str | None:
    if node.link is not None:
        return timestamp(node.link.created_at)
    return timestamp(node.version.committed_at or node.version.created_at)


MEMBERSHIP: dict[str, Resolver] = {
    "id": lambda node, info: ids.encode(
        "ArtifactCollectionMembership", f"link-{node.link.pk}" if node.link else f"version-{node.version.pk}"
    ),
    "versionIndex": lambda node, info: node.link.index if node.link else node.version.index,
    "createdAt": _membership_created,
    "aliases": _membership_aliases,
    "artifactCollection": lambda node, info: node.link.registered_model if node.link else node.version.artifact,
    "artifact": lambda node, info: node.version,
    "files": lambda node, info, names=None, after=None, first=None: files_page(info, node.version, names, after, first),
}


def _alias_key(alias: ArtifactAlias | LinkAlias | IndexAlias) -> str:
    if isinstance(alias, IndexAlias):
        return f"index-{alias.link.pk}"
    return f"link-{alias.pk}" if isinstance(alias, LinkAlias) else f"version-{alias.pk}"


def _alias_collection(alias: ArtifactAlias | LinkAlias | IndexAlias) -> Artifact | RegisteredModel:
    if isinstance(alias, IndexAlias):
        return alias.link.registered_model
    return alias.registered_model if isinstance(alias, LinkAlias) else alias.artifact


ALIAS: dict[str, Resolver] = {
    "id": lambda alias, info: ids.encode("ArtifactAlias", _alias_key(alias)),
    "alias": lambda alias, info: alias.link.label if isinstance(alias, IndexAlias) else alias.name,
    "artifactCollection": lambda alias, info: _alias_collection(alias),
}


def _version_aliases(version: ArtifactVersion, info: Info) -> list[ArtifactAlias | LinkAlias | IndexAlias]:
    """Its aliases in every collection: its artifact's, and in each registered model the user may see that links
    it, the link's aliases and its index there."""
    own, links = registry_queries.version_memberships(_user(info), version)
    aliases: list[ArtifactAlias | LinkAlias | IndexAlias] = list(own)
    for link in links:
        aliases += [IndexAlias(link), *link.aliases.all()]
    return aliases


def _version_memberships(version: ArtifactVersion, info: Info, after: str | None = None, first: int | None = None):
    """Its membership in its own artifact, then its links the user may see (W&B's `linked_artifacts` reads the
    links from here); the cursor is an offset."""
    _, links = registry_queries.version_memberships(_user(info), version)
    nodes = [MembershipNode(version), *(MembershipNode(version, link) for link in links)]
    start = ids.parse_int_key(after) or 0
    limit = max(1, min(first or MAX_PAGE, MAX_PAGE))
    edges = [{"node": node, "cursor": str(i + 1)} for i, node in enumerate(nodes)][start : start + limit]
    return connection(edges, start + limit < len(nodes), after)


def _created_by(version: ArtifactVersion, info: Info) -> Run | None:
    """The run that logged the version, only when the user may see its project (else null, like a missing one)."""
    run = version.created_by_run
    if run is None or not permissions.can_view_project(_user(info), run.project):
        return None
    return run


def _used_by(version: ArtifactVersion, info: Info, after: str | None = None, first: int | None = None) -> dict:
    """The runs that used the version, newest use first, in projects the user may see; the cursor is an offset."""
    usages = (
        ArtifactUsage.objects.filter(version=version)
        .filter(permissions.visible_projects_q(_user(info), "run__project__"))
        .select_related("run__project__entity")
        .order_by("-created_at", "-pk")
    )
    start = ids.parse_int_key(after) or 0
    limit = max(1, min(first or MAX_PAGE, MAX_PAGE))
    rows = list(usages[start : start + limit + 1])
    has_next = len(rows) > limit
    rows = rows[:limit]
    edges = [{"node": u.run, "cursor": str(start + i + 1)} for i, u in enumerate(rows)]
    return {
        "totalCount": usages.count(),
        "pageInfo": page_info(edges[-1]["cursor"] if edges else after, has_next),
        "edges": edges,
    }


def creator_type(creator: Any, info: Info, _: Any) -> str:
    return "Run" if isinstance(creator, Run) else "User"


ARTIFACT: dict[str, Resolver] = {
    "id": lambda version, info: ids.encode("Artifact", version.pk),
    "artifactSequence": lambda version, info: version.artifact,
    "versionIndex": lambda version, info: version.index,
    "artifactType": lambda version, info: ArtifactTypeNode(
        _sequence_project(version.artifact, info), version.artifact.type
    ),
    "description": lambda version, info: version.description or None,
    "metadata": lambda version, info: json.dumps(version.metadata or {}),
    "ttlDurationSeconds": lambda version, info: TTL_DISABLED,
    "ttlIsInherited": lambda version, info: True,
    "tags": lambda version, info: [
        {"id": ids.encode("Tag", tag.pk), "name": tag.name, "tagCategoryName": None, "attributes": None}
        for tag in queries.version_tags(version)
    ],
    "historyStep": lambda version, info: version.history_step,
    "state": lambda version, info: version.state,
    "size": lambda version, info: version.size,
    "digestAlgorithm": lambda version, info: "MANIFEST_MD5",
    # What was committed: the manifest's digest, which names one committed version of a collection.
    "commitHash": lambda version, info: version.digest if version.is_committed else None,
    "fileCount": lambda version, info: version.num_files if version.is_committed else version.files.count(),
    "createdAt": lambda version, info: timestamp(version.created_at),
    "updatedAt": lambda version, info: timestamp(version.committed_at or version.created_at),
    "aliases": _version_aliases,
    "currentManifest": lambda version, info: manifest_node(_request(info), version),
    "files": lambda version, info, names=None, after=None, first=None: files_page(info, version, names, after, first),
    "createdBy": _created_by,
    "usedBy": _used_by,
    "artifactMemberships": _version_memberships,
}

FILE: dict[str, Resolver] = {
    "url": lambda file, info, upload=None: file.get("url") or file.get("directUrl"),
}

ORGANIZATION: dict[str, Resolver] = {
    "id": lambda org, info: ids.encode("Organization", org.pk),
    "orgEntity": lambda org, info: org.entity,
    "featureFlags": lambda org, info, rampIDType=None: [],
    # W&B's advanced registry search (other filter field names, version ordering) is not implemented.
    "advancedRegistryFeatures": lambda org, info: {"advancedSearch": False},
}

TYPES: dict[str, dict[str, Resolver]] = {
    "Query": QUERY,
    "User": USER,
    "Entity": ENTITY,
    "Organization": ORGANIZATION,
    "Project": PROJECT,
    "Run": RUN,
    "ArtifactType": ARTIFACT_TYPE,
    "ArtifactSequence": SEQUENCE,
    "ArtifactPortfolio": PORTFOLIO,
    "ArtifactCollectionMembership": MEMBERSHIP,
    "ArtifactAlias": ALIAS,
    "Artifact": ARTIFACT,
    "File": FILE,
}
