import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import IntegrityError, transaction

from artifacts import services
from artifacts.models import Entity, Role


class Command(BaseCommand):
    help = (
        "Make sure a superuser exists (DJANGO_SUPERUSER_USERNAME/PASSWORD/EMAIL, else `admin` with a random "
        "password printed once) and is an admin of the demo entity. The password is set only when the user is "
        "created, never on a later run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--entity", default="reviewco", help="Entity to make the superuser an admin of.")

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        User = get_user_model()
        username = os.getenv("DJANGO_SUPERUSER_USERNAME") or "admin"
        user = User.objects.filter(username=username).first()
        if user is not None:
            self.stdout.write(f"Superuser '{username}' exists: its password stays as it is.")
        else:
            password = os.getenv("DJANGO_SUPERUSER_PASSWORD")
            generated = password is None
            password = password or secrets.token_urlsafe(12)
            email = os.getenv("DJANGO_SUPERUSER_EMAIL", "")
            try:
                # A savepoint: another server starting at the same moment may create the same user first.
                with transaction.atomic():
                    user = User.objects.create_superuser(username=username, email=email, password=password)
            except IntegrityError:
                user = User.objects.get(username=username)
                self.stdout.write(f"Superuser '{username}' was just created by another server.")
            else:
                shown = f" with password: {password}  (shown only once)" if generated else "."
                self.stdout.write(f"Created superuser '{username}'{shown}")
        if not (user.is_superuser and user.is_staff):
            user.is_superuser = user.is_staff = True
            user.save(update_fields=["is_superuser", "is_staff"])
        entity = Entity.objects.filter(name=options["entity"]).first()
        if entity is not None:
            services.membership_set(entity=entity, user=user, role=Role.ADMIN)
