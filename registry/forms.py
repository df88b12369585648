from django import forms

from artifacts import names
from artifacts.models import Entity
from registry import automations
from registry.models import AutomationEvent, Visibility, validate_registry_name


def version_label(version) -> str:
    """`v3 (latest, production)`: the version, then its aliases, so an alias never reads as a version."""
    aliases = ", ".join(sorted(a.name for a in version.aliases.all()))
    return f"{version.label} ({aliases})" if aliases else version.label


def split_names(value: str) -> list[str]:
    return [part.strip() for part in (value or "").replace("\n", ",").split(",") if part.strip()]


class SelectRegisteredModelForm(forms.Form):
    """Step 1 of Link to registry: an existing registered model, or the name of a new one."""

    registered_model = forms.ChoiceField(label="Select a register model", required=False)
    new_name = forms.CharField(
        label="Or create a new registered model",
        required=False,
        max_length=128,
        help_text="Letters, digits, '_', '.' and '-'.",
    )

    def __init__(self, *args: object, models: list[str], collections: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        what = "collection" if collections else "registered model"
        self.fields["registered_model"].choices = [("", f"Choose a {what}…")] + [(m, m) for m in models]
        if collections:
            self.fields["registered_model"].label = "Select a collection"
            self.fields["new_name"].label = "Or create a new collection"
        self.what = what

    def clean_new_name(self) -> str:
        value = self.cleaned_data["new_name"].strip()
        if value:
            names.validate_name(value, "registered model name")
        return value

    def clean(self) -> dict:
        data = super().clean()
        if self.has_error("new_name") or self.has_error("registered_model"):
            return data
        if not data.get("registered_model") and not data.get("new_name"):
            raise forms.ValidationError(f"Select a {self.what}, or name a new one.")
        if data.get("registered_model") and data.get("new_name"):
            raise forms.ValidationError(f"Select a {self.what} or name a new one, not both.")
        data["target"] = data.get("registered_model") or data.get("new_name")
        return data


class LinkAliasesForm(forms.Form):
    """Step 2: optional aliases, picked from the registered model's own or typed."""

    existing = forms.MultipleChoiceField(label="Existing aliases", required=False, widget=forms.CheckboxSelectMultiple)
    aliases = forms.CharField(
        label="Aliases",
        required=False,
        help_text="Comma-separated, e.g. staging, candidate. The alias latest moves by itself.",
    )

    def __init__(self, *args: object, existing: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["existing"].choices = [(a, a) for a in existing]

    def clean_aliases(self) -> list[str]:
        values = split_names(self.cleaned_data["aliases"])
        for value in values:
            names.validate_alias(value)
        return values

    def clean(self) -> dict:
        data = super().clean()
        data["all_aliases"] = list(dict.fromkeys([*data.get("existing", []), *data.get("aliases", [])]))
        return data


class RegisteredModelForm(forms.Form):
    """The New registered model panel."""

    entity = forms.ModelChoiceField(label="Owning Entity", queryset=Entity.objects.none(), to_field_name="name")
    name = forms.CharField(label="Name", max_length=128)
    type = forms.CharField(label="Type", max_length=64, initial="model")
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 4}))
    tags = forms.CharField(label="Tags", required=False, help_text="Comma-separated.")

    def __init__(self, *args: object, entities, **kwargs: object) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["entity"].queryset = entities
        self.fields["entity"].initial = entities.first()

    def clean_name(self) -> str:
        value = self.cleaned_data["name"].strip()
        names.validate_name(value, "registered model name")
        return value

    def clean_type(self) -> str:
        value = self.cleaned_data["type"].strip()
        names.validate_name(value, "type")
        return value

    def clean_tags(self) -> list[str]:
        values = split_names(self.cleaned_data["tags"])
        for value in values:
            names.validate_name(value, "tag")
        return values


class LinkNewVersionForm(forms.Form):
    """The Link new version cascade; choices come from the view, which owns the state."""

    team = forms.ChoiceField(label="Team", required=False)
    project = forms.ChoiceField(label="Project")
    artifact = forms.ChoiceField(label="Model Artifact")
    version = forms.ChoiceField(label="Version")
    aliases = forms.CharField(label="Aliases", required=False, help_text="Optional, comma-separated.")

    def __init__(self, *args: object, projects, artifacts, versions, teams=None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if teams is None:
            del self.fields["team"]
        else:
            self.fields["team"].required = True
            self.fields["team"].choices = [("", "Choose a team…")] + [(t.name, t.name) for t in teams]
            self.fields["artifact"].label = "Artifact"
        self.fields["project"].choices = [("", "Choose a project…")] + [(p.name, p.name) for p in projects]
        self.fields["artifact"].choices = [("", "Choose a model artifact…")] + [(a.name, a.name) for a in artifacts]
        self.fields["version"].choices = [("", "Choose a version…")] + [
            (str(v.index), version_label(v)) for v in versions
        ]

    def clean_aliases(self) -> list[str]:
        values = split_names(self.cleaned_data["aliases"])
        for value in values:
            names.validate_alias(value)
        return values


# W&B's current Registry.


def _clean_names(value: str, what: str) -> list[str]:
    values = split_names(value)
    for item in values:
        names.validate_name(item, what)
    return values


class RegistryForm(forms.Form):
    """Create registry: organization admins."""

    organization = forms.ModelChoiceField(label="Organization", queryset=None, to_field_name="name")
    name = forms.CharField(label="Name", max_length=64, help_text="Its path becomes wandb-registry-<name>.")
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    artifact_types = forms.CharField(
        label="Accepted artifact types", required=False, help_text="Comma-separated; empty accepts every type."
    )
    visibility = forms.ChoiceField(label="Visibility", choices=Visibility.choices, initial=Visibility.ORGANIZATION)

    def __init__(self, *args: object, organizations, **kwargs: object) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        self.fields["organization"].initial = organizations.first()

    def clean_name(self) -> str:
        value = self.cleaned_data["name"].strip()
        validate_registry_name(value)
        return value

    def clean_artifact_types(self) -> list[str]:
        return _clean_names(self.cleaned_data["artifact_types"], "artifact type")


class RegistrySettingsForm(forms.Form):
    """The registry's gear: its description, accepted types and visibility (admins)."""

    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    artifact_types = forms.CharField(
        label="Accepted artifact types", required=False, help_text="Comma-separated; empty accepts every type."
    )
    visibility = forms.ChoiceField(label="Visibility", choices=Visibility.choices)

    def clean_artifact_types(self) -> list[str]:
        return _clean_names(self.cleaned_data["artifact_types"], "artifact type")


class CollectionForm(forms.Form):
    """Create collection: Name, Type, Description, Tags, then optionally Link version (Team -> Project -> Artifact
    -> Version); the choices come from the view, which owns the cascade's state."""

    name = forms.CharField(label="Name", max_length=128)
    type = forms.CharField(label="Type", max_length=64)
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    tags = forms.CharField(label="Tags", required=False, help_text="Optional, comma-separated.")
    team = forms.ChoiceField(label="Team", required=False)
    project = forms.ChoiceField(label="Project", required=False)
    artifact = forms.ChoiceField(label="Artifact", required=False)
    version = forms.ChoiceField(label="Version", required=False)

    def __init__(self, *args: object, types, teams, projects, artifacts, versions, **kwargs: object) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if types:
            self.fields["type"] = forms.ChoiceField(label="Type", choices=[(t, t) for t in types])
        self.fields["team"].choices = [("", "Choose a team…")] + [(t.name, t.name) for t in teams]
        self.fields["project"].choices = [("", "Choose a project…")] + [(p.name, p.name) for p in projects]
        self.fields["artifact"].choices = [("", "Choose an artifact…")] + [(a.name, a.name) for a in artifacts]
        self.fields["version"].choices = [("", "Choose a version…")] + [
            (str(v.index), version_label(v)) for v in versions
        ]

    def clean_name(self) -> str:
        value = self.cleaned_data["name"].strip()
        names.validate_name(value, "collection name")
        return value

    def clean_type(self) -> str:
        value = self.cleaned_data["type"].strip()
        names.validate_name(value, "type")
        return value

    def clean_tags(self) -> list[str]:
        return _clean_names(self.cleaned_data["tags"], "tag")


def parse_headers(value: str) -> dict[str, str]:
    """`Name: value`, one a line."""
    headers = {}
    for line in (value or "").splitlines():
        if not line.strip():
            continue
        name, colon, header_value = line.partition(":")
        if not colon or not name.strip():
            raise forms.ValidationError(f"'{line.strip()[:60]}' is not a header: write one 'Name: value' a line.")
        headers[name.strip()] = header_value.strip()
    return headers


class WebhookForm(forms.Form):
    name = forms.CharField(max_length=64)
    url = forms.CharField(
        label="URL", max_length=2000, widget=forms.URLInput, help_text="Where W&B-style payloads are POSTed."
    )
    secret = forms.CharField(
        required=False,
        max_length=256,
        widget=forms.PasswordInput(render_value=False),
        help_text="Optional. Signs each body: X-Wandb-Signature: sha256=<HMAC-SHA256 of the body, hex>.",
    )
    headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional. One 'Name: value' a line, such as Authorization: Bearer <token>.",
    )

    def clean_headers(self) -> dict[str, str]:
        headers = parse_headers(self.cleaned_data["headers"])
        automations.validate_headers(headers)
        return headers

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        automations.resolve(url)
        return url


class AutomationForm(forms.Form):
    name = forms.CharField(max_length=64)
    event = forms.ChoiceField(choices=AutomationEvent.choices)
    alias_pattern = forms.CharField(
        label="Alias pattern",
        required=False,
        max_length=200,
        help_text="For 'An alias is added': a regular expression the whole alias must match, such as production "
        "or staging|production.",
    )
    registered_model = forms.ModelChoiceField(
        label="Registered model",
        queryset=None,
        required=False,
        empty_label="Any registered model of the team",
        to_field_name="name",
    )
    webhook = forms.ModelChoiceField(queryset=None, empty_label=None, to_field_name="name")
    payload_template = forms.CharField(
        label="Payload",
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        initial=automations.DEFAULT_TEMPLATE,
        max_length=20_000,
        help_text="JSON; ${variables} go inside strings.",
    )

    def __init__(self, *args: object, models, webhooks, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["registered_model"].queryset = models
        self.fields["webhook"].queryset = webhooks

    def clean_alias_pattern(self) -> str:
        pattern = self.cleaned_data["alias_pattern"].strip()
        automations.validate_alias_pattern(pattern)
        return pattern

    def clean_payload_template(self) -> str:
        template = self.cleaned_data["payload_template"]
        automations.validate_template(template)
        return template

    def clean(self) -> dict:
        data = super().clean()
        alias_event = data.get("event") == AutomationEvent.ALIAS_ADDED
        if alias_event and not data.get("alias_pattern") and not self.has_error("alias_pattern"):
            self.add_error("alias_pattern", "Give the pattern of the aliases to watch, such as production.")
        return data
