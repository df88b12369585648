"""Registry admin: creating, linking, aliasing and deleting all go through registry.services."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from artifacts import names
from artifacts.admin import ModelAdmin
from artifacts.models import ArtifactVersion, Entity, Organization
from registry import permissions, services
from registry.models import (
    Automation,
    Delivery,
    DeliveryAttempt,
    Link,
    LinkAlias,
    RegisteredModel,
    Registry,
    RegistryMember,
    RegistryTeamMember,
    Visibility,
    Webhook,
    scope_filter,
)


class UserFormMixin:
    """Hands the requesting user to the form, whose clean() asks the services' checks."""

    def get_form(self, request: HttpRequest, obj: object = None, **kwargs: object) -> type:
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user
        return form


def _as_form_error(exc: PermissionDenied | ValidationError) -> ValidationError:
    return exc if isinstance(exc, ValidationError) else ValidationError(str(exc))


class LinkInline(admin.TabularInline):
    model = Link
    fields = ["label", "source", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-index"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RegisteredModelForm(forms.ModelForm):
    user = None
    tags_text = forms.CharField(required=False, label="Tags", help_text="Comma-separated.")

    class Meta:
        model = RegisteredModel
        fields = ["entity", "registry", "name", "type", "description"]
        help_texts = {
            "entity": "The team whose Model Registry holds it; leave empty for a collection of a registry.",
            "registry": "For a collection of an organization's registry; empty for a legacy registered model.",
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if "entity" in self.fields:
            self.fields["entity"].required = False
        if self.instance.pk:
            self.fields["tags_text"].initial = ", ".join(self.instance.tags)

    def clean_type(self) -> str:
        value = self.cleaned_data.get("type") or self.instance.type
        names.validate_name(value, "type")
        return value

    def clean(self) -> dict:
        data = super().clean()
        tags = [t.strip() for t in data.get("tags_text", "").split(",") if t.strip()]
        for tag in tags:
            names.validate_name(tag, "tag")
        data["tags"] = tags
        if self.instance.pk:
            scope = self.instance.scope
        else:
            registry, entity = data.get("registry"), data.get("entity")
            if registry is not None and entity is not None and entity != registry.organization.entity:
                raise ValidationError("A collection belongs to its registry: leave the entity empty.")
            if registry is None and entity is None:
                raise ValidationError("Choose the entity (its Model Registry) or the registry.")
            scope = registry or entity
            if registry is not None:
                data["entity"] = self.instance.entity = registry.organization.entity
            if data.get("name") and RegisteredModel.objects.filter(**scope_filter(scope), name=data["name"]).exists():
                raise ValidationError(f"'{data['name']}' already exists there.")
        if not permissions.can_change(self.user, scope):
            raise ValidationError(f"You need the member or admin role in {scope}.")
        return data


@admin.register(RegisteredModel)
class RegisteredModelAdmin(UserFormMixin, ModelAdmin):
    form = RegisteredModelForm
    list_display = ["name", "entity", "registry", "type", "num_versions", "tags", "updated_at"]
    list_filter = ["entity", "registry", "type"]
    search_fields = ["name", "description", "entity__name"]
    list_select_related = ["entity", "registry__organization"]
    readonly_fields = ["next_index", "num_versions", "created_by", "created_at", "updated_at"]
    inlines = [LinkInline]

    def get_readonly_fields(self, request: HttpRequest, obj: RegisteredModel | None = None) -> list[str]:
        # Name, entity and registry are the model's address; its type is fixed once versions are linked to it.
        return self.readonly_fields + (["entity", "registry", "name", "type"] if obj else [])

    def save_model(self, request: HttpRequest, obj: RegisteredModel, form: forms.ModelForm, change: bool) -> None:
        tags = form.cleaned_data["tags"]
        if change:
            services.registered_model_update(
                registered_model=obj, user=request.user, description=obj.description, tags=tags
            )
            return
        created = services.registered_model_create(
            entity=None if obj.registry_id else obj.entity,
            registry=obj.registry,
            name=obj.name,
            type=obj.type,
            description=obj.description,
            tags=tags,
            user=request.user,
        )
        obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: RegisteredModel) -> None:
        services.registered_model_delete(registered_model=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class LinkForm(forms.ModelForm):
    user = None
    aliases = forms.CharField(required=False, help_text="Comma-separated; `latest` moves by itself.")

    class Meta:
        model = Link
        fields = ["registered_model", "source"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if "source" in self.fields:
            self.fields["source"].queryset = ArtifactVersion.committed.select_related("artifact__project__entity")

    def validate_unique(self) -> None:
        # Linking an already linked source returns the existing link (the service's rule), not an error.
        pass

    def clean(self) -> dict:
        data = super().clean()
        data["alias_list"] = [a.strip() for a in data.get("aliases", "").split(",") if a.strip()]
        if data.get("registered_model") and data.get("source"):
            try:
                services.link_check(
                    version=data["source"],
                    user=self.user,
                    registered_model=data["registered_model"],
                    aliases=data["alias_list"],
                )
            except (ValidationError, PermissionDenied) as exc:
                raise _as_form_error(exc) from None
        return data


@admin.register(Link)
class LinkAdmin(UserFormMixin, ModelAdmin):
    """Adding a link here is the same as Link new version on the registry page."""

    form = LinkForm
    list_display = ["__str__", "registered_model", "source", "created_by", "created_at"]
    list_filter = ["registered_model__entity", "registered_model"]
    search_fields = ["registered_model__name", "source__artifact__name"]
    list_select_related = ["registered_model__entity", "source__artifact", "created_by"]
    readonly_fields = ["index", "created_by", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Link | None = None) -> list[str]:
        return self.readonly_fields + (["registered_model", "source"] if obj else [])

    def get_fields(self, request: HttpRequest, obj: Link | None = None) -> list[str]:
        if obj is None:
            return ["registered_model", "source", "aliases"]
        return ["registered_model", "source", "index", "created_by", "created_at"]

    def has_change_permission(self, request: HttpRequest, obj: Link | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Link, form: forms.ModelForm, change: bool) -> None:
        result = services.link_version(
            version=obj.source,
            user=request.user,
            registered_model=obj.registered_model,
            aliases=form.cleaned_data["alias_list"],
        )
        obj.pk = result.link.pk
        obj.index = result.link.index

    def delete_model(self, request: HttpRequest, obj: Link) -> None:
        services.link_delete(link=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class LinkAliasForm(forms.ModelForm):
    user = None

    class Meta:
        model = LinkAlias
        fields = ["link", "name"]

    def validate_unique(self) -> None:
        # Setting an alias that exists moves it (the service's rule), not an error.
        pass

    def clean(self) -> dict:
        data = super().clean()
        if data.get("link") and data.get("name"):
            try:
                names.validate_alias(data["name"])
                permissions.require_alias_allowed(self.user, data["link"].registered_model.scope, data["name"])
            except (ValidationError, PermissionDenied) as exc:
                raise _as_form_error(exc) from None
        return data


@admin.register(LinkAlias)
class LinkAliasAdmin(UserFormMixin, ModelAdmin):
    """Add an alias to move it onto a registry version; protected aliases need an entity admin."""

    form = LinkAliasForm
    list_display = ["name", "link", "registered_model"]
    list_filter = ["registered_model__entity", "registered_model"]
    search_fields = ["name", "registered_model__name"]
    list_select_related = ["link__registered_model", "registered_model__entity"]

    def has_change_permission(self, request: HttpRequest, obj: LinkAlias | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: LinkAlias | None = None) -> bool:
        return (obj is None or obj.name != names.LATEST) and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: LinkAlias, form: forms.ModelForm, change: bool) -> None:
        alias = services.link_alias_set(link=obj.link, name=obj.name, user=request.user)
        obj.pk = alias.pk
        obj.registered_model_id = alias.registered_model_id

    def delete_model(self, request: HttpRequest, obj: LinkAlias) -> None:
        services.link_alias_remove(link=obj.link, name=obj.name, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset.exclude(name=names.LATEST):
            self.delete_model(request, obj)


# W&B's current Registry: organizations, their registries and members. Collections are registered models above.


class OrganizationForm(forms.ModelForm):
    teams = forms.ModelMultipleChoiceField(
        Entity.objects.filter(organization_of__isnull=True), required=False, help_text="The teams it owns."
    )

    class Meta:
        model = Organization
        fields = ["name"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["teams"].initial = list(self.instance.teams.all())


@admin.register(Organization)
class OrganizationAdmin(ModelAdmin):
    """Creating an organization makes its own entity and its core registries (Model, Dataset)."""

    form = OrganizationForm
    list_display = ["name", "entity", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["entity", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Organization | None = None) -> list[str]:
        return self.readonly_fields + (["name"] if obj else [])

    def save_model(self, request: HttpRequest, obj: Organization, form: forms.ModelForm, change: bool) -> None:
        teams = list(form.cleaned_data["teams"])
        if not change:
            created = services.organization_create(name=obj.name, teams=teams, user=request.user)
            obj.pk, obj.entity_id = created.pk, created.entity_id
            return
        Entity.objects.filter(organization=obj).exclude(pk__in=[t.pk for t in teams]).update(organization=None)
        for team in teams:
            services.organization_team_add(organization=obj, team=team)

    def has_delete_permission(self, request: HttpRequest, obj: Organization | None = None) -> bool:
        # Its entity holds the registries' collections: delete registries (and teams' links) first.
        return False


class RegistryMemberInline(admin.TabularInline):
    model = RegistryMember
    extra = 0
    fields = ["user", "role"]
    autocomplete_fields = ["user"]


class RegistryTeamMemberInline(admin.TabularInline):
    model = RegistryTeamMember
    extra = 0
    fields = ["team", "role"]

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        # Teams only (services.registry_team_member_set's rule): an organization's own entity is not one.
        if db_field.name == "team":
            kwargs["queryset"] = Entity.objects.filter(organization_of__isnull=True).order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class RegistryForm(forms.ModelForm):
    user = None
    types_text = forms.CharField(
        required=False, label="Accepted artifact types", help_text="Comma-separated; empty accepts every type."
    )

    class Meta:
        model = Registry
        fields = ["organization", "name", "description", "visibility"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["types_text"].initial = ", ".join(self.instance.artifact_types)

    def clean(self) -> dict:
        data = super().clean()
        data["artifact_types"] = [t.strip() for t in data.get("types_text", "").split(",") if t.strip()]
        for type in data["artifact_types"]:
            names.validate_name(type, "artifact type")
        # Who may: the services' own rules, asked before anything is saved.
        try:
            if self.instance.pk:
                permissions.require_admin(self.user, self.instance)
            elif data.get("organization") is not None:
                permissions.require_create_registry(self.user, data["organization"].pk)
        except (PermissionDenied, Http404) as exc:
            raise ValidationError(str(exc) or "You may not change this registry.") from None
        return data


@admin.register(Registry)
class RegistryAdmin(UserFormMixin, ModelAdmin):
    """Registries are created and changed through registry.services (organization and registry admins)."""

    form = RegistryForm
    list_display = ["name", "organization", "visibility", "artifact_types", "updated_at"]
    list_filter = ["organization", "visibility"]
    search_fields = ["name", "description", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = ["protected_aliases", "created_by", "created_at", "updated_at"]
    inlines = [RegistryMemberInline, RegistryTeamMemberInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Registry | None = None) -> list[str]:
        return self.readonly_fields + (["organization", "name"] if obj else [])

    def save_model(self, request: HttpRequest, obj: Registry, form: forms.ModelForm, change: bool) -> None:
        types = form.cleaned_data["artifact_types"]
        try:
            if change:
                services.registry_update(
                    registry=obj,
                    user=request.user,
                    description=obj.description,
                    artifact_types=types,
                    visibility=obj.visibility,
                )
                return
            created = services.registry_create(
                organization=obj.organization,
                name=obj.name,
                user=request.user,
                description=obj.description,
                artifact_types=types,
                visibility=obj.visibility or Visibility.ORGANIZATION,
            )
        except (ValidationError, PermissionDenied) as exc:
            raise _as_form_error(exc) from None
        obj.pk = created.pk

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset, change: bool) -> None:
        if formset.model not in (RegistryMember, RegistryTeamMember):
            return super().save_formset(request, form, formset, change)
        registry = form.instance
        changed = formset.save(commit=False)  # also fills formset.deleted_objects
        try:
            for member in formset.deleted_objects:
                if formset.model is RegistryMember:
                    services.registry_member_remove(registry=registry, user=member.user, actor=request.user)
                else:
                    services.registry_team_member_remove(registry=registry, team=member.team, actor=request.user)
            for member in changed:
                if formset.model is RegistryMember:
                    services.registry_member_set(
                        registry=registry, user=member.user, role=member.role, actor=request.user
                    )
                else:
                    services.registry_team_member_set(
                        registry=registry, team=member.team, role=member.role, actor=request.user
                    )
        except (ValidationError, PermissionDenied) as exc:
            raise _as_form_error(exc) from None
        return None

    def delete_model(self, request: HttpRequest, obj: Registry) -> None:
        services.registry_delete(registry=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class ReadOnlyAdmin(ModelAdmin):
    """Automations are created on their pages (through registry.services, which checks them); here they are read,
    and their delivery log with them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin):
    list_display = ["name", "entity", "registry", "url", "created_at"]
    list_select_related = ["entity", "registry"]
    # The secret and the header values (tokens) are never shown.
    exclude = ["secret", "headers"]


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "started_at", "response_code", "duration_ms", "error"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Automation)
class AutomationAdmin(ReadOnlyAdmin):
    list_display = ["name", "entity", "event", "alias_pattern", "registered_model", "webhook", "enabled"]
    list_filter = ["event", "enabled"]
    list_select_related = ["entity", "registered_model", "webhook"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "automation", "event_type", "summary", "status", "attempts", "response_code"]
    list_filter = ["status", "is_test"]
    list_select_related = ["automation"]
    inlines = [DeliveryAttemptInline]
