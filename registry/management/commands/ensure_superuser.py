import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from artifacts import services
from artifacts.models import Entity, Role


class Command(BaseCommand):
    help = (
        "Make sure a superuser exists (DJANGO_SUPERUSER_USERNAME/PASSWORD/EMAIL, else `admin` with a random "
        "password printed once) and is an admin of the demo entity."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--entity", default="reviewco", help="Entity to make the superuser an admin of.")

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        User = get_user_model()
        username = os.getenv("DJANGO_SUPERUSER_USERNAME") or "admin"
        password = os.getenv("DJANGO_SUPERUSER_PASSWORD")
        email = os.getenv("DJANGO_SUPERUSER_EMAIL", "")
        user = User.objects.filter(username=username).first()
        if user is None:
            generated = password is None
            password = password or secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=username, email=email, password=password)
            if generated:
                self.stdout.write(f"Created superuser '{username}' with password: {password}  (shown only once)")
            else:
                self.stdout.write(f"Created superuser '{username}'.")
        else:
            if not (user.is_superuser and user.is_staff):
                user.is_superuser = user.is_staff = True
                user.save(update_fields=["is_superuser", "is_staff"])
            if password and not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
            self.stdout.write(f"Superuser '{username}' exists.")
        entity = Entity.objects.filter(name=options["entity"]).first()
        if entity is not None:
            services.membership_set(entity=entity, user=user, role=Role.ADMIN)
