import secrets
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from artifacts import names

M = TypeVar("M", bound=models.Model)


def insert_or_update(model: type[M], values: dict[str, Any], **lookup: Any) -> M:
    """The row that `lookup` names (a unique constraint), with `values`. Inserted in the common case: one INSERT
    in a savepoint, where update_or_create reads first, in two. When the constraint says the row exists (written
    before, or by a concurrent request), it is updated and read. Call it in a transaction (the services do): the
    update and the read then see the same row."""
    try:
        with transaction.atomic():
            return model.objects.create(**lookup, **values)
    except IntegrityError:
        if not model.objects.filter(**lookup).update(**values):
            raise
        return model.objects.get(**lookup)


def _validate_project_name(value: str) -> None:
    names.validate_project_name(value)


def _validate_artifact_name(value: str) -> None:
    names.validate_name(value, "artifact name")


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


class Entity(models.Model):
    """A team (or one user's space) that owns projects and registered models."""

    name = models.CharField(max_length=64, unique=True, validators=[names.validate_entity_name])
    description = models.TextField(blank=True)
    # The organization the team belongs to: its registries (W&B's current Registry) take this team's versions.
    organization = models.ForeignKey(
        "Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="teams"
    )
    # Registry aliases only entity admins may set or remove.
    protected_aliases = models.JSONField(default=list, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="entities")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "entities"

    def __str__(self) -> str:
        return self.name


class Organization(models.Model):
    """W&B's organization: it owns teams and registries. Its registries live in an entity of its own (W&B's
    `orgEntity`, named as the organization), as projects `wandb-registry-<name>`. Its members and admins are the
    members and admins of its teams."""

    name = models.CharField(max_length=64, unique=True, validators=[names.validate_entity_name])
    entity = models.OneToOneField(
        Entity, on_delete=models.PROTECT, related_name="organization_of", help_text="Holds the registries."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entity", "user"], name="one_membership_per_user")]
        ordering = ["entity__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.entity} ({self.role})"


class Project(models.Model):
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=128, validators=[_validate_project_name])
    description = models.TextField(blank=True)
    is_public = models.BooleanField(default=False, help_text="Readable by anyone, not only the entity's members.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entity", "name"], name="unique_project_name")]
        ordering = ["entity_id", "name"]  # by column: through `entity` would join

    def __str__(self) -> str:
        return f"{self.entity.name}/{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("artifacts:project_detail", args=[self.entity.name, self.name])


def new_run_id() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


class RunState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    # Ended with a non-zero exit code.
    FAILED = "failed", "Failed"
    # Never stored: a running run whose client stopped sending heartbeats (Run.RUNNING_UNTIL) reads as crashed.
    CRASHED = "crashed", "Crashed"


class Run(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    run_id = models.CharField(
        max_length=names.MAX_RUN_ID_LENGTH, default=new_run_id, validators=[names.validate_run_id]
    )
    display_name = models.CharField(max_length=255, blank=True)
    job_type = models.CharField(max_length=64, blank=True)
    config = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    # The console output the SDK streams: its newest lines (at most MAX_OUTPUT_CHARS characters), and how many
    # older lines were cut from the head, so line offsets keep their meaning.
    output_log = models.TextField(blank=True)
    output_lines_cut = models.PositiveIntegerField(default=0, editable=False)
    # A run the server makes itself (link_model, the demo) is done when made; the SDK's runs start running, and
    # their stream says when they end (services.run_heartbeat, run_finish).
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.FINISHED)
    # When the client last said the run is alive (written at most every HEARTBEAT_INTERVAL).
    heartbeat_at = models.DateTimeField(default=timezone.now, editable=False)
    # The history (HistoryRow) as kept by services.run_history_write: how many lines the SDK has sent (its offset
    # when resuming), the highest step, and each metric's value types with how many rows hold them.
    history_line_count = models.PositiveBigIntegerField(default=0, editable=False)
    history_last_step = models.BigIntegerField(null=True, blank=True, editable=False)
    history_keys = models.JSONField(default=dict, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    MAX_OUTPUT_CHARS = 1_000_000
    # A running run not heard from for this long has crashed (the SDK sends a heartbeat every 30 seconds).
    RUNNING_UNTIL = timedelta(minutes=5)
    HEARTBEAT_INTERVAL = timedelta(seconds=30)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "run_id"], name="unique_run_id")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.display_name or self.run_id

    def get_absolute_url(self) -> str:
        return reverse("artifacts:run_detail", args=[self.project.entity.name, self.project.name, self.run_id])

    @property
    def output_line_count(self) -> int:
        """Lines of console output so far, counting those cut from the head."""
        return self.output_lines_cut + (self.output_log.count("\n") + 1 if self.output_log else 0)

    @property
    def current_state(self) -> str:
        """The stored state, except that a running run whose heartbeat stopped has crashed."""
        if self.state == RunState.RUNNING and self.heartbeat_at < timezone.now() - self.RUNNING_UNTIL:
            return RunState.CRASHED
        return self.state


class DeletedRun(models.Model):
    """What is left of a deleted run (services.run_delete): W&B keeps deleted runs, so deleting one again succeeds,
    and with `deleteArtifacts` then deletes the versions it logged, which the first deletion kept."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deleted_runs")
    run_id = models.CharField(max_length=names.MAX_RUN_ID_LENGTH)
    # The deleted row's primary key: the SDK names runs by it (`Run:<pk>`), and keys are never reused.
    run_pk = models.BigIntegerField(unique=True)
    # The versions it logged that the deletion kept (ids; those deleted or linked later are checked again).
    kept_versions = models.JSONField(default=list, blank=True)
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    deleted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.run_id} (deleted)"


class RunTag(models.Model):
    # The unique constraint's index serves lookups by run.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="tags", db_index=False)
    name = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="unique_run_tag")]
        # In the order they were given.
        ordering = ["run_id", "id"]

    def __str__(self) -> str:
        return self.name


class HistoryRow(models.Model):
    """One step of a run's history (a `run.log` call): its values as JSON, `_step`, `_runtime`, `_timestamp`
    included. Read by step or by line, through indexes, so a page of rows costs the same in any run."""

    # The unique constraint's index (run, step) serves lookups by run; one more index would slow every write.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="history", db_index=False)
    step = models.BigIntegerField()
    # The row's line in the SDK's history file: 0, 1, 2... without gaps, so evenly spaced samples are found by
    # index (steps may leave gaps).
    line = models.BigIntegerField()
    data = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "step"], name="unique_history_step")]
        indexes = [models.Index(fields=["run", "line"], name="history_row_line")]
        ordering = ["run_id", "step"]
        verbose_name_plural = "history rows"

    def __str__(self) -> str:
        return f"{self.run} step {self.step}"


class BlobStatus(models.TextChoices):
    OK = "ok", "OK"
    # The stored bytes do not hash to the blob's SHA-256 (or have another size).
    BAD = "bad", "Corrupt"
    MISSING = "missing", "Missing"


class Blob(models.Model):
    """Bytes stored once, keyed by SHA-256; shared by every file that holds the same content.

    Only a blob whose status is OK is served or reused; a bad or missing one is repaired by the next upload of
    the same content (storage.blob_store).
    """

    sha256 = models.CharField(max_length=64, primary_key=True)
    # Base64 MD5, the per-file digest of the W&B protocol.
    md5 = models.CharField(max_length=24, db_index=True)
    size = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=BlobStatus.choices, default=BlobStatus.OK, db_index=True)
    # When the stored bytes were last hashed whole: when stored, by verify_blobs, or by a download that found
    # them corrupt (a good download writes nothing).
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sha256

    @property
    def is_ok(self) -> bool:
        return self.status == BlobStatus.OK

    @property
    def storage_key(self) -> str:
        return blob_key(self.sha256)


def blob_key(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class Artifact(models.Model):
    """A named, typed collection of versions in a project (W&B's artifact collection)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=128, validators=[_validate_artifact_name])
    type = models.CharField(max_length=64, validators=[_validate_artifact_name], db_index=True)
    # Null until one is given: W&B answers null then, and an empty description as given.
    description = models.TextField(null=True, blank=True)
    # W&B's collection tags (names.validate_tag), in the order they were added; kept on the row like a registered
    # model's, as they are few and always read with it.
    tags = models.JSONField(default=list, blank=True)
    # The next version index to hand out; never decreases, so indexes are never reused.
    next_index = models.PositiveIntegerField(default=0, editable=False)
    # Committed versions, kept by the services as they commit and delete, so no page counts them.
    num_versions = models.PositiveIntegerField("versions", default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_artifact_name")]
        # By column, not through the relation: ordering through `project` would join and sort by its ordering.
        ordering = ["project_id", "type", "name"]

    def __str__(self) -> str:
        return f"{self.project}/{self.name}"

    def get_absolute_url(self) -> str:
        p = self.project
        return reverse("artifacts:artifact_detail", args=[p.entity.name, p.name, self.type, self.name])

    @property
    def is_model(self) -> bool:
        return names.is_model_type(self.type)


class VersionState(models.TextChoices):
    PENDING = "PENDING", "Pending"
    COMMITTED = "COMMITTED", "Committed"


class CommittedVersions(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(state=VersionState.COMMITTED)


class ArtifactVersion(models.Model):
    """An immutable set of files plus metadata. Its index is given when it is committed."""

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="versions")
    index = models.PositiveIntegerField(null=True, blank=True, editable=False)
    state = models.CharField(max_length=16, choices=VersionState.choices, default=VersionState.PENDING)
    digest = models.CharField(max_length=32, editable=False)
    description = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Aliases asked for while the version is pending; applied when it is committed.
    pending_aliases = models.JSONField(default=list, blank=True, editable=False)
    # A pending version whose content was committed meanwhile by another writer: it stays (invisible) as a
    # pointer, so a client still holding its id finds the version its content became.
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="+", editable=False
    )
    # A distributed version (W&B's `run.upsert_artifact(..., distributed_id=...)`): while pending, every run that
    # logs the artifact with this id adds its entries to it; committed by `finish_artifact`, with the digest of
    # what they sent together.
    distributed_id = models.CharField(max_length=128, blank=True, editable=False)
    # A pending incremental version (W&B's `Artifact(incremental=True)`): the committed version of the same
    # artifact whose entries it adds to; they are merged in when it commits (services.version_commit), and the
    # base is cleared. Deleting the base deletes increments still pending on it, which could no longer complete.
    base = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="+", editable=False)
    size = models.BigIntegerField(default=0, editable=False)
    num_files = models.PositiveIntegerField(default=0, editable=False)
    created_by_run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="logged_versions"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # The storage region the client logged it for (W&B's storagePolicyConfig.storageRegion, one of
    # settings.STORAGE_REGIONS); empty when it named none. Handed back in its manifest.
    storage_region = models.CharField(max_length=64, blank=True, editable=False)
    # The logging run's history step when it was logged (W&B's historyStep, which the SDK sends from step 1 on).
    history_step = models.BigIntegerField(null=True, blank=True, editable=False)
    # The `extra` of its manifest's file entries (`path -> object`), as the SDK uploaded them; handed back in the
    # manifest downloads make from the files. Reference entries keep theirs on ArtifactReference.
    file_extras = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    committed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = models.Manager()
    committed = CommittedVersions()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["artifact", "index"], name="unique_version_index"),
            models.UniqueConstraint(
                fields=["artifact", "digest"],
                condition=Q(state="COMMITTED"),
                name="unique_committed_digest",
            ),
            models.CheckConstraint(
                condition=Q(state="PENDING") | Q(index__isnull=False), name="committed_version_has_index"
            ),
        ]
        ordering = ["artifact_id", "-index"]

    def __str__(self) -> str:
        return f"{self.artifact.name}:{self.label}"

    def get_absolute_url(self) -> str:
        return reverse("artifacts:version_detail", args=self._args())

    @property
    def label(self) -> str:
        return "pending" if self.index is None else f"v{self.index}"

    @property
    def full_name(self) -> str:
        p = self.artifact.project
        return f"{p.entity.name}/{p.name}/{self.artifact.name}:{self.label}"

    @property
    def is_committed(self) -> bool:
        return self.state == VersionState.COMMITTED

    def _args(self) -> list:
        a = self.artifact
        return [a.project.entity.name, a.project.name, a.type, a.name, self.index]

    def tab_url(self, tab: str) -> str:
        return reverse("artifacts:version_tab", args=[*self._args(), tab])

    def file_url(self, path: str) -> str:
        return reverse("artifacts:version_file_download", args=[*self._args(), path])


class VersionClientId(models.Model):
    """The id the W&B SDK gave a version when it asked to log it (`clientID`). Until the server's id reaches it,
    the SDK names the version by this one, e.g. in a reference of another artifact it logs
    (`wandb-client-artifact://<client id>/<path>`), and asks the server which version it is (`clientIDMapping`).
    Logging content that is already committed maps the id to that version."""

    client_id = models.CharField(
        max_length=names.MAX_CLIENT_ID_LENGTH, unique=True, validators=[names.validate_client_id]
    )
    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="client_ids")

    def __str__(self) -> str:
        return self.client_id


class ArtifactFile(models.Model):
    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=names.MAX_PATH_LENGTH, validators=[names.validate_file_path])
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="files")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "path"], name="unique_file_path")]
        ordering = ["path"]

    def __str__(self) -> str:
        return self.path


class ArtifactReference(models.Model):
    """A manifest entry that points at bytes stored elsewhere (W&B's reference entries: `s3://`, `gs://`,
    `http(s)://`, `file://`, or `wandb-artifact://` for an entry of another version). Kept as the client sent
    it, digest included, and counted in the version's digest; the server never fetches it: clients do."""

    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="references")
    path = models.CharField(max_length=names.MAX_PATH_LENGTH, validators=[names.validate_file_path])
    ref = models.CharField(max_length=names.MAX_REF_LENGTH)
    digest = models.CharField(max_length=128)
    size = models.BigIntegerField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "path"], name="unique_reference_path")]
        ordering = ["path"]

    def __str__(self) -> str:
        return f"{self.path} -> {self.ref}"


class VersionTag(models.Model):
    """A label on a version (W&B's artifact tags): any number per version, editable after commit."""

    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=names.MAX_TAG_LENGTH, validators=[names.validate_tag], db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "name"], name="unique_version_tag")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StagedUpload(models.Model):
    """A file of a pending version whose bytes are on their way to a staging name (`key`) in the store, either
    straight to the object store through a presigned URL (S3 with S3_DIRECT), or in parts (files of 2 GiB and
    more, `part_md5s` set). Nothing refers to those bytes until they are checked against `md5`: when the parts
    are completed (services.version_upload_complete) or the version commits (services.version_commit)."""

    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="staged_uploads")
    path = models.CharField(max_length=names.MAX_PATH_LENGTH, validators=[names.validate_file_path])
    md5 = models.CharField(max_length=24)
    key = models.CharField(max_length=255, unique=True)
    # In parts: the hex MD5 of each part, in order, and the upload's id (the object store's multipart upload
    # on S3 with S3_DIRECT; else the parts are staged beside `key`, see storage.part_name).
    part_md5s = models.JSONField(default=list, blank=True)
    upload_id = models.CharField(max_length=1024, blank=True)
    # Set while one request completes the parts (minutes for a huge file): a client's retry waits for it.
    completing_at = models.DateTimeField(null=True, blank=True)
    # The parts were completed and the file added: a client's late retry of the completion is answered again.
    completed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "path"], name="unique_staged_upload_path")]

    def __str__(self) -> str:
        return self.path

    @property
    def in_parts(self) -> bool:
        return bool(self.part_md5s)


class ArtifactAlias(models.Model):
    """A movable name on one version; unique within its artifact."""

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="aliases")
    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=128)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["artifact", "name"], name="unique_artifact_alias")]
        ordering = ["name"]
        verbose_name_plural = "artifact aliases"

    def __str__(self) -> str:
        return f"{self.artifact.name}:{self.name}"


class ArtifactUsage(models.Model):
    """A run consumed a version: the other half of lineage."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="usages")
    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="usages")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "version"], name="unique_usage")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.run} used {self.version}"


class ArtifactOutput(models.Model):
    """A run logged a version that was already committed with the same content (by another run, or by none):
    W&B lists it among that run's logged artifacts too. The version's `created_by_run` stays the first."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="outputs")
    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="outputs")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "version"], name="unique_output")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.run} logged {self.version}"


class ApiKey(models.Model):
    """A secret for the SDK; only its SHA-256 is stored, the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class EventKind(models.TextChoices):
    """What an event records. The link and alias values are W&B-automation-facing names: they never change."""

    LINK_CREATED = "link.created", "Linked"
    LINK_REMOVED = "link.removed", "Unlinked"
    ALIAS_SET = "alias.set", "Alias set"
    ALIAS_MOVED = "alias.moved", "Alias moved"
    ALIAS_REMOVED = "alias.removed", "Alias removed"
    VERSION_CREATED = "version.created", "Version created"
    VERSION_EDITED = "version.edited", "Version edited"
    VERSION_DELETED = "version.deleted", "Version deleted"
    ARTIFACT_EDITED = "artifact.edited", "Artifact edited"
    ARTIFACT_DELETED = "artifact.deleted", "Artifact deleted"
    MODEL_CREATED = "model.created", "Created"
    MODEL_EDITED = "model.edited", "Edited"
    MODEL_DELETED = "model.deleted", "Deleted"
    REGISTRY_CREATED = "registry.created", "Registry created"
    REGISTRY_EDITED = "registry.edited", "Registry edited"
    REGISTRY_DELETED = "registry.deleted", "Registry deleted"
    MEMBER_ADDED = "member.added", "Member added"
    MEMBER_CHANGED = "member.changed", "Member's role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    PROTECTED_ALIAS_ADDED = "protected_alias.added", "Protected alias added"
    PROTECTED_ALIAS_REMOVED = "protected_alias.removed", "Protected alias removed"


# The kinds a registered model's (collection's) History filters by; the others concern artifacts or settings, or
# (`model.deleted`) a model whose History is gone with it: the admin lists those.
MODEL_EVENT_KINDS = [
    EventKind.MODEL_CREATED,
    EventKind.MODEL_EDITED,
    EventKind.LINK_CREATED,
    EventKind.LINK_REMOVED,
    EventKind.ALIAS_SET,
    EventKind.ALIAS_MOVED,
    EventKind.ALIAS_REMOVED,
]


class Event(models.Model):
    """One change, recorded by the service that made it, in its transaction (artifacts.events): who (kept by name
    too, for when the user is gone, and how they acted: `via` a run or an API key), when, what (by id and label),
    the alias, and what it was before and after (`{"version": "v3"}`). Rows are never edited.

    Registry events name their registered model (collection) by a plain id, not a foreign key: artifacts never
    imports registry, and a registered model's history, its deletion included, outlives it. A registry-scope
    event (members, protected aliases) names its registry by `object_id`. Artifact events point at their artifact
    and version, set null when those are deleted (the label stays)."""

    kind = models.CharField(max_length=32, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=200, blank=True, help_text="The run or API key the actor acted through.")
    created_at = models.DateTimeField()
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    registered_model_id = models.PositiveBigIntegerField("registered model", null=True, blank=True)
    # The link (registry version) of a registry event, or the registry of a settings event, by id: the event
    # outlives it.
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    object_label = models.CharField(max_length=300, blank=True)
    artifact = models.ForeignKey(Artifact, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    # An artifact event's version; a registry event's source version.
    version = models.ForeignKey(
        ArtifactVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="events", db_index=False
    )
    alias = models.CharField(max_length=128, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        # A registered model's History, newest first (filtered by alias or kind within it); a version's events.
        indexes = [
            models.Index(fields=["registered_model_id", "-created_at", "-id"], name="event_registered_model_time"),
            models.Index(fields=["version", "-created_at", "-id"], name="event_version_time"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_label} {self.alias}".strip()

    @property
    def version_before(self) -> str:
        return (self.before or {}).get("version", "")

    @property
    def version_after(self) -> str:
        return (self.after or {}).get("version", "")

    @property
    def changes(self) -> list[tuple[str, object, object]]:
        """An edit's changed fields: (field, before, after), in the order the after lists them."""
        before, after = self.before or {}, self.after or {}
        return [(field, before.get(field), after.get(field)) for field in dict.fromkeys([*after, *before])]

    @property
    def metadata_keys(self) -> list[str]:
        """A version edit's metadata keys added, removed or changed."""
        return sorted({*(self.before or {}).get("metadata", []), *(self.after or {}).get("metadata", [])})
