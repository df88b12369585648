from django.conf import settings
from django.db import models
from django.urls import reverse

from artifacts import names
from artifacts.models import ArtifactVersion, Entity


def _validate_model_name(value: str) -> None:
    names.validate_name(value, "registered model name")


class RegisteredModel(models.Model):
    """A curated list of links to model versions, owned by an entity: `entity/model-registry/Name`."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="registered_models")
    name = models.CharField(max_length=128, validators=[_validate_model_name])
    type = models.CharField(max_length=64, default="model")
    description = models.TextField(blank=True, help_text="Markdown.")
    tags = models.JSONField(default=list, blank=True)
    # The next link index to hand out; never decreases, so indexes are never reused.
    next_index = models.PositiveIntegerField(default=0, editable=False)
    # Its links, kept by the services as they link and unlink, so no page counts them.
    num_versions = models.PositiveIntegerField("versions", default=0, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entity", "name"], name="unique_registered_model_name")]
        # The registry list's two sorts (registry.queries.SORTS), within the entities a user sees or over all;
        # by name within an entity is the unique constraint's index.
        indexes = [
            models.Index(fields=["entity", "-updated_at", "-id"], name="registered_model_entity_upd"),
            models.Index(fields=["-updated_at", "-id"], name="registered_model_updated"),
            models.Index(fields=["name", "entity"], name="registered_model_name"),
        ]
        ordering = ["entity_id", "name"]  # by column: through `entity` would join

    def __str__(self) -> str:
        return f"{self.entity.name}/model-registry/{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("registry:model_detail", args=[self.entity.name, self.name])


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
        rm = self.registered_model
        return reverse("registry:link_detail", args=[rm.entity.name, rm.name, self.index])

    @property
    def label(self) -> str:
        return f"v{self.index}"

    def tab_url(self, tab: str) -> str:
        rm = self.registered_model
        return reverse("registry:link_tab", args=[rm.entity.name, rm.name, self.index, tab])

    @property
    def full_name(self) -> str:
        return f"{self.registered_model.entity.name}/model-registry/{self.registered_model.name}:{self.label}"

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
