from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from artifacts.models import Entity, Project
from registry.services import model_link_path


def error_text(exc: Exception) -> str:
    """One line of reason for a domain error."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or exc.__class__.__name__


class Command(BaseCommand):
    help = (
        "Log a model file or directory from a new run and link it to a registered model (created when "
        "missing), as run.link_model() does in the SDK."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--entity", required=True)
        parser.add_argument("--project", required=True)
        parser.add_argument("--path", required=True, type=Path, help="A model file or a directory of files.")
        parser.add_argument("--registered-model-name", required=True)
        parser.add_argument("--name", help="Artifact name (default: run-<run id>-<file name>).")
        parser.add_argument("--alias", action="append", default=[], dest="aliases", help="Repeatable.")
        parser.add_argument("--user", help="Act as this user (default: the first superuser).")

    def handle(self, *args: object, **options: object) -> None:
        user = self._user(options["user"])
        entity = Entity.objects.filter(name=options["entity"]).first()
        if entity is None:
            raise CommandError(f"Unknown entity '{options['entity']}'.")
        project = Project.objects.filter(entity=entity, name=options["project"]).first()
        if project is None:
            raise CommandError(f"Unknown project '{options['project']}' in entity '{entity}'.")
        try:
            result = model_link_path(
                project=project,
                path=options["path"],
                registered_model_name=options["registered_model_name"],
                user=user,
                name=options["name"],
                aliases=options["aliases"],
            )
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(error_text(exc)) from None
        except Http404:
            raise CommandError(f"Unknown project '{options['project']}' in entity '{entity}'.") from None
        link = result.link.link
        self.stdout.write(f"{link.full_name} -> {result.log.version.full_name}")

    def _user(self, username: str | None):
        users = get_user_model().objects.filter(is_active=True)
        if username:
            user = users.filter(username=username).first()
            if user is None:
                raise CommandError(f"Unknown user '{username}'.")
            return user
        user = users.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError("No superuser exists: pass --user USERNAME.")
        return user
