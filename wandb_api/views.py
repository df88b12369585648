"""The HTTP endpoints the `wandb` SDK calls: GraphQL, file_stream, signed uploads and downloads, telemetry."""

import logging
import zlib
from typing import Any

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from artifacts import jsonvalues, names, permissions, services, storage
from artifacts import queries as artifact_queries
from artifacts.downloads import stream_blob
from artifacts.models import ArtifactVersion, Blob, Run
from artifacts.permissions import User
from artifacts.storage import CHUNK_SIZE, blob_store
from registry import permissions as registry_permissions
from registry_site.request_body import body_stream
from registry_site.security import client_ip
from wandb_api import auth, ids, lookups, runs, schema, throttle, tokens
from wandb_api.resolvers import Context

logger = logging.getLogger(__name__)

# Bodies carry file lists, console output and history in chunks; the SDK keeps each well under this.
MAX_BODY_BYTES = 32 * 1024 * 1024
# A GraphQL request is a document and its variables (file lists included): far less.
MAX_GRAPHQL_BYTES = 8 * 1024 * 1024
SUMMARY_FILE = "wandb-summary.json"
OUTPUT_FILE = "output.log"
HISTORY_FILE = "wandb-history.jsonl"


def _unauthorized(request: HttpRequest) -> JsonResponse:
    """401 for a missing or wrong key; 429 with Retry-After (which the SDK waits out) once an address has sent
    too many wrong ones."""
    if auth.api_key(request) is not None and (wait := throttle.wrong_key_record(address=client_ip(request))):
        message = f"Too many wrong API keys from your address: try again in {wait} seconds."
        response = JsonResponse({"errors": [{"message": message}]}, status=429)
        response["Retry-After"] = str(wait)
        return response
    response = JsonResponse(
        {"errors": [{"message": "Invalid or missing API key: use a key from your profile page as WANDB_API_KEY."}]},
        status=401,
    )
    response["WWW-Authenticate"] = 'Basic realm="wandb"'
    return response


def _bad_request(message: str) -> JsonResponse:
    return JsonResponse({"errors": [{"message": message}]}, status=400)


def _drain(request: HttpRequest) -> None:
    """Read and drop a body the server has no use for, so the connection stays usable."""
    while request.read(CHUNK_SIZE):
        pass


def _read_limited(request: HttpRequest, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := request.read(CHUNK_SIZE):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ValidationError(f"The request body is larger than {limit} bytes.", code="too_large")
    data = b"".join(chunks)
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        try:
            data = inflater.decompress(data, limit + 1)
        except zlib.error:
            raise ValidationError("The request body is not valid gzip.", code="invalid_gzip") from None
        if len(data) > limit or inflater.unconsumed_tail:
            raise ValidationError(f"The request body inflates to more than {limit} bytes.", code="too_large")
    return data


@csrf_exempt
@require_POST
def graphql(request: HttpRequest) -> JsonResponse:
    """One GraphQL document per POST; the SDK names no operation, so the document itself is executed."""
    user = auth.authenticate(request)
    if user is None:
        return _unauthorized(request)
    try:
        body = jsonvalues.loads(_read_limited(request, MAX_GRAPHQL_BYTES), "request body")
    except ValidationError as exc:
        if exc.code == "invalid_json":
            return _bad_request('The body must be JSON: {"query": ..., "variables": {...}}.')
        return _bad_request(" ".join(exc.messages))
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return _bad_request('The body must be a JSON object with a "query" string.')
    variables = body.get("variables") or {}
    operation_name = body.get("operationName") or None
    if not isinstance(variables, dict) or not isinstance(operation_name, str | None):
        return _bad_request('"variables" must be an object and "operationName" a string.')
    return JsonResponse(schema.execute(body["query"], variables, operation_name, Context(request, user)))


@csrf_exempt
@require_POST
def file_stream(request: HttpRequest, entity: str, project: str, run_id: str) -> JsonResponse:
    """The live run stream: summary, console output and history are kept, each request is a heartbeat, and the
    last one (`complete`) ends the run; system metrics are dropped."""
    user = auth.authenticate(request)
    if user is None:
        return _unauthorized(request)
    try:
        run = lookups.run_for_write(user, entity, project, run_id)
    except Http404 as exc:
        return JsonResponse({"errors": [{"message": str(exc) or "Not found."}]}, status=404)
    except PermissionDenied as exc:
        return JsonResponse({"errors": [{"message": str(exc)}]}, status=403)
    try:
        body = jsonvalues.loads(_read_limited(request, MAX_BODY_BYTES), "file_stream body")
        files = _stream_files(body)
        exit_code = _stream_exit_code(body)
        summary = None
        if files.get(SUMMARY_FILE, {}).get("content"):
            summary = _stream_summary(run, files[SUMMARY_FILE]["content"][-1])
        history = files.get(HISTORY_FILE, {})
        rows = runs.history_from_wandb(history.get("content", []))
        output = files.get(OUTPUT_FILE, {})
        with transaction.atomic():
            if summary is not None:
                services.run_update(run=run, user=user, summary=summary)
            if output.get("content"):
                services.run_write_output(run=run, user=user, offset=output["offset"], lines=output["content"])
            if rows:
                services.run_history_write(run=run, user=user, offset=history["offset"], rows=rows)
            if exit_code is None:
                services.run_heartbeat(run=run, user=user)
            else:
                services.run_finish(run=run, user=user, exit_code=exit_code)
    except ValidationError as exc:
        return _bad_request(f"Invalid file_stream body: {' '.join(exc.messages)}")
    return JsonResponse({"exitcode": None, "limits": {}})


def _stream_files(body: Any) -> dict[str, dict[str, Any]]:
    """The `files` of a file_stream body, each `{"offset": int >= 0, "content": [str, ...]}`, or ValidationError."""
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object.")
    files = body.get("files") or {}
    if not isinstance(files, dict):
        raise ValidationError('"files" must be an object of file name -> {"offset", "content"}.')
    for name, part in files.items():
        if not isinstance(part, dict):
            raise ValidationError(f'"{name}" must be an object with "offset" and "content".')
        offset, content = part.setdefault("offset", 0), part.setdefault("content", [])
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValidationError(f'The "offset" of "{name}" must be a non-negative integer.')
        if not isinstance(content, list) or not all(isinstance(line, str) for line in content):
            raise ValidationError(f'The "content" of "{name}" must be a list of strings.')
    return files


def _stream_exit_code(body: dict[str, Any]) -> int | None:
    """The exit code of a body that ends the run (`"complete": true`), else None."""
    complete, exit_code = body.get("complete", False), body.get("exitcode") or 0
    if not isinstance(complete, bool):
        raise ValidationError('"complete" must be true or false.')
    if not isinstance(exit_code, int) or isinstance(exit_code, bool):
        raise ValidationError('"exitcode" must be an integer.')
    return exit_code if complete else None


def _stream_summary(run: Run, line: str) -> dict[str, Any] | None:
    """The summary in the stream's last summary line. One too large to keep is dropped, with a warning, rather
    than refused: a 4xx makes the SDK stop streaming for the rest of the run."""
    try:
        return runs.summary_from_wandb(line)
    except ValidationError as exc:
        if exc.code != "too_large":
            raise
        logger.warning("Dropped the summary of run %s: %s", run.run_id, " ".join(exc.messages))
        return None


def _version_or_404(pk: int) -> ArtifactVersion:
    if (version := artifact_queries.version_with_project(pk)) is None:
        raise Http404("No such version.")
    return version


def _upload_artifact_file(request: HttpRequest, user: User, payload: dict[str, Any]) -> HttpResponse:
    version = _version_or_404(payload["version"])
    project = version.artifact.project
    permissions.require_change_project(user, project)
    if version.is_committed:
        _drain(request)
        return HttpResponse("The version is already committed.", status=409, content_type="text/plain")
    # The path is checked before any byte is stored (a refused upload keeps nothing), and the bytes against the
    # MD5 the SDK declared (a mismatch stores nothing).
    services.version_files_add(version=version, files={payload["path"]: None}, user=user)
    blob = blob_store(body_stream(request), expected_md5=payload["md5"])
    services.version_file_add(version=version, path=payload["path"], blob=blob, user=user)
    return HttpResponse(status=200)


def _upload_artifact_part(request: HttpRequest, user: User, payload: dict[str, Any]) -> HttpResponse:
    """One part of a file sent in parts through the app: checked against the MD5 declared for it, staged, and
    answered with that MD5 as its ETag (which the SDK reports when it completes the upload)."""
    version = _version_or_404(payload["version"])
    permissions.require_change_project(user, version.artifact.project)
    upload = services.version_upload_part(
        version=version, upload_id=payload["upload"], number=payload["part"], user=user
    )
    md5 = upload.part_md5s[payload["part"] - 1]
    storage.part_store(body_stream(request), upload.key, payload["part"], md5_hex=md5)
    return HttpResponse(status=200, headers={"ETag": f'"{md5}"'})


def _upload_run_file(request: HttpRequest, user: User, payload: dict[str, Any]) -> HttpResponse:
    run = get_object_or_404(Run.objects.select_related("project__entity"), pk=payload["run"])
    permissions.require_change_project(user, run.project)
    if payload["name"] == SUMMARY_FILE:
        raw = _read_limited(request, runs.MAX_JSON_CHARS).decode()
        services.run_update(run=run, user=user, summary=runs.summary_from_wandb(raw))
    elif payload["name"] == OUTPUT_FILE:
        # The session's whole console file, sent at the end: only needed when nothing was streamed (a
        # resumed run's file holds only its last session). Keep its tail, never the whole file in memory.
        tail = b""
        while chunk := request.read(CHUNK_SIZE):
            tail = (tail + chunk)[-Run.MAX_OUTPUT_CHARS * 4 :]
        if not run.output_log:
            services.run_update(run=run, user=user, output_log=tail.decode(errors="replace"))
    else:
        _drain(request)
    return HttpResponse(status=200)


def _upload_manifest(request: HttpRequest, user: User, payload: dict[str, Any]) -> HttpResponse:
    version = _version_or_404(payload["manifest"])
    permissions.require_change(user, version.artifact.project.entity, visible=True)
    if version.is_committed:
        _drain(request)
        return HttpResponse(status=200)
    # Downloads get a manifest made from the stored files (manifest_json), so the SDK's copy is not kept; but a
    # draft made from an earlier version lists files it never uploads, because the entity already stores them.
    # The whole manifest is checked before any file is added, and added in one transaction.
    manifest = jsonvalues.loads(_read_limited(request, MAX_BODY_BYTES), "manifest")
    contents = manifest.get("contents") if isinstance(manifest, dict) else None
    if not isinstance(contents, dict):
        raise ValidationError('The manifest must be a JSON object with "contents": {path: entry}.')
    present = set(version.files.values_list("path", flat=True))
    if storage.direct_transfers():
        # Sent straight to the object store: checked and added when the version commits.
        present |= set(version.staged_uploads.values_list("path", flat=True))
    entity = version.artifact.project.entity
    missing: dict[str, Blob] = {}
    references: dict[str, dict] = {}
    extras: dict[str, Any] = {}
    for path, entry in contents.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
            raise ValidationError(f"The manifest entry for '{path}' must be an object with a digest.")
        if entry.get("ref") is not None:
            references[path] = entry
            continue
        if entry.get("extra"):
            extras[path] = entry["extra"]
        if names.normalize_file_path(path) in present:
            continue
        blob = services.blob_for_dedupe(entity=entity, md5=entry["digest"])
        if blob is None:
            raise ValidationError(
                f"The manifest lists '{path}', whose bytes were never uploaded or are missing or corrupt on the "
                "server: add the file itself again."
            )
        missing[path] = blob
    with transaction.atomic():
        services.version_files_add(version=version, files=missing, user=user)
        if references:
            services.version_references_set(version=version, references=references, user=user)
        services.version_digest_from_manifest(
            version=version, md5_by_path={path: entry["digest"] for path, entry in contents.items()}, user=user
        )
        services.version_file_extras_set(version=version, extras=extras, user=user)
    return HttpResponse(status=200)


@csrf_exempt
@require_http_methods(["PUT"])
def upload(request: HttpRequest, token: str) -> HttpResponse:
    """A signed upload URL: the token names the file and the user; the SDK sends no credentials."""
    try:
        payload = tokens.read_upload(token)
    except signing.BadSignature:
        return HttpResponse("Invalid or expired upload URL.", status=403, content_type="text/plain")
    user = artifact_queries.active_user(payload.get("user"))
    if user is None:
        return HttpResponse("Invalid upload URL.", status=403, content_type="text/plain")
    try:
        if "part" in payload:
            return _upload_artifact_part(request, user, payload)
        if "version" in payload:
            return _upload_artifact_file(request, user, payload)
        if "run" in payload:
            return _upload_run_file(request, user, payload)
        if "manifest" in payload:
            return _upload_manifest(request, user, payload)
    except (ValueError, ValidationError) as exc:
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return HttpResponse(message, status=400, content_type="text/plain")
    except PermissionDenied as exc:
        return HttpResponse(str(exc), status=403, content_type="text/plain")
    return HttpResponse("Invalid upload URL.", status=403, content_type="text/plain")


def manifest_json(version: ArtifactVersion) -> dict[str, Any]:
    """W&B's manifest (version 1, storage layout V2) of a version, made from its stored files."""
    birth = ids.encode("Artifact", version.pk)
    extras = version.file_extras or {}
    return {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {
            "storageLayout": "V2",
            **({"storageRegion": version.storage_region} if version.storage_region else {}),
        },
        "contents": {
            **{
                f.path: {
                    "digest": f.blob.md5,
                    "size": f.blob.size,
                    "birthArtifactID": birth,
                    **({"extra": extras[f.path]} if f.path in extras else {}),
                }
                for f in version.files.select_related("blob").order_by("path")
            },
            **{
                r.path: {"digest": r.digest, "ref": r.ref, "size": r.size, **({"extra": r.extra} if r.extra else {})}
                for r in version.references.order_by("path")
            },
        },
    }


@require_GET
def download(request: HttpRequest, token: str, name: str | None = None) -> HttpResponse:
    """A signed download URL, issued to a user who may read the version (the SDK sends no credentials). The name
    after the token is the file's, for the reader; the token's own says what is served."""
    try:
        payload = tokens.read_download(token)
    except signing.BadSignature:
        return HttpResponse("Invalid or expired download URL.", status=403, content_type="text/plain")
    if "blob" in payload:
        blob = get_object_or_404(Blob, sha256=payload["blob"])
        return stream_blob(request, blob, filename=payload.get("name") or "file")
    if "manifest" in payload:
        version = get_object_or_404(ArtifactVersion, pk=payload["manifest"])
        return JsonResponse(manifest_json(version))
    return HttpResponse("Invalid download URL.", status=403, content_type="text/plain")


@require_GET
def artifact_file(
    request: HttpRequest,
    region: str,
    entity: str,
    project: str,
    collection: str,
    birth_id: str,
    md5_hex: str,
    name: str,
    artifact_id: str | None = None,
) -> HttpResponse:
    """One file, as the SDK fetches an entry that came without a download URL (`entry.download()`): found by
    the version (its own id, else the one that first stored the file) and the file's MD5, with the SDK's API key.
    The path's entity, project and collection are the SDK's view of where the version is shown (a project or
    a registry); the version's own project decides who may read it."""
    user = auth.authenticate(request)
    if user is None:
        return _unauthorized(request)
    version = lookups.version_by_id(user, artifact_id or birth_id)
    if version is not None and not registry_permissions.can_download_version(user, version):
        return JsonResponse({"errors": [{"message": "Restricted viewers may not download files."}]}, status=403)
    try:
        md5 = storage.b64_md5(bytes.fromhex(md5_hex)) if len(md5_hex) == 32 else None
    except ValueError:
        md5 = None
    file = None
    if version is not None and md5 is not None:
        file = version.files.select_related("blob").filter(blob__md5=md5).order_by("path").first()
    if file is None:
        return JsonResponse({"errors": [{"message": "No such file."}]}, status=404)
    return stream_blob(request, file.blob, filename=name)


@csrf_exempt
@require_POST
def telemetry(request: HttpRequest, kind: str) -> HttpResponse:
    """The SDK's OpenTelemetry metrics and logs: accepted and dropped."""
    _drain(request)
    return HttpResponse(status=200)
