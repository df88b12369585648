"""Mutation resolvers: each translates W&B's input to one domain service call (artifacts/registry services).

Every mutation that writes runs in one transaction, so a failure half-way writes nothing; those that only check
and answer (createArtifactManifest, createArtifactFiles for bytes still to upload) take none, which on SQLite
would hold the write lock. Errors raised here (Http404,
PermissionDenied, ValidationError) become GraphQL errors in views.graphql.
"""

import contextlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404

from artifacts import names, permissions, services, storage
from artifacts.models import (
    Artifact,
    ArtifactVersion,
    DeletedRun,
    Entity,
    Organization,
    Role,
    Run,
    RunState,
    StagedUpload,
)
from artifacts.permissions import User
from registry import permissions as registry_permissions
from registry import queries as registry_queries
from registry import services as registry_services
from registry.models import Link, RegisteredModel, Registry, Visibility, scope_related
from wandb_api import ids, lookups, runs, tokens
from wandb_api.lookups import REGISTRY_PROJECT, MembershipNode
from wandb_api.models import DefaultEntity
from wandb_api.resolvers import TTL_DISABLED, Info, manifest_node, page_info, run_creator_of, tag_nodes

Input = dict[str, Any]
DEFAULT_PROJECT = "uncategorized"


def atomic(resolver: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(resolver)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with transaction.atomic():
            return resolver(*args, **kwargs)

    return wrapper


def _user_aliases(aliases: list[Input] | None, collection: str | None = None) -> list[str]:
    """The aliases a user asked for; `latest` is the system's and is dropped, not rejected, as the SDK sends it."""
    return [
        a["alias"]
        for a in aliases or []
        if a["alias"] != names.LATEST and (collection is None or a["artifactCollectionName"] == collection)
    ]


def _entity_or_404(entity_name: str | None) -> Entity:
    """The named entity; the services decide what the user may do in it (with the same 404 for what they may
    not see as for what does not exist)."""
    if not entity_name:
        raise ValidationError(
            "You belong to no entity yet: pass entity= to wandb.init, or ask an admin to add you to a team."
        )
    entity = Entity.objects.filter(name=entity_name).first()
    if entity is None:
        raise Http404("No such project.")
    return entity


@atomic
def upsert_bucket(_: None, info: Info, input: Input) -> dict[str, Any]:
    """Create the run (`wandb.init`, running unless `state` says pending) or update its config, summary and tags
    (during and at the end of the run; tags only when sent). A run's state is set when it is created, then by its
    stream (views.file_stream)."""
    user = info.context.user
    run = None
    if input.get("id"):
        run = Run.objects.select_related("project__entity").filter(pk=ids.decode_int(input["id"], "Run")).first()
        if run is None or not permissions.can_view_project(user, run.project):
            raise Http404(f"No run with id {input['id']!r}.")
    else:
        entity_name = input.get("entityName") or getattr(lookups.default_entity(user), "name", None)
        project_name = input.get("modelName") or DEFAULT_PROJECT
        entity = _entity_or_404(entity_name)
        project = services.project_get_or_create(entity=entity, name=project_name, user=user)
        if input.get("name"):
            run = Run.objects.select_related("project__entity").filter(project=project, run_id=input["name"]).first()
    config = runs.config_from_wandb(input.get("config"))
    summary = runs.summary_from_wandb(input.get("summaryMetrics"))
    if run is not None:
        lookups.run_for_write(user, run.project.entity.name, run.project.name, run.run_id)
        run = services.run_update(
            run=run,
            user=user,
            config=config,
            summary=summary,
            display_name=input.get("displayName"),
            job_type=input.get("jobType"),
            tags=input.get("tags"),
        )
        return {"bucket": run, "inserted": False}
    run = services.run_create(
        project=project,
        user=user,
        run_id=input.get("name"),
        display_name=input.get("displayName") or "",
        job_type=input.get("jobType") or "",
        config=config,
        tags=input.get("tags") or (),
        state=input.get("state") or RunState.RUNNING,
    )
    if summary:
        run = services.run_update(run=run, user=user, summary=summary)
    return {"bucket": run, "inserted": True}


def delete_run(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`api.run(path).delete(delete_artifacts=...)` (services.run_delete), also of a run deleted before."""
    user = info.context.user
    pk = ids.decode_int(input["id"], "Run")
    run = Run.objects.select_related("project__entity").filter(pk=pk).first()
    run = run or DeletedRun.objects.select_related("project__entity").filter(run_pk=pk).first()
    if run is None:
        raise Http404(f"No run with id {input['id']!r}.")
    services.run_delete(run=run, user=user, delete_artifacts=bool(input.get("deleteArtifacts")))
    return {"clientMutationId": input.get("clientMutationId")}


def create_run_files(_: None, info: Info, input: Input) -> dict[str, Any]:
    """Upload URLs for the run's files; the summary among them is stored, the rest is accepted and dropped."""
    user = info.context.user
    run = lookups.run_for_write(user, input["entityName"], input["projectName"], input["runName"])
    request = info.context.request
    return {
        "runID": ids.encode("Run", run.pk),
        "uploadHeaders": [],
        "files": [
            {"name": name, "uploadUrl": tokens.upload_url(request, run=run.pk, name=name, user=user.pk)}
            for name in input["files"]
        ],
    }


def mark_run_files_uploaded(_: None, info: Info, input: Input) -> dict[str, Any]:
    lookups.run_for_write(info.context.user, input["entityName"], input["projectName"], input["runName"])
    return {"success": True}


def create_artifact(_: None, info: Info, input: Input) -> dict[str, Any]:
    """A new pending version, or the committed one with the same digest (then the SDK uploads nothing). Not
    wrapped in a transaction: version_create checks (the store too) before its own, short, write."""
    user = info.context.user
    if input.get("digestAlgorithm") not in (None, "MANIFEST_MD5"):
        raise ValidationError("Only the MANIFEST_MD5 digest algorithm is supported.", code="unsupported")
    # Without a run (W&B's API allows it) the version is logged into the project, by no run.
    run, project = None, None
    if input.get("runName"):
        run = lookups.run_for_write(user, input["entityName"], input["projectName"], input["runName"])
    else:
        project = lookups.project_for_write(user, input["entityName"], input["projectName"])
    name = _collection_name(input)
    result = services.version_create(
        run=run,
        project=project,
        user=user,
        name=name,
        type=input["artifactTypeName"],
        digest=input["digest"],
        metadata=runs.parse_json_object(input.get("metadata"), "metadata"),
        description=input.get("description") or "",
        aliases=_user_aliases(input.get("aliases"), name),
        tags=_tag_names(input.get("tags")),
        history_step=input.get("historyStep"),
        # wandb-core sends "" for an artifact without one.
        client_id=input.get("clientID") or None,
        storage_region=input.get("storageRegion") or "",
        distributed_id=input.get("distributedID") or "",
    )
    return {"artifact": result.version}


def _collection_name(input: Input) -> str:
    """The one collection a new version goes to: the SDK's Go core sends `artifactCollectionName`, its Python
    API (an artifact logged by `wandb.Api().run(...)`) a list, `artifactCollectionNames`, of one name."""
    given = {input["artifactCollectionName"]} if input.get("artifactCollectionName") else set()
    given |= set(input.get("artifactCollectionNames") or ())
    if len(given) != 1:
        raise ValidationError(
            "Name exactly one collection for the new version (artifactCollectionName or artifactCollectionNames).",
            code="invalid",
        )
    return given.pop()


def _tag_names(tags: list[Input] | None) -> list[str]:
    return [tag["tagName"] for tag in tags or ()]


def create_artifact_manifest(_: None, info: Info, input: Input) -> dict[str, Any]:
    """The manifest's id and an upload URL. The uploaded manifest adds the files it lists that the entity
    already stores (a draft's carried-over files); downloads get a manifest made from the files. An INCREMENTAL
    manifest adds to its base version (the artifact's latest; none for its first version); a PATCH manifest is one
    run's part of a distributed version."""
    version = lookups.version_for_change(info.context.user, input["artifactID"])
    if input.get("type") == "PATCH" and not version.distributed_id:
        raise ValidationError("A PATCH manifest is a part of a distributed artifact (distributed_id).", code="invalid")
    if input.get("type") == "INCREMENTAL" and input.get("baseArtifactID"):
        base = lookups.committed_version_for_write(info.context.user, input["baseArtifactID"])
        services.version_base_set(version=version, base=base, user=info.context.user)
    request = info.context.request
    return {
        "artifactManifest": manifest_node(
            request, version, tokens.upload_url(request, manifest=version.pk, user=info.context.user.pk)
        )
    }


def update_artifact_manifest(_: None, info: Info, input: Input) -> dict[str, Any]:
    artifact_id = ids.encode("Artifact", ids.decode(input["artifactManifestID"], "ArtifactManifest"))
    version = lookups.version_for_change(info.context.user, artifact_id)
    request = info.context.request
    return {
        "artifactManifest": manifest_node(
            request, version, tokens.upload_url(request, manifest=version.pk, user=info.context.user.pk)
        )
    }


def create_artifact_files(_: None, info: Info, input: Input) -> dict[str, Any]:
    """Per file, a signed upload URL, or none when the entity already stores those bytes intact (added at once);
    bytes missing from the store or marked bad are asked for again, and their upload repairs them. The store is
    asked before the transaction that adds the files, so no write lock is held while it answers."""
    user = info.context.user
    request = info.context.request
    versions: dict[str, Any] = {}
    # Per version, each path -> the bytes the entity already stores (added at once), or None (to upload). All
    # paths of a version are checked together, so a bad one adds none.
    adds: dict[str, dict[str, Any]] = {}
    for spec in input["artifactFiles"]:
        if spec["artifactID"] not in versions:
            versions[spec["artifactID"]] = lookups.version_for_change(user, spec["artifactID"])
        version = versions[spec["artifactID"]]
        if not version.is_committed:
            blob = services.blob_for_dedupe(entity=version.artifact.project.entity, md5=spec["md5"])
            adds.setdefault(spec["artifactID"], {})[spec["name"]] = blob
    # Bytes to upload go to a staging name first (services.version_uploads_expect) when they go straight to the
    # object store (S3_DIRECT: a presigned PUT, adopted when the version commits) or in parts (files of 2 GiB and
    # more, for which the SDK sends each part's MD5): presigned part URLs with S3_DIRECT, else the app's own.
    direct = storage.direct_transfers()
    staged: dict[tuple[str, str], StagedUpload] = {}
    # Files whose bytes are all to be uploaded through the app are only checked now: no write, no transaction.
    writes = direct or any(spec.get("uploadPartsInput") for spec in input["artifactFiles"])
    writes = writes or any(blob is not None for files in adds.values() for blob in files.values())
    with transaction.atomic() if writes else contextlib.nullcontext():
        for artifact_id, files in adds.items():
            services.version_files_add(version=versions[artifact_id], files=files, user=user)
            to_stage = [
                spec
                for spec in input["artifactFiles"]
                if spec["artifactID"] == artifact_id
                and files.get(spec["name"], False) is None
                and (direct or spec.get("uploadPartsInput"))
            ]
            if to_stage:
                uploads = services.version_uploads_expect(
                    version=versions[artifact_id],
                    md5_by_path={spec["name"]: spec["md5"] for spec in to_stage},
                    parts_by_path={
                        spec["name"]: _part_md5s(spec["uploadPartsInput"])
                        for spec in to_stage
                        if spec.get("uploadPartsInput")
                    },
                    user=user,
                )
                for path, upload in uploads.items():
                    staged[artifact_id, path] = upload
    for upload in staged.values():
        services.version_upload_begin(upload)
    edges = []
    for spec in input["artifactFiles"]:
        version = versions[spec["artifactID"]]
        path = spec["name"]
        upload_url, upload_headers, parts = None, [], None
        upload = staged.get((spec["artifactID"], path))
        if upload is not None and upload.in_parts:
            # The whole file may also come through the app's own URL; the SDK sends the parts.
            upload_url = tokens.upload_url(request, version=version.pk, path=path, md5=spec["md5"], user=user.pk)
            parts = {"uploadID": upload.upload_id, "uploadUrlParts": _part_urls(request, version, upload, user)}
        elif upload is not None:
            upload_url, upload_headers = storage.presigned_upload(
                upload.key, md5=spec["md5"], expires=tokens.UPLOAD_MAX_AGE
            )
        elif not version.is_committed and adds[spec["artifactID"]][path] is None:
            upload_url = tokens.upload_url(request, version=version.pk, path=path, md5=spec["md5"], user=user.pk)
        node = {
            "id": ids.encode("File", f"{version.pk}-{path}"),
            "name": path,
            "displayName": path.rsplit("/", 1)[-1],
            "url": None,
            "directUrl": None,
            "sizeBytes": None,
            "digest": spec["md5"],
            "md5": spec["md5"],
            "mimetype": spec.get("mimetype"),
            "updatedAt": None,
            "storagePath": f"{version.artifact.project.entity.name}/{spec['md5']}",
            "uploadUrl": upload_url,
            "uploadHeaders": upload_headers,
            "uploadMultipartUrls": parts,
            "artifact": version,
        }
        edges.append({"node": node, "cursor": path})
    return {"files": {"totalCount": len(edges), "pageInfo": page_info(None, False), "edges": edges}}


def _part_md5s(parts: list[dict[str, Any]]) -> list[str]:
    """The SDK's parts (number and hex MD5 each) as the hex MD5s in part order; numbered 1 to N, once each."""
    by_number = {int(part["partNumber"]): str(part["hexMD5"]).lower() for part in parts}
    if sorted(by_number) != list(range(1, len(parts) + 1)):
        raise ValidationError("The parts must be numbered 1 to N, each once.", code="invalid_parts")
    return [by_number[number] for number in range(1, len(parts) + 1)]


def _part_urls(request: Any, version: ArtifactVersion, upload: StagedUpload, user: User) -> list[dict[str, Any]]:
    urls = []
    for number, md5 in enumerate(upload.part_md5s, start=1):
        if upload.upload_id != upload.key:  # the object store's own upload (storage.direct_transfers)
            url = storage.presigned_part(
                upload.key, upload_id=upload.upload_id, number=number, md5_hex=md5, expires=tokens.UPLOAD_MAX_AGE
            )
        else:
            url = tokens.upload_url(request, version=version.pk, upload=upload.upload_id, part=number, user=user.pk)
        urls.append({"partNumber": number, "uploadUrl": url})
    return urls


def complete_multipart_upload_artifact(_: None, info: Info, input: Input) -> dict[str, Any]:
    """After the SDK sent every part of a file: join them, check them and add the file (or abort the upload)."""
    user = info.context.user
    version = lookups.version_for_change(user, input["artifactID"])
    parts: dict[int, str] = {}
    for part in input["completedParts"]:
        number = int(part["partNumber"])
        if number in parts:
            raise ValidationError(f"Part {number} is reported twice.", code="invalid_parts")
        parts[number] = part["hexMD5"]
    digest = services.version_upload_complete(
        version=version,
        upload_id=input["uploadID"],
        part_md5s=parts,
        user=user,
        abort=input["completeMultipartAction"] == "Abort",
    )
    return {"digest": digest}


def commit_artifact(_: None, info: Info, input: Input) -> dict[str, Any]:
    user = info.context.user
    version = lookups.version_for_write(user, input["artifactID"])
    return {"artifact": services.version_commit(version=version, user=user)}


def _is_registry_project(name: str | None) -> bool:
    """`wandb-registry-<name>`: a registry of an organization (the SDK's own test, `is_registry_path`)."""
    return bool(name) and name.startswith(names.REGISTRY_PROJECT_PREFIX) and name != names.REGISTRY_PROJECT_PREFIX


def link_artifact(_: None, info: Info, input: Input) -> dict[str, Any]:
    """Link a committed version to `<entity>/model-registry/<name>`, to a registry's collection
    `<org entity>/wandb-registry-<registry>/<name>` or to a collection of a project `<entity>/<project>/<name>`
    (created when missing). Not wrapped in a
    transaction: link_version checks without writing, then writes in its own, so on SQLite the write lock is
    held only for the writes."""
    user = info.context.user
    if not input.get("artifactID"):
        raise ValidationError("artifactID is required: this server does not map client ids.", code="required")
    version = lookups.committed_version_for_write(user, input["artifactID"])
    aliases = _user_aliases(input.get("aliases"))
    if input.get("artifactPortfolioID"):
        pk = ids.decode_int(input["artifactPortfolioID"], "ArtifactPortfolio")
        registered_model = RegisteredModel.objects.select_related("entity").filter(pk=pk).first()
        if registered_model is None:
            # The same answer as for one the user may not see (registry_services.link_check).
            raise Http404("No such registered model.")
        result = registry_services.link_version(
            version=version, user=user, registered_model=registered_model, aliases=aliases
        )
    elif _is_registry_project(input.get("projectName")):
        # A collection of an organization's registry, `<org entity>/wandb-registry-<name>/<collection>`.
        node = lookups.project_node(user, input.get("entityName"), input["projectName"])
        if node is None or node.registry is None:
            raise Http404(f"No registry {input.get('entityName')}/{input['projectName']}.")
        result = registry_services.link_version(
            version=version,
            user=user,
            registry=node.registry,
            registered_model_name=input.get("artifactPortfolioName") or "",
            aliases=aliases,
        )
    else:
        own = version.artifact.project.entity
        entity_name = input.get("entityName") or own.name
        entity = own if entity_name == own.name else Entity.objects.filter(name=entity_name).first()
        if entity is None:
            # The same answer as for an entity whose registry the user may not see (registry_services.link_check).
            raise Http404("No such registered model.")
        project_name = input.get("projectName") or REGISTRY_PROJECT
        target = {"version": version, "user": user, "aliases": aliases}
        target["registered_model_name"] = input.get("artifactPortfolioName") or ""
        if project_name == REGISTRY_PROJECT:
            result = registry_services.link_version(entity=entity, **target)
        else:
            # A collection (portfolio) of an ordinary project, `<entity>/<project>/<name>`.
            result = registry_services.link_version_into_project(entity=entity, project_name=project_name, **target)
    link = result.link
    # The SDK's answer lists the membership's aliases and (includeAliases, true by default here) the version's in
    # every collection: read together, once.
    registry_queries.version_memberships(user, link.source)
    return {"versionIndex": link.index, "artifactMembership": MembershipNode(link.source, link)}


def use_artifact(_: None, info: Info, input: Input) -> dict[str, Any]:
    user = info.context.user
    run = lookups.run_for_write(user, input["entityName"], input["projectName"], input["runName"])
    version = lookups.committed_version_for_write(user, input["artifactID"])
    registry_permissions.require_download_version(user, version)
    services.version_use(run=run, version=version, user=user)
    return {"artifact": version}


# W&B's "inherit the collection's TTL" value; this server has no TTLs, so only "none" values are accepted.
TTL_INHERIT = -1


@atomic
def update_artifact(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`Artifact.save()` of a committed version: its description, metadata and tags (services.version_update);
    a TTL or aliases sent here are refused (no TTLs; aliases have their own mutations)."""
    user = info.context.user
    version = lookups.committed_version_for_write(user, input["artifactID"])
    if input.get("ttlDurationSeconds") not in (None, TTL_INHERIT, TTL_DISABLED):
        raise ValidationError("This server does not expire versions: a TTL cannot be set.", code="unsupported")
    if input.get("aliases") is not None:
        raise ValidationError("Set aliases with addAliases and deleteAliases.", code="unsupported")
    version = services.version_update(
        version=version,
        user=user,
        description=input.get("description"),
        metadata=runs.parse_json_object(input.get("metadata"), "metadata"),
        tags_add=_tag_names(input.get("tagsToAdd")),
        tags_remove=_tag_names(input.get("tagsToDelete")),
    )
    return {"artifact": version}


def _alias_target(user: User, version: ArtifactVersion, alias: Input) -> ArtifactVersion | Link:
    """What an alias of `version` in the named collection is set on: the version itself in its own
    artifact, or its link in a registered model (`<entity>/model-registry/<name>`)."""
    path = f"{alias['entityName']}/{alias['projectName']}/{alias['artifactCollectionName']}"
    node = lookups.project_node(user, alias["entityName"], alias["projectName"])
    collection = lookups.collection_in(node, alias["artifactCollectionName"]) if node else None
    if isinstance(collection, RegisteredModel):
        link = Link.objects.filter(registered_model=collection, source=version).select_related(
            *scope_related("registered_model__")
        )
        if found := link.first():
            return found
    elif isinstance(collection, Artifact) and collection.pk == version.artifact_id:
        return version
    raise Http404(f"{version} is not a version of {path}.")


def _change_aliases(info: Info, input: Input, *, on_link: Callable[..., Any], on_version: Callable[..., Any]) -> None:
    """Each alias goes to its collection: an artifact's through the artifact service, a registered model's
    (`<entity>/model-registry/<name>`) through the registry service. All or none (callers are atomic)."""
    user = info.context.user
    version = lookups.committed_version_for_write(user, input["artifactID"])
    for alias in input["aliases"]:
        target = _alias_target(user, version, alias)
        if isinstance(target, Link):
            on_link(link=target, name=alias["alias"], user=user)
        else:
            on_version(version=target, name=alias["alias"], user=user)


@atomic
def add_aliases(_: None, info: Info, input: Input) -> dict[str, Any]:
    _change_aliases(info, input, on_link=registry_services.link_alias_set, on_version=services.alias_set)
    return {"success": True}


@atomic
def delete_aliases(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`latest` is the system's: `Artifact.save()` asks to delete it when the user's new list of aliases leaves
    it out (W&B accepts that), and it stays where it is."""
    input = {**input, "aliases": [a for a in input["aliases"] if a["alias"] != names.LATEST]}
    _change_aliases(info, input, on_link=registry_services.link_alias_remove, on_version=services.alias_remove)
    return {"success": True}


def delete_artifact(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`Artifact.delete(delete_aliases=...)` of a project version: the pages' Delete (services.version_delete)."""
    user = info.context.user
    version = lookups.committed_version_for_write(user, input["artifactID"])
    services.version_delete(version=version, user=user, delete_aliases=bool(input.get("deleteAliases")))
    return {"artifact": {"id": input["artifactID"]}}


def unlink_artifact(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`Artifact.unlink()` (and `delete()`) of a registry version: the pages' Unlink (registry link_delete)."""
    user = info.context.user
    version = lookups.committed_version_for_write(user, input["artifactID"])
    pk = ids.decode_int(input["artifactPortfolioID"], "ArtifactPortfolio")
    links = Link.objects.select_related(*scope_related("registered_model__"))
    link = links.filter(registered_model_id=pk, source=version).first()
    if link is None:
        raise Http404("This version is not linked to that registered model.")
    registry_services.link_delete(link=link, user=user)
    return {"success": True}


def _sequence(input: Input) -> Artifact:
    pk = ids.decode_int(input["artifactSequenceID"], "ArtifactSequence")
    artifact = Artifact.objects.select_related("project__entity").filter(pk=pk).first()
    if artifact is None:
        # The same answer as for one the user may not see (the services' permission checks).
        raise Http404("No such artifact collection.")
    return artifact


def update_artifact_sequence(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`ArtifactCollection.save()` of an artifact: its name and description. The SDK sends both on every save, a
    description never given as null, which leaves it as it is (as for registries): an empty one clears it."""
    artifact = services.artifact_update(
        artifact=_sequence(input),
        user=info.context.user,
        name=input.get("name"),
        description=input.get("description"),
    )
    return {"artifactCollection": artifact}


def move_artifact_sequence(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`ArtifactCollection.save()` (or `change_type()`) of an artifact with another type."""
    artifact = services.artifact_type_change(
        artifact=_sequence(input), user=info.context.user, type=input["destinationArtifactTypeName"]
    )
    return {"artifactCollection": artifact}


def update_artifact_portfolio(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`ArtifactCollection.save()` of a registered model (a registry's or a project's collection): its name and
    description; a description never given comes back null, which leaves it as it is (as for artifacts)."""
    user = info.context.user
    registered_model = registry_services.registered_model_update(
        registered_model=lookups.portfolio_for_write(user, input["artifactPortfolioID"]),
        user=user,
        name=input.get("name"),
        description=input.get("description"),
    )
    return {"artifactCollection": registered_model}


def delete_artifact_sequence(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`ArtifactCollection.delete()` of an artifact: every version (services.artifact_delete)."""
    user = info.context.user
    artifact = lookups.sequence_for_write(user, input["artifactSequenceID"])
    services.artifact_delete(artifact=artifact, user=user)
    return {"artifactCollection": artifact}


def delete_artifact_portfolio(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`ArtifactCollection.delete()` of a registered model: its links go, the versions stay (the pages' Delete)."""
    user = info.context.user
    registered_model = lookups.portfolio_for_write(user, input["artifactPortfolioID"])
    registry_services.registered_model_delete(registered_model=registered_model, user=user)
    return {"artifactCollection": registered_model}


def _collection_for_tags(user: User, input: Input) -> Artifact | RegisteredModel:
    node = lookups.project_node(user, input["entityName"], input["projectName"])
    collection = lookups.collection_in(node, input["artifactCollectionName"]) if node else None
    if collection is None:
        raise Http404("No such artifact collection.")
    return collection


def _collection_tags_change(user: User, input: Input, *, add: bool) -> Artifact | RegisteredModel:
    """`ArtifactCollection.save()` with other tags: an artifact's (services.artifact_tags_change), or a registered
    model's or registry collection's (the tags of registry.services.registered_model_update)."""
    collection = _collection_for_tags(user, input)
    tags = _tag_names(input["tags"])
    if isinstance(collection, Artifact):
        change = {"add": tags} if add else {"remove": tags}
        return services.artifact_tags_change(artifact=collection, user=user, **change)
    kept = collection.tags + tags if add else [tag for tag in collection.tags if tag not in tags]
    return registry_services.registered_model_update(registered_model=collection, user=user, tags=kept)


def create_artifact_collection_tag_assignments(_: None, info: Info, input: Input) -> dict[str, Any]:
    collection = _collection_tags_change(info.context.user, input, add=True)
    added = set(_tag_names(input["tags"]))
    return {"tags": [node for node in tag_nodes(collection) if node["name"] in added]}


def delete_artifact_collection_tag_assignments(_: None, info: Info, input: Input) -> dict[str, Any]:
    _collection_tags_change(info.context.user, input, add=False)
    return {"success": True}


# The organization's registries (W&B's current Registry), which the SDK names as projects of the organization's
# own entity. Its `access` values and this server's visibilities.
ACCESS = {"PRIVATE": Visibility.ORGANIZATION, "RESTRICTED": Visibility.RESTRICTED}


def _registry_name(project_name: str | None) -> str:
    if not _is_registry_project(project_name):
        raise ValidationError(
            f"Only registries ('{names.REGISTRY_PROJECT_PREFIX}<name>') are created, changed or renamed here, "
            f"not {project_name!r}.",
            code="unsupported",
        )
    return project_name.removeprefix(names.REGISTRY_PROJECT_PREFIX)


def _organization_of_entity(user: User, entity_name: str | None) -> Organization:
    entity = Entity.objects.filter(name=entity_name or "").first()
    organization = registry_queries.organization_for_user(user, entity=entity) if entity else None
    if organization is None:
        raise Http404(f"No organization whose entity is {entity_name!r}.")
    return organization


def _visibility(access: str | None) -> str | None:
    if access is None:
        return None
    if access not in ACCESS:
        raise ValidationError(f"A registry's access is one of {', '.join(ACCESS)}, not {access!r}.", code="invalid")
    return ACCESS[access]


@atomic
def upsert_model(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`api.create_registry()` and `registry.save()`: create the registry (its creator becomes its admin member,
    as W&B lists them), or change its description, visibility and accepted types. Types sent are added to those
    it accepts (the SDK sends only new ones); allowing all types clears the list."""
    user = info.context.user
    name = _registry_name(input.get("name"))
    organization = _organization_of_entity(user, input.get("entityName"))
    types = [t["name"] for t in input.get("artifactTypes") or []]
    allow_all = input.get("allowAllArtifactTypesInRegistry")
    visibility = _visibility(input.get("access"))
    registry = Registry.objects.filter(organization=organization, name=name).first()
    if registry is None or not registry_permissions.can_view(user, registry):
        registry = registry_services.registry_create(
            organization=organization,
            name=name,
            user=user,
            description=input.get("description"),
            artifact_types=[] if allow_all else types,
            visibility=visibility or Visibility.ORGANIZATION,
        )
        registry_services.registry_member_set(registry=registry, user=user, role=Role.ADMIN)
        inserted = True
    else:
        if allow_all:
            artifact_types = []
        elif types or allow_all is False:
            artifact_types = list(dict.fromkeys([*registry.artifact_types, *types]))
        else:
            artifact_types = None
        registry = registry_services.registry_update(
            registry=registry,
            user=user,
            description=input.get("description"),
            artifact_types=artifact_types,
            visibility=visibility,
        )
        inserted = False
    registry = Registry.objects.select_related("organization__entity").get(pk=registry.pk)
    node = lookups.organization_registry_node(registry)
    return {"project": node, "model": node, "inserted": inserted}


@atomic
def rename_project(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`registry.save()` after `registry.name = ...`: rename a registry (its collections and links move with it)."""
    user = info.context.user
    new_name = _registry_name(input["newProjectName"])
    _registry_name(input["oldProjectName"])
    node = lookups.project_node(user, input["entityName"], input["oldProjectName"])
    if node is None or node.registry is None:
        raise Http404(f"No registry {input['entityName']}/{input['oldProjectName']}.")
    registry = registry_services.registry_update(registry=node.registry, user=user, name=new_name)
    node = lookups.organization_registry_node(registry)
    return {"project": node, "model": node, "inserted": False}


@atomic
def delete_model(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`registry.delete()`: the registry with its collections and links (the source versions stay)."""
    registry = lookups.registry_by_id(info.context.user, input["id"])
    if registry is None:
        raise Http404(f"No registry with id {input['id']!r}.")
    registry_services.registry_delete(registry=registry, user=info.context.user)
    return {"success": True}


def _registry_for_members(user: User, project_id: str) -> Registry:
    registry = lookups.registry_by_id(user, project_id)
    if registry is None:
        raise Http404(f"No registry with id {project_id!r}.")
    return registry


def _users(user_ids: list[str] | None) -> list[User]:
    pks = [ids.decode_int(user_id, "User") for user_id in user_ids or []]
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=pks, is_active=True)}
    missing = [pk for pk in pks if pk not in users]
    if missing:
        raise Http404(f"No user with id {ids.encode('User', missing[0])!r}.")
    return [users[pk] for pk in pks]


def _teams(team_ids: list[str] | None) -> list[Entity]:
    pks = [ids.decode_int(team_id, "Entity") for team_id in team_ids or []]
    teams = Entity.objects.in_bulk(pks)
    missing = [pk for pk in pks if pk not in teams]
    if missing:
        raise Http404(f"No team with id {ids.encode('Entity', missing[0])!r}.")
    return [teams[pk] for pk in pks]


@atomic
def create_project_members(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`registry.add_members(...)`: users and teams join as viewers (W&B's default on a self-hosted server); those
    already in keep their role."""
    actor = info.context.user
    registry = _registry_for_members(actor, input["projectId"])
    registry_services.registry_members_add(
        registry=registry, actor=actor, users=_users(input.get("userIds")), teams=_teams(input.get("teamIds"))
    )
    return {"success": True}


@atomic
def delete_project_members(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`registry.remove_members(...)`: removing someone who is not a member succeeds (the SDK's contract)."""
    actor = info.context.user
    registry = _registry_for_members(actor, input["projectId"])
    registry_services.registry_members_remove(
        registry=registry, actor=actor, users=_users(input.get("userIds")), teams=_teams(input.get("teamIds"))
    )
    return {"success": True}


@atomic
def update_project_member(_: None, info: Info, input: Input) -> dict[str, Any]:
    actor = info.context.user
    registry = _registry_for_members(actor, input["projectId"])
    (user,) = _users([input["userId"]])
    registry_services.registry_member_set(registry=registry, user=user, role=input["userProjectRole"], actor=actor)
    return {"success": True}


@atomic
def update_project_team_member(_: None, info: Info, input: Input) -> dict[str, Any]:
    actor = info.context.user
    registry = _registry_for_members(actor, input["projectId"])
    (team,) = _teams([input["teamId"]])
    registry_services.registry_team_member_set(registry=registry, team=team, role=input["teamProjectRole"], actor=actor)
    return {"success": True}


@atomic
def create_team(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`api.create_team(name, admin_username=)`: a new team outside every organization (site admins only)."""
    entity = services.team_create(
        name=input.get("teamName") or "", actor=info.context.user, admin_username=input.get("teamAdminUserName")
    )
    return {"entity": entity}


@atomic
def update_user(_: None, info: Info, input: Input) -> dict[str, Any]:
    """The viewer's settings: only `defaultEntity` (the entity the SDK uses when none is given), one they belong to.
    The row is this API's own (wandb_api.models.DefaultEntity)."""
    user = info.context.user
    others = sorted(k for k, v in input.items() if v is not None and k not in ("defaultEntity", "clientMutationId"))
    if others or input.get("id") not in (None, ids.encode("User", user.pk)):
        raise ValidationError(
            f"Only defaultEntity can be set here, not {', '.join(others) or 'id'}.", code="unsupported"
        )
    if input.get("defaultEntity") is not None:
        entity = Entity.objects.filter(name=input["defaultEntity"]).first()
        if entity is None or not permissions.can_view_entity(user, entity):
            raise Http404(f"No entity {input['defaultEntity']!r}.")
        DefaultEntity.objects.update_or_create(user=user, defaults={"entity": entity})
    return {"user": user}


@atomic
def create_invite(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`team.invite(username_or_email, admin=)`: an existing user joins the team at once (no pending invites);
    the team's admins only (services.membership_add)."""
    entity = _entity_or_404(input.get("entityName"))
    who = input.get("username") or input.get("email") or ""
    user = get_user_model().objects.filter(Q(username=who) | Q(email__iexact=who), is_active=True).first()
    if user is None:
        raise ValidationError(f"There is no user {who!r}.", code="unknown_user")
    role = Role.ADMIN if input.get("admin") else Role.MEMBER
    membership = services.membership_add(
        entity=entity, username=user.get_username(), role=role, actor=info.context.user
    )
    return {
        "invite": {
            "id": ids.encode("Invite", membership.pk),
            "name": user.get_username(),
            "email": user.email,
            "createdAt": None,
            "toUser": run_creator_of(user),
        }
    }


@atomic
def delete_invite(_: None, info: Info, input: Input) -> dict[str, Any]:
    """`Member.delete()`: take a member (by their user id, as the team's members list them) out of the team."""
    entity = _entity_or_404(input.get("entityName"))
    user = get_user_model().objects.filter(pk=ids.decode_int(input.get("id"), "User")).first()
    if user is None:
        raise Http404(f"No user with id {input.get('id')!r}.")
    services.membership_remove(entity=entity, user=user, actor=info.context.user)
    return {"success": True}


MUTATION: dict[str, Callable[..., Any]] = {
    "upsertBucket": upsert_bucket,
    "createRunFiles": create_run_files,
    "markRunFilesUploaded": mark_run_files_uploaded,
    "deleteRun": delete_run,
    "createArtifact": create_artifact,
    "createArtifactManifest": create_artifact_manifest,
    "updateArtifactManifest": update_artifact_manifest,
    "createArtifactFiles": create_artifact_files,
    "commitArtifact": commit_artifact,
    "completeMultipartUploadArtifact": complete_multipart_upload_artifact,
    "linkArtifact": link_artifact,
    "useArtifact": use_artifact,
    "updateArtifact": update_artifact,
    "addAliases": add_aliases,
    "deleteAliases": delete_aliases,
    "deleteArtifact": delete_artifact,
    "unlinkArtifact": unlink_artifact,
    "updateArtifactSequence": update_artifact_sequence,
    "moveArtifactSequence": move_artifact_sequence,
    "updateArtifactPortfolio": update_artifact_portfolio,
    "deleteArtifactSequence": delete_artifact_sequence,
    "deleteArtifactPortfolio": delete_artifact_portfolio,
    "createArtifactCollectionTagAssignments": create_artifact_collection_tag_assignments,
    "deleteArtifactCollectionTagAssignments": delete_artifact_collection_tag_assignments,
    "upsertModel": upsert_model,
    "renameProject": rename_project,
    "deleteModel": delete_model,
    "createProjectMembers": create_project_members,
    "deleteProjectMembers": delete_project_members,
    "updateProjectMember": update_project_member,
    "updateProjectTeamMember": update_project_team_member,
    "createTeam": create_team,
    "updateUser": update_user,
    "createInvite": create_invite,
    "deleteInvite": delete_invite,
}
