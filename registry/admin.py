"""Registry admin: creating, linking, aliasing and deleting all go through registry.services."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from artifacts import names, permissions
from artifacts.admin import ModelAdmin
from artifacts.models import ArtifactVersion
from registry import services
from registry.models import Link, LinkAlias, RegisteredModel


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
        fields = ["entity", "name", "type", "description"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
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
        entity = data.get("entity") or self.instance.entity if self.instance.pk else data.get("entity")
        if entity is not None and not permissions.can_change(self.user, entity):
            raise ValidationError(f"You need the member or admin role in '{entity}'.")
        return data


@admin.register(RegisteredModel)
class RegisteredModelAdmin(UserFormMixin, ModelAdmin):
    form = RegisteredModelForm
    list_display = ["name", "entity", "type", "num_versions", "tags", "updated_at"]
    list_filter = ["entity", "type"]
    search_fields = ["name", "description", "entity__name"]
    list_select_related = ["entity"]
    readonly_fields = ["next_index", "num_versions", "created_by", "created_at", "updated_at"]
    inlines = [LinkInline]

    def get_readonly_fields(self, request: HttpRequest, obj: RegisteredModel | None = None) -> list[str]:
        # Name and entity are the model's address; its type is fixed once versions are linked to it.
        return self.readonly_fields + (["entity", "name", "type"] if obj else [])

    def save_model(self, request: HttpRequest, obj: RegisteredModel, form: forms.ModelForm, change: bool) -> None:
        tags = form.cleaned_data["tags"]
        if change:
            services.registered_model_update(
                registered_model=obj, user=request.user, description=obj.description, tags=tags
            )
            return
        created = services.registered_model_create(
            entity=obj.entity,
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
                permissions.require_alias_allowed(self.user, data["link"].registered_model.entity, data["name"])
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
