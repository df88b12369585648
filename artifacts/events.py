"""Recording events (artifacts.models.Event): the one helper the services of artifacts and registry record with.

A service gathers its operation's events in a Recorder as it goes and writes them at its end with `save()`, one
insert inside the service's transaction, so a refused or failed change records nothing.
"""

from django.utils import timezone

from artifacts.models import Artifact, ArtifactVersion, Event, Run
from artifacts.permissions import User

# Edited descriptions are kept this long in before/after: enough to tell the edit, not a copy of the text.
TEXT_LIMIT = 200


def acting_via(user: User, via: str) -> User:
    """Mark `user` (an instance of this request's) as acting through `via` ("API key laptop"): the W&B API marks
    the user it authenticated, so every service it calls records how without another argument."""
    user.acting_via = via
    return user


def clip(text: str | None) -> str | None:
    if text is None or len(text) <= TEXT_LIMIT:
        return text
    return text[: TEXT_LIMIT - 1] + "…"


def changes(was: dict, now: dict) -> dict | None:
    """The fields that differ between two states of an object, as an edit event's `before` and `after`; None when
    nothing changed (nothing is recorded)."""
    changed = [field for field in now if now[field] != was[field]]
    if not changed:
        return None
    return {"before": {f: was[f] for f in changed}, "after": {f: now[f] for f in changed}}


def version_label(version: ArtifactVersion) -> str:
    return f"{version.artifact.name}:{version.label}"


class Recorder:
    """The events one operation records: the actor and time are the operation's, every row the same."""

    def __init__(self, *, user: User | None, run: Run | None = None) -> None:
        authenticated = user is not None and user.is_authenticated
        self.actor = user if authenticated else None
        self.actor_name = user.get_username() if authenticated else ""
        # The run that acted is the more precise "how"; otherwise the API key the user authenticated with.
        via = f"run {run.run_id}" if run is not None else getattr(user, "acting_via", "")
        self.via = via[: Event._meta.get_field("via").max_length]
        self.now = timezone.now()
        self.rows: list[Event] = []

    def add(self, kind: str, **fields: object) -> Event:
        event = Event(
            kind=kind, actor=self.actor, actor_name=self.actor_name, via=self.via, created_at=self.now, **fields
        )
        self.rows.append(event)
        return event

    def add_version(
        self, kind: str, version: ArtifactVersion, *, gone: bool = False, alias: str = "", **fields: object
    ) -> Event:
        """An event of an artifact version; one being deleted (`gone`) is named by its id and label only."""
        artifact = version.artifact
        return self.add(
            kind,
            entity_id=artifact.project.entity_id,
            artifact_id=artifact.pk,
            version_id=None if gone else version.pk,
            object_id=version.pk,
            object_label=version_label(version),
            alias=alias,
            **fields,
        )

    def add_artifact(self, kind: str, artifact: Artifact, *, gone: bool = False, **fields: object) -> Event:
        return self.add(
            kind,
            entity_id=artifact.project.entity_id,
            artifact_id=None if gone else artifact.pk,
            object_id=artifact.pk,
            object_label=artifact.name,
            **fields,
        )

    def save(self) -> None:
        write(self.rows)
        self.rows = []


def write(rows: list[Event]) -> None:
    """Insert `rows` at once (the caller's transaction holds them with its change)."""
    if rows:
        Event.objects.bulk_create(rows)
