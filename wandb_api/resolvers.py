"""Field resolvers for queries and every object type, keyed by W&B's type and field names (see schema.py).

Objects behind the types: User -> the Django user, Entity -> Entity, Project -> lookups.ProjectNode,
Run -> Run, ArtifactSequence -> Artifact, ArtifactPortfolio -> RegisteredModel, Artifact -> ArtifactVersion,
ArtifactCollectionMembership -> lookups.MembershipNode, ArtifactAlias -> ArtifactAlias or LinkAlias,
ArtifactType -> lookups.ArtifactTypeNode; files, manifests and pages are plain dicts. Fields missing here
resolve by attribute or key of the same name. Arguments arrive under their GraphQL names (`entityName`).
"""

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.http import HttpRequest
from graphql import GraphQLResolveInfo

from artifacts import permissions, queries, storage
from artifacts.models import Artifact, ArtifactAlias, ArtifactFile, ArtifactUsage, ArtifactVersion, Entity, Run
from artifacts.permissions import User
from registry.models import LinkAlias, RegisteredModel
from wandb_api import ids, lookups, runs, tokens
from wandb_api.lookups import ArtifactTypeNode, MembershipNode, ProjectNode

# Only what this server does differently from W&B's oldest behaviour; the SDK falls back for the rest.
SERVER_VERSION = "0.1.0"
SERVER_FEATURES = [
    "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE",
    # `len(artifact.files())`: the files connection has totalCount.
    "TOTAL_COUNT_IN_FILE_CONNECTION",
    # views.artifact_file takes the version's own id as well as the birth version's.
    "ARTIFACT_V2_DOWNLOAD_HANDLER_SUPPORTS_ARTIFACT_ID",
]
# W&B's "TTL disabled" value.
TTL_DISABLED = -2
MAX_PAGE = 10_000

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
            "directUrl": tokens.download_url(request, manifest=version.pk),
            "uploadUrl": upload_url,
            "uploadHeaders": [],
            "uploadMultipartUrls": None,
            "artifact": version,
        },
    }


def file_node(request: HttpRequest, file: ArtifactFile) -> dict[str, Any]:
    name = PurePosixPath(file.path).name
    if storage.direct_transfers() and file.blob.is_ok:
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
        "storagePath": None,
        "uploadUrl": None,
        "uploadHeaders": [],
        "uploadMultipartUrls": None,
        "artifact": file.version,
    }


def files_page(
    info: Info,
    version: ArtifactVersion,
    names: list[str] | None = None,
    after: str | None = None,
    first: int | None = None,
) -> dict[str, Any]:
    """A version's files ordered by path; the cursor is the last path."""
    files = version.files.select_related("blob", "version").order_by("path")
    if names is not None:
        files = files.filter(path__in=[n for n in names if n])
    total = files.count()
    if after:
        files = files.filter(path__gt=after)
    limit = max(1, min(first or MAX_PAGE, MAX_PAGE))
    rows = list(files[: limit + 1])
    has_next = len(rows) > limit
    rows = rows[:limit]
    return {
        "totalCount": total,
        "pageInfo": page_info(rows[-1].path if rows else after, has_next),
        "edges": [{"node": file_node(_request(info), f), "cursor": f.path} for f in rows],
    }


def viewer(_: None, info: Info) -> User:
    return _user(info)


def server_info(_: None, info: Info) -> dict[str, Any]:
    return {
        "features": [{"name": name, "isEnabled": True} for name in SERVER_FEATURES],
        "cliVersionInfo": None,
        # This server is never "out of date" in W&B Server's sense (no newer local image to suggest).
        "latestLocalVersionInfo": {
            "outOfDate": False,
            "latestVersionString": SERVER_VERSION,
            "versionOnThisInstanceString": SERVER_VERSION,
        },
    }


def entity(_: None, info: Info, name: str) -> Entity | None:
    return lookups.entity_named(_user(info), name)


def project(_: None, info: Info, name: str | None = None, entityName: str | None = None) -> ProjectNode | None:
    return lookups.project_node(_user(info), entityName or _default_entity_name(info), name)


def artifact(_: None, info: Info, id: str) -> ArtifactVersion | None:
    return lookups.version_by_id(_user(info), id)


def nothing(*_: Any, **__: Any) -> None:
    return None


def _default_entity_name(info: Info) -> str | None:
    entity = lookups.default_entity(_user(info))
    return entity.name if entity else None


QUERY: dict[str, Resolver] = {
    "viewer": viewer,
    "serverInfo": server_info,
    "entity": entity,
    "project": project,
    "model": project,
    "artifact": artifact,
    "clientIDMapping": nothing,
    "organization": nothing,
}


def _teams(user: User, info: Info, first: int | None = None) -> dict[str, Any]:
    entities = list(Entity.objects.filter(memberships__user=user).order_by("name"))
    return {
        "edges": [{"node": e, "cursor": e.name} for e in entities],
        "pageInfo": page_info(entities[-1].name if entities else None, False),
    }


def _api_keys(user: User, info: Info) -> dict[str, Any]:
    """The active keys as the profile page lists them: a user here is only ever the viewer (Run.user is null)."""
    keys = queries.api_keys_of(user).order_by("created_at", "pk")
    return {
        "edges": [
            {"node": {"id": ids.encode("ApiKey", k.pk), "name": f"{k.prefix}…", "description": k.name}} for k in keys
        ]
    }


USER: dict[str, Resolver] = {
    "id": lambda user, info: ids.encode("User", user.pk),
    "entity": lambda user, info: getattr(lookups.default_entity(user), "name", None),
    "username": lambda user, info: user.get_username(),
    "email": lambda user, info: user.email,
    "name": lambda user, info: user.get_full_name() or user.get_username(),
    "admin": lambda user, info: user.is_superuser,
    "flags": lambda user, info: "{}",
    "teams": _teams,
    "organizations": lambda user, info: [],
    "apiKeys": _api_keys,
}

ENTITY: dict[str, Resolver] = {
    "id": lambda entity, info: ids.encode("Entity", entity.pk),
    "isTeam": lambda entity, info: True,
    "organization": nothing,
    "user": nothing,
    "xxhashDigestsEnabled": lambda entity, info: False,
}


def _project_id(node: ProjectNode) -> str:
    return ids.encode("Project", node.project.pk if node.project else f"{node.entity.pk}-{node.name}")


def _project_artifact(node: ProjectNode, info: Info, name: str, enableTracking: bool | None = None) -> Any:
    membership = lookups.membership_named(node, name)
    return membership.version if membership else None


def _project_artifact_type(node: ProjectNode, info: Info, name: str) -> ArtifactTypeNode | None:
    if node.project is not None and node.project.artifacts.filter(type=name).exists():
        return ArtifactTypeNode(node, name)
    if node.is_registry and RegisteredModel.objects.filter(entity=node.entity, type=name).exists():
        return ArtifactTypeNode(node, name)
    return None


def _project_run(node: ProjectNode, info: Info, name: str, missingOk: bool | None = None) -> Run | None:
    if node.project is None:
        return None
    return Run.objects.filter(project=node.project, run_id=name).select_related("project__entity").first()


PROJECT: dict[str, Resolver] = {
    "id": lambda node, info: _project_id(node),
    "internalId": lambda node, info: str(node.project.pk) if node.project else f"{node.entity.pk}-{node.name}",
    "entityName": lambda node, info: node.entity.name,
    "description": lambda node, info: node.project.description if node.project else "",
    "access": lambda node, info: "PUBLIC" if node.project and node.project.is_public else "PRIVATE",
    "readOnly": lambda node, info: not permissions.can_change(_user(info), node.entity),
    "createdAt": lambda node, info: timestamp(node.project.created_at) if node.project else None,
    "artifact": _project_artifact,
    "artifactType": _project_artifact_type,
    "artifactCollection": lambda node, info, name: lookups.collection_in(node, name),
    "artifactCollectionMembership": lambda node, info, name: lookups.membership_named(node, name),
    "run": _project_run,
    "bucket": _project_run,
}

RUN: dict[str, Resolver] = {
    "id": lambda run, info: ids.encode("Run", run.pk),
    "name": lambda run, info: run.run_id,
    "displayName": lambda run, info: run.display_name or run.run_id,
    "description": nothing,
    "notes": nothing,
    "config": lambda run, info: runs.config_to_wandb(run.config),
    "summaryMetrics": lambda run, info: json.dumps(run.summary or {}),
    # The SDK's own `_wandb` config is not kept; its telemetry key "t" marks a run as started, for resuming.
    "wandbConfig": lambda run, info, keys=None: json.dumps({key: {} for key in keys or []}),
    "sweepName": nothing,
    "state": nothing,
    "group": nothing,
    "jobType": lambda run, info: run.job_type or None,
    "host": nothing,
    "tags": lambda run, info: [],
    "commit": nothing,
    "readOnly": lambda run, info: not permissions.can_change(_user(info), run.project.entity),
    "projectId": lambda run, info: run.project_id,
    # Who started a run is not shown through the API: User answers with the viewer's own details.
    "user": nothing,
    "createdAt": lambda run, info: timestamp(run.created_at),
    "updatedAt": lambda run, info: timestamp(run.updated_at),
    "heartbeatAt": lambda run, info: timestamp(run.updated_at),
    "project": lambda run, info: ProjectNode(run.project.entity, run.project.name, run.project),
    "historyLineCount": lambda run, info: 0,
    "logLineCount": lambda run, info: run.output_line_count,
    "eventsLineCount": lambda run, info: 0,
    "historyTail": lambda run, info: "[]",
    "eventsTail": lambda run, info: "[]",
}


def _type_collection(node: ArtifactTypeNode, info: Info, name: str) -> Artifact | RegisteredModel | None:
    collection = lookups.collection_in(node.project, name)
    if isinstance(collection, Artifact) and collection.type != node.name:
        return None
    return collection


ARTIFACT_TYPE: dict[str, Resolver] = {
    "id": lambda node, info: ids.encode("ArtifactType", f"{_project_id(node.project)}-{node.name}"),
    "description": nothing,
    "artifactCollection": _type_collection,
}


def _sequence_project(artifact: Artifact, info: Info) -> ProjectNode:
    return ProjectNode(artifact.project.entity, artifact.project.name, artifact.project)


def _latest(artifact: Artifact, info: Info) -> ArtifactVersion | None:
    return lookups.version_in(artifact, "latest")


SEQUENCE: dict[str, Resolver] = {
    "id": lambda artifact, info: ids.encode("ArtifactSequence", artifact.pk),
    "createdAt": lambda artifact, info: timestamp(artifact.created_at),
    "updatedAt": lambda artifact, info: timestamp(artifact.updated_at),
    "project": _sequence_project,
    "defaultArtifactType": lambda artifact, info: ArtifactTypeNode(_sequence_project(artifact, info), artifact.type),
    "artifactMembership": lambda artifact, info, aliasName: lookups.membership_in(artifact, aliasName),
    "latestArtifact": _latest,
    "digestAlgorithm": lambda artifact, info: "MANIFEST_MD5",
}

PORTFOLIO: dict[str, Resolver] = {
    "id": lambda model, info: ids.encode("ArtifactPortfolio", model.pk),
    "createdAt": lambda model, info: timestamp(model.created_at),
    "updatedAt": lambda model, info: timestamp(model.updated_at),
    "project": lambda model, info: lookups.registry_node(model.entity),
    "defaultArtifactType": lambda model, info: ArtifactTypeNode(lookups.registry_node(model.entity), model.type),
    "artifactMembership": lambda model, info, aliasName: lookups.membership_in(model, aliasName),
}


def collection_type(collection: Any, info: Info, _: Any) -> str:
    return "ArtifactPortfolio" if isinstance(collection, RegisteredModel) else "ArtifactSequence"


def _membership_aliases(node: MembershipNode, info: Info) -> list[ArtifactAlias | LinkAlias]:
    if node.link is not None:
        return list(node.link.aliases.select_related("registered_model__entity"))
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

ALIAS: dict[str, Resolver] = {
    "id": lambda alias, info: ids.encode(
        "ArtifactAlias", f"link-{alias.pk}" if isinstance(alias, LinkAlias) else f"version-{alias.pk}"
    ),
    "alias": lambda alias, info: alias.name,
    "artifactCollection": lambda alias, info: (
        alias.registered_model if isinstance(alias, LinkAlias) else alias.artifact
    ),
}


def _version_aliases(version: ArtifactVersion, info: Info) -> list[ArtifactAlias | LinkAlias]:
    """Its aliases in every collection: its artifact's, and those of the registry links the user may see."""
    aliases: list[ArtifactAlias | LinkAlias] = list(version.aliases.select_related("artifact__project__entity"))
    entity = version.artifact.project.entity
    if permissions.can_view_registry(_user(info), entity):
        aliases += LinkAlias.objects.filter(link__source=version).select_related("registered_model__entity")
    return aliases


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
        for tag in version.tags.all()
    ],
    "historyStep": nothing,
    "state": lambda version, info: version.state,
    "size": lambda version, info: version.size,
    "digestAlgorithm": lambda version, info: "MANIFEST_MD5",
    "commitHash": nothing,
    "fileCount": lambda version, info: version.num_files if version.is_committed else version.files.count(),
    "createdAt": lambda version, info: timestamp(version.created_at),
    "updatedAt": lambda version, info: timestamp(version.committed_at or version.created_at),
    "aliases": _version_aliases,
    "currentManifest": lambda version, info: manifest_node(_request(info), version),
    "files": lambda version, info, names=None, after=None, first=None: files_page(info, version, names, after, first),
    "createdBy": _created_by,
    "usedBy": _used_by,
}

FILE: dict[str, Resolver] = {
    "url": lambda file, info, upload=None: file.get("url") or file.get("directUrl"),
}

ORGANIZATION: dict[str, Resolver] = {
    "featureFlags": lambda org, info, rampIDType=None: [],
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
