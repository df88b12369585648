"""Staff manage every concept here; anything with a rule goes through the services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from artifacts import names, permissions, services, storage
from artifacts.models import (
    ApiKey,
    Artifact,
    ArtifactAlias,
    ArtifactFile,
    ArtifactUsage,
    ArtifactVersion,
    Blob,
    BlobStatus,
    DeletedRun,
    Entity,
    Event,
    Membership,
    Project,
    Role,
    Run,
    VersionState,
)
from artifacts.templatetags.artifact_tags import humansize

# Each search word adds a condition per search field: a thousand words make a query too deep for the database.
MAX_SEARCH_WORDS = 10


class ModelAdmin(admin.ModelAdmin):
    """The admin of every concept here: searches use at most MAX_SEARCH_WORDS words."""

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        search_term = " ".join(search_term.split()[:MAX_SEARCH_WORDS])
        return super().get_search_results(request, queryset, search_term)

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """An action on selected ids that are not ids (`_selected_action=abc`) is a message, not a 500."""
        try:
            return super().response_action(request, queryset)
        except (ValueError, ValidationError):
            self.message_user(request, "The selection is not valid: choose the rows again.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MembershipFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors) or self.instance.pk is None:
            return
        kept = [
            f.cleaned_data
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("role") == Role.ADMIN
        ]
        if Membership.objects.filter(entity=self.instance, role=Role.ADMIN).exists() and not kept:
            raise ValidationError(f"'{self.instance}' must keep at least one admin.")


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 1
    # Raw ids, not autocomplete: Django's autocomplete widget fails (500) on a posted id that is not a number.
    raw_id_fields = ["user"]


class EntityForm(forms.ModelForm):
    class Meta:
        model = Entity
        fields = ["name", "description", "protected_aliases"]

    def clean_protected_aliases(self) -> list[str]:
        value = self.cleaned_data.get("protected_aliases")
        if not isinstance(value, list) or not all(isinstance(alias, str) for alias in value):
            raise ValidationError('Protected aliases are a JSON list of alias names, e.g. ["production"].')
        for alias in value:
            names.validate_alias(alias)
        return list(dict.fromkeys(value))


@admin.register(Entity)
class EntityAdmin(ModelAdmin):
    """Members and protected aliases change through the same services as the team settings page."""

    form = EntityForm
    list_display = ["name", "num_members", "num_projects", "created_at"]
    search_fields = ["name", "description"]
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(_members=Count("memberships", distinct=True), _projects=Count("projects", distinct=True))
        )

    @admin.display(ordering="_members", description="Members")
    def num_members(self, obj: Entity) -> int:
        return obj._members

    @admin.display(ordering="_projects", description="Projects")
    def num_projects(self, obj: Entity) -> int:
        return obj._projects

    def save_model(self, request: HttpRequest, obj: Entity, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.save()
            return
        wanted = obj.protected_aliases
        obj.protected_aliases = Entity.objects.values_list("protected_aliases", flat=True).get(pk=obj.pk)
        obj.save()
        for alias in [a for a in obj.protected_aliases if a not in wanted]:
            services.entity_protected_alias_remove(entity=obj, name=alias, actor=request.user)
        for alias in [a for a in wanted if a not in obj.protected_aliases]:
            services.entity_protected_alias_add(entity=obj, name=alias, actor=request.user)

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: object, change: bool) -> None:
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        entity = form.instance
        # A new entity has no admin yet: whoever may add entities in the admin sets its first members.
        actor = request.user if change else None
        removed = []
        # What the admin's change message lists.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        # Admins are granted first, so handing the admin role over in one save never leaves the entity without one.
        for f in sorted(formset.forms, key=lambda f: (f.cleaned_data or {}).get("role") != Role.ADMIN):
            data = f.cleaned_data
            if not data or (f.instance.pk is None and not f.has_changed()):
                continue
            if data.get("DELETE"):
                if f.instance.pk is not None:
                    removed.append(f.instance.user)
                continue
            if f.instance.pk is not None and f.instance.user_id != data["user"].pk:
                removed.append(Membership.objects.get(pk=f.instance.pk).user)
            if f.has_changed():
                saved = services.membership_set(entity=entity, user=data["user"], role=data["role"], actor=actor)
                if f.instance.pk is None:
                    formset.new_objects.append(saved)
                else:
                    formset.changed_objects.append((saved, f.changed_data))
        for user in removed:
            services.membership_remove(entity=entity, user=user, actor=request.user)
            formset.deleted_objects.append(user)


@admin.register(Membership)
class MembershipAdmin(ModelAdmin):
    list_display = ["user", "entity", "role"]
    list_filter = ["role", "entity"]
    search_fields = ["user__username", "entity__name"]
    raw_id_fields = ["user", "entity"]

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        return ["entity", "user"] if obj else []

    def save_model(self, request: HttpRequest, obj: Membership, form: forms.ModelForm, change: bool) -> None:
        saved = services.membership_set(entity=obj.entity, user=obj.user, role=obj.role, actor=request.user)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove(entity=obj.entity, user=obj.user, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset.select_related("entity", "user"):
            self.delete_model(request, obj)


class RunInline(ReadOnlyInline):
    model = Run
    fields = ["run_id", "display_name", "job_type", "created_at"]
    readonly_fields = fields


@admin.register(Project)
class ProjectAdmin(ModelAdmin):
    list_display = ["name", "entity", "is_public", "created_at"]
    list_filter = ["is_public", "entity"]
    search_fields = ["name", "entity__name", "description"]
    list_select_related = ["entity"]
    inlines = [RunInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Project | None = None) -> list[str]:
        # Moving a project to another entity would carry its versions out of their registered models' entity.
        return ["entity"] if obj else []


@admin.register(Run)
class RunAdmin(ModelAdmin):
    list_display = ["run_id", "display_name", "project", "job_type", "state", "created_by", "created_at"]
    list_filter = ["state", "job_type", "project__entity"]
    search_fields = ["run_id", "display_name", "project__name"]
    list_select_related = ["project__entity", "created_by"]
    # Config, summary, state, tags and history are the SDK's: shown, never edited here (the services check what
    # they store).
    readonly_fields = [
        "project",
        "run_id",
        "state",
        "tag_names",
        "config",
        "summary",
        "history_line_count",
        "history_last_step",
        "heartbeat_at",
        "created_by",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="Tags")
    def tag_names(self, obj: Run) -> str:
        return ", ".join(tag.name for tag in obj.tags.all())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class VersionInline(ReadOnlyInline):
    model = ArtifactVersion
    fields = ["label", "state", "digest", "size_display", "num_files", "created_at"]
    readonly_fields = fields
    ordering = ["-index"]

    @admin.display(description="Size")
    def size_display(self, obj: ArtifactVersion) -> str:
        return humansize(obj.size)


@admin.register(Artifact)
class ArtifactAdmin(ModelAdmin):
    list_display = ["name", "type", "project", "num_versions", "updated_at"]
    list_filter = ["type", "project__entity"]
    search_fields = ["name", "type", "project__name", "description"]
    list_select_related = ["project__entity"]
    readonly_fields = ["project", "name", "type", "tags", "next_index", "num_versions", "created_at", "updated_at"]
    inlines = [VersionInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class FileInline(ReadOnlyInline):
    model = ArtifactFile
    fields = ["path", "blob", "size", "md5"]
    readonly_fields = fields
    show_change_link = False

    @admin.display(description="Size")
    def size(self, obj: ArtifactFile) -> str:
        return humansize(obj.blob.size)

    @admin.display(description="MD5 (base64)")
    def md5(self, obj: ArtifactFile) -> str:
        return obj.blob.md5


class AliasInline(ReadOnlyInline):
    model = ArtifactAlias
    fields = ["name"]
    readonly_fields = fields
    show_change_link = False


@admin.register(ArtifactVersion)
class ArtifactVersionAdmin(ModelAdmin):
    list_display = ["__str__", "artifact", "state", "digest", "size_display", "num_files", "created_at"]
    list_filter = ["state", "artifact__type", "artifact__project__entity"]
    search_fields = ["artifact__name", "digest", "artifact__project__name"]
    list_select_related = ["artifact__project__entity"]
    readonly_fields = [
        "artifact",
        "index",
        "state",
        "digest",
        "size_display",
        "num_files",
        "metadata",
        "created_by_run",
        "created_by",
        "created_at",
        "committed_at",
    ]
    fields = readonly_fields + ["description"]
    inlines = [AliasInline, FileInline]

    @admin.display(description="Size")
    def size_display(self, obj: ArtifactVersion) -> str:
        return humansize(obj.size)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # A pending version is an upload in progress: shown, never edited or deleted here (`collect_garbage` and
    # `prune_pending_versions` remove abandoned ones).
    def has_change_permission(self, request: HttpRequest, obj: ArtifactVersion | None = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or obj.is_committed)

    def has_delete_permission(self, request: HttpRequest, obj: ArtifactVersion | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_committed)

    def save_model(self, request: HttpRequest, obj: ArtifactVersion, form: forms.ModelForm, change: bool) -> None:
        services.version_update(version=obj, user=request.user, description=obj.description)

    def delete_model(self, request: HttpRequest, obj: ArtifactVersion) -> None:
        services.version_delete(version=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for version in queryset.filter(state=VersionState.COMMITTED):
            try:
                services.version_delete(version=version, user=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{version}: {' '.join(exc.messages)}", messages.ERROR)


class ArtifactAliasForm(forms.ModelForm):
    class Meta:
        model = ArtifactAlias
        fields = ["version", "name"]

    user = None  # set per request by ArtifactAliasAdmin.get_form

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = ArtifactVersion.committed.select_related("artifact__project")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        names.validate_alias(name)
        return name

    def clean(self) -> dict:
        data = super().clean()
        version = data.get("version")
        if version is not None and not permissions.can_change(self.user, version.artifact.project.entity):
            raise ValidationError("You need the member or admin role in this version's entity.")
        return data

    def validate_unique(self) -> None:
        # The service moves an alias that already exists in the artifact; that is not an error here.
        pass


@admin.register(ArtifactAlias)
class ArtifactAliasAdmin(ModelAdmin):
    """Add an alias to move it onto a version (it leaves any other version of the artifact)."""

    form = ArtifactAliasForm
    list_display = ["name", "version", "artifact"]
    list_filter = ["artifact__project__entity", "artifact__type"]
    search_fields = ["name", "artifact__name"]
    list_select_related = ["version__artifact", "artifact__project__entity"]

    def get_form(self, request: HttpRequest, obj: ArtifactAlias | None = None, **kwargs: object) -> type:
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user
        return form

    def has_change_permission(self, request: HttpRequest, obj: ArtifactAlias | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ArtifactAlias | None = None) -> bool:
        # `latest` is the system's: it moves by itself and is never removed.
        return (obj is None or obj.name != names.LATEST) and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: ArtifactAlias, form: forms.ModelForm, change: bool) -> None:
        alias = services.alias_set(version=obj.version, name=obj.name, user=request.user)
        obj.pk = alias.pk
        obj.artifact_id = alias.artifact_id

    def delete_model(self, request: HttpRequest, obj: ArtifactAlias) -> None:
        services.alias_remove(version=obj.version, name=obj.name, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for alias in queryset.exclude(name=names.LATEST):
            self.delete_model(request, alias)


@admin.register(ArtifactUsage)
class ArtifactUsageAdmin(ModelAdmin):
    list_display = ["run", "version", "created_at"]
    search_fields = ["run__run_id", "version__artifact__name"]
    list_select_related = ["run", "version__artifact"]
    readonly_fields = ["run", "version", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(DeletedRun)
class DeletedRunAdmin(ModelAdmin):
    """What is left of deleted runs: read-only (the SDK's deleteRun writes it; deleting a row here would let a
    second deleteRun of the same id fail where W&B succeeds)."""

    list_display = ["run_id", "project", "deleted_by", "deleted_at"]
    search_fields = ["run_id", "project__name", "project__entity__name"]
    list_select_related = ["project__entity", "deleted_by"]
    readonly_fields = ["project", "run_id", "run_pk", "kept_versions", "deleted_by", "deleted_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Blob)
class BlobAdmin(ModelAdmin):
    """Blob health: a bad or missing blob is refused to downloads until the same content is uploaded again."""

    list_display = ["sha256", "status", "verified_at", "md5", "size_display", "created_at"]
    list_filter = ["status"]
    search_fields = ["sha256", "md5"]
    readonly_fields = ["sha256", "md5", "size", "status", "verified_at", "created_at"]
    actions = ["verify"]

    @admin.action(description="Verify selected blobs (hash the stored bytes)")
    def verify(self, request: HttpRequest, queryset: QuerySet) -> None:
        results = [storage.blob_verify(blob) for blob in queryset]
        failed = len(results) - results.count(BlobStatus.OK)
        level = messages.WARNING if failed else messages.SUCCESS
        self.message_user(request, f"Verified {len(results)} blob(s): {failed} bad or missing.", level)

    @admin.display(ordering="size", description="Size")
    def size_display(self, obj: Blob) -> str:
        return humansize(obj.size)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Blob | None = None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(ModelAdmin):
    """Keys are created on the profile page or with `manage.py create_api_key`: the secret is shown once."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(key=key, user=key.user)
        self.message_user(request, "Revoked.", messages.SUCCESS)


@admin.register(Event)
class EventAdmin(ModelAdmin):
    """Every recorded change, read-only: events are written by the services that make the changes, never here.
    A registered model's events name it by id (they outlive it), so the list shows its label."""

    list_display = [
        "created_at",
        "kind",
        "actor_name",
        "via",
        "entity",
        "object_label",
        "registered_model_id",
        "alias",
        "before",
        "after",
    ]
    list_filter = ["kind"]
    search_fields = ["actor_name", "object_label", "alias"]
    list_select_related = ["entity"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False
