from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse

from artifacts import names
from artifacts.models import ArtifactVersion, Entity, Organization, Project, Role


def _validate_model_name(value: str) -> None:
    names.validate_name(value, "registered model name")


def validate_registry_name(value: str) -> None:
    """A registry's name, as W&B's `wandb-registry-<name>` project takes it."""
    names.validate_name(value, "registry name")
    if len(value) > Registry.MAX_NAME:
        raise ValidationError(f"A registry name has at most {Registry.MAX_NAME} characters.", code="too_long")


class Visibility(models.TextChoices):
    ORGANIZATION = "organization", "Organization"
    RESTRICTED = "restricted", "Restricted"


class Registry(models.Model):
    """W&B's current Registry: an organization's named registry (Model, Dataset or custom) holding collections.

    A collection is a RegisteredModel whose `registry` is set: linking, numbering, aliases and protection are the
    legacy registered models' own, only who may see and change it (registry roles) and which types it accepts
    (`artifact_types`) differ. Organization visibility lets every member of the organization read it (as a
    viewer); restricted, only its members. Organization admins are admins of every registry.
    """

    MAX_NAME = 64

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="registries")
    name = models.CharField(max_length=MAX_NAME, validators=[validate_registry_name])
    # Null when it was created without one: W&B answers null then, and an empty description as given.
    description = models.TextField(null=True, blank=True)
    # The artifact types its collections may hold; empty accepts every type.
    artifact_types = models.JSONField(default=list, blank=True)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.ORGANIZATION)
    # Aliases only registry admins may set or remove.
    protected_aliases = models.JSONField(default=list, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="RegistryMember", related_name="registries")
    # Its collections, kept by the services as they create and delete them, so no page counts them.
    num_collections = models.PositiveIntegerField("collections", default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="unique_registry_name")]
        ordering = ["organization_id", "name"]
        verbose_name_plural = "registries"

    def __str__(self) -> str:
        return f"{self.organization.name}/{self.project_name}"

    def get_absolute_url(self) -> str:
        return reverse("registry:registry_detail", args=[self.organization.name, self.name])

    @property
    def project_name(self) -> str:
        """The project W&B's SDK names it by: `wandb-registry-model`."""
        return f"{names.REGISTRY_PROJECT_PREFIX}{self.name}"

    def accepts(self, type: str) -> bool:
        return not self.artifact_types or type in self.artifact_types


class RegistryRole(models.TextChoices):
    """A registry's roles: a team's three, and W&B's Restricted Viewer, who sees collections and versions (their
    metadata and file lists) but neither downloads nor uses them."""

    ADMIN = Role.ADMIN.value, Role.ADMIN.label
    MEMBER = Role.MEMBER.value, Role.MEMBER.label
    VIEWER = Role.VIEWER.value, Role.VIEWER.label
    RESTRICTED_VIEWER = "restricted_viewer", "Restricted viewer"


class RegistryMember(models.Model):
    """A user given a role in a registry. They need not belong to the registry's organization (W&B's server takes
    anyone a registry admin adds); it opens this registry to them, nothing else of the organization."""

    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="registry_memberships")
    role = models.CharField(max_length=32, choices=RegistryRole.choices, default=RegistryRole.VIEWER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["registry", "user"], name="one_registry_membership")]
        ordering = ["registry_id", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.registry} ({self.role})"


class RegistryTeamMember(models.Model):
    """A team given a role in a registry: each of the team's members has that role there (at least; their own
    role, if higher, wins), for as long as they are in the team."""

    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="team_memberships")
    team = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="registry_memberships")
    role = models.CharField(max_length=32, choices=RegistryRole.choices, default=RegistryRole.VIEWER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["registry", "team"], name="one_registry_team_membership")]
        ordering = ["registry_id", "team__name"]

    def __str__(self) -> str:
        return f"{self.team} in {self.registry} ({self.role})"


def scope_filter(scope: "Entity | Registry | Project") -> dict:
    """The registered models of a scope: an entity's legacy ones (its Model Registry), a registry's collections, or
    a project's portfolios."""
    if isinstance(scope, Entity):
        return {"entity": scope, "registry": None, "project": None}
    if isinstance(scope, Project):
        return {"project": scope}
    return {"registry": scope}


def in_scope(registered_model: "RegisteredModel", scope: "Entity | Registry | Project") -> "RegisteredModel":
    """`registered_model`, read through scope_filter(scope), given the scope object it was read by, so that naming
    it or asking about its scope reads nothing more."""
    if isinstance(scope, Entity):
        registered_model.entity = scope
    elif isinstance(scope, Project):
        registered_model.project = scope
        registered_model.entity = scope.entity
    else:
        registered_model.registry = scope
    return registered_model


def scope_related(prefix: str = "") -> list[str]:
    """What select_related needs to name a registered model and ask about its scope without another query."""
    return [f"{prefix}{field}" for field in ("entity", "registry__organization__entity", "project__entity")]


# The legacy registered models of the teams' Model Registries: neither a registry's collection nor a portfolio.
LEGACY = Q(registry__isnull=True, project__isnull=True)


class RegisteredModel(models.Model):
    """A curated list of links to artifact versions, in one of three scopes:
    - a legacy registered model, `entity/model-registry/Name`, in its team's Model Registry (neither `registry`
      nor `project` set);
    - a collection of an organization's Registry, `wandb-registry-<registry>/Name`, whose entity is the
      organization's own (`registry` set);
    - a portfolio, `entity/project/Name`: what W&B's `link_artifact` makes in an ordinary project of the team
      (`project` set), readable by the project's readers.
    """

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="registered_models")
    registry = models.ForeignKey(Registry, null=True, blank=True, on_delete=models.CASCADE, related_name="collections")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="portfolios")
    name = models.CharField(max_length=128, validators=[_validate_model_name])
    type = models.CharField(max_length=64, default="model")
    # Null when never given (a collection made by linking), as W&B tells it apart from an empty one.
    description = models.TextField(null=True, blank=True, help_text="Markdown.")
    tags = models.JSONField(default=list, blank=True)
    # The next link index to hand out; never decreases, so indexes are never reused.
    next_index = models.PositiveIntegerField(default=0, editable=False)
    # Its links, kept by the services as they link and unlink, so no page counts them.
    num_versions = models.PositiveIntegerField("versions", default=0, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "name"], condition=LEGACY, name="unique_registered_model_name"),
            models.UniqueConstraint(
                fields=["registry", "name"], condition=Q(registry__isnull=False), name="unique_collection_name"
            ),
            models.UniqueConstraint(
                fields=["project", "name"], condition=Q(project__isnull=False), name="unique_portfolio_name"
            ),
            models.CheckConstraint(
                condition=Q(registry__isnull=True) | Q(project__isnull=True), name="collection_or_portfolio"
            ),
        ]
        # The Model Registry list's two sorts (registry.queries.SORTS), within the entities a user sees or over all,
        # of legacy registered models only (partial indexes: collections never crowd them); a registry's
        # collections, last updated first.
        indexes = [
            models.Index(fields=["entity", "-updated_at", "-id"], condition=LEGACY, name="registered_model_entity_upd"),
            models.Index(fields=["-updated_at", "-id"], condition=LEGACY, name="registered_model_updated"),
            models.Index(fields=["name", "entity"], condition=LEGACY, name="registered_model_name"),
            models.Index(fields=["registry", "-updated_at", "-id"], name="collection_updated"),
        ]
        ordering = ["entity_id", "name"]  # by column: through `entity` would join

    def __str__(self) -> str:
        return f"{self.entity.name}/{self.project_name}/{self.name}"

    def get_absolute_url(self) -> str:
        return self.route("model_detail")

    @property
    def is_collection(self) -> bool:
        return self.registry_id is not None

    @property
    def is_portfolio(self) -> bool:
        return self.project_id is not None

    @property
    def kind(self) -> str:
        return "collection" if self.is_collection or self.is_portfolio else "registered model"

    @property
    def project_name(self) -> str:
        if self.is_collection:
            return self.registry.project_name
        return self.project.name if self.is_portfolio else names.REGISTRY_PROJECT

    @property
    def scope(self) -> "Entity | Registry | Project":
        """Whose roles and protected aliases rule it: the team's (legacy), the registry's, or the project's."""
        if self.is_collection:
            return self.registry
        return self.project if self.is_portfolio else self.entity

    def viewable_by(self, user) -> bool:
        """Whether `user` may see it (registry.permissions; asked through the model by artifacts, which never
        imports registry)."""
        from registry import permissions

        return permissions.can_view_model(user, self)

    def route(self, name: str, *args: object) -> str:
        """The URL of one of its pages: registry:`name` for a legacy registered model, registry:collection_`name`
        for a collection (same views, addressed by organization and registry)."""
        if self.is_collection:
            return reverse(f"registry:collection_{name}", args=[self.entity.name, self.registry.name, self.name, *args])
        if self.is_portfolio:
            return reverse(f"registry:portfolio_{name}", args=[self.entity.name, self.project.name, self.name, *args])
        return reverse(f"registry:{name}", args=[self.entity.name, self.name, *args])


class Link(models.Model):
    """A registry version: a pointer from a registered model to one artifact version. Nothing is copied."""

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="links")
    index = models.PositiveIntegerField(editable=False)
    source = models.ForeignKey(ArtifactVersion, on_delete=models.PROTECT, related_name="links")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["registered_model", "index"], name="unique_link_index"),
            models.UniqueConstraint(fields=["registered_model", "source"], name="one_link_per_source"),
        ]
        ordering = ["registered_model_id", "-index"]

    def __str__(self) -> str:
        return f"{self.registered_model.name}:{self.label}"

    def get_absolute_url(self) -> str:
        return self.registered_model.route("link_detail", self.index)

    @property
    def short_name(self) -> str:
        """As the pages name it: `Name:v0` in the team's Model Registry, `<project>/Name:v0` in a registry
        (`wandb-registry-model/Name:v0`) or a project."""
        rm = self.registered_model
        return f"{rm.project_name}/{self}" if rm.is_collection or rm.is_portfolio else str(self)

    @property
    def label(self) -> str:
        return f"v{self.index}"

    def tab_url(self, tab: str) -> str:
        return self.registered_model.route("link_tab", self.index, tab)

    @property
    def full_name(self) -> str:
        """`entity/model-registry/Name:v0` (`entity/project/Name:v0` in a portfolio), or W&B's
        `wandb-registry-model/Name:v0` for a collection."""
        rm = self.registered_model
        if rm.is_collection:
            return f"{rm.project_name}/{rm.name}:{self.label}"
        return f"{rm.entity.name}/{rm.project_name}/{rm.name}:{self.label}"

    @property
    def source_name(self) -> str:
        """The Source Version as displayed: `mnist_model:v0`."""
        return f"{self.source.artifact.name}:{self.source.label}"


class LinkAlias(models.Model):
    """An alias on one link of a registered model; unique within the registered model."""

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=128)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["registered_model", "name"], name="unique_link_alias")]
        ordering = ["name"]
        verbose_name_plural = "link aliases"

    def __str__(self) -> str:
        return f"{self.registered_model.name}:{self.name}"


class Webhook(models.Model):
    """Where automations send their requests: a team's (or a registry's) endpoint, with an optional secret that
    signs each body (HMAC-SHA256) and extra headers. The secret is never shown back."""

    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks")
    registry = models.ForeignKey(Registry, null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=64)
    url = models.CharField("URL", max_length=2000)
    secret = models.CharField(max_length=256, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "name"], condition=Q(entity__isnull=False), name="unique_webhook"
            ),
            models.UniqueConstraint(
                fields=["registry", "name"], condition=Q(registry__isnull=False), name="unique_registry_webhook"
            ),
            models.CheckConstraint(
                condition=Q(entity__isnull=True) ^ Q(registry__isnull=True), name="webhook_team_or_registry"
            ),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> "Entity | Registry":
        return self.registry if self.registry_id else self.entity

    def route(self, name: str) -> str:
        return scope_route(self.scope, name, self.pk)


def scope_route(scope: "Entity | Registry", name: str, *args: object) -> str:
    """A page of a team's automations (registry:`name`) or a registry's (registry:registry_`name`)."""
    if isinstance(scope, Registry):
        return reverse(f"registry:registry_{name}", args=[scope.organization.name, scope.name, *args])
    return reverse(f"registry:{name}", args=[scope.name, *args])


class AutomationEvent(models.TextChoices):
    """What an automation watches; W&B's event types, as `${event_type}` names them."""

    LINK_CREATED = "LINK_ARTIFACT", "A new version is linked"
    ALIAS_ADDED = "ADD_ARTIFACT_ALIAS", "An alias is added"


class Automation(models.Model):
    """When an event happens in a team's Model Registry (or a registry), optionally to one registered model, send a
    payload rendered from `payload_template` to a webhook."""

    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.CASCADE, related_name="automations")
    registry = models.ForeignKey(Registry, null=True, blank=True, on_delete=models.CASCADE, related_name="automations")
    registered_model = models.ForeignKey(
        RegisteredModel, null=True, blank=True, on_delete=models.CASCADE, related_name="automations"
    )
    name = models.CharField(max_length=64)
    event = models.CharField(max_length=32, choices=AutomationEvent.choices)
    # For ALIAS_ADDED: the aliases it fires on (the whole alias must match).
    alias_pattern = models.CharField(max_length=200, blank=True)
    webhook = models.ForeignKey(Webhook, on_delete=models.PROTECT, related_name="automations")
    payload_template = models.TextField()
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "name"], condition=Q(entity__isnull=False), name="unique_automation"
            ),
            models.UniqueConstraint(
                fields=["registry", "name"], condition=Q(registry__isnull=False), name="unique_registry_automation"
            ),
            models.CheckConstraint(
                condition=Q(entity__isnull=True) ^ Q(registry__isnull=True), name="automation_team_or_registry"
            ),
        ]
        # Every link and alias change asks these which automations fire: enabled ones of the scope, by event.
        indexes = [
            models.Index(fields=["entity", "event"], condition=Q(enabled=True), name="automation_team_event"),
            models.Index(fields=["registry", "event"], condition=Q(enabled=True), name="automation_registry_event"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return self.route("automation_detail")

    @property
    def scope(self) -> "Entity | Registry":
        return self.registry if self.registry_id else self.entity

    def route(self, name: str) -> str:
        return scope_route(self.scope, name, self.pk)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One payload an automation owes its webhook: the source of truth for delivering it, whatever happens to the
    worker or its task. The payload and the event's facts are a snapshot taken when the event happened; the event
    is kept by id only (its row may live elsewhere one day)."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.PositiveBigIntegerField(null=True, blank=True)
    event_type = models.CharField(max_length=32)
    is_test = models.BooleanField(default=False)
    # What happened, as the log shows it: `MNIST:v3 production by alice`.
    summary = models.CharField(max_length=400, blank=True)
    payload = models.TextField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # While sending: the time after which a worker that has not finished is taken for dead.
    lease_until = models.DateTimeField(null=True, blank=True)
    # The latest task enqueued for it (django-tasks-db's result id).
    task_id = models.CharField(max_length=64, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["automation", "-id"], name="delivery_automation"),
            # The sweep: deliveries sending past their lease, or pending past their time.
            models.Index(fields=["status", "lease_until"], name="delivery_status_lease"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_next"),
        ]
        ordering = ["-id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.automation} #{self.pk} ({self.status})"


class DeliveryAttempt(models.Model):
    """One POST of a delivery (or a worker lost during one): what came back and how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]

    def __str__(self) -> str:
        return f"{self.delivery_id} attempt {self.number}"

    @property
    def ok(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300
