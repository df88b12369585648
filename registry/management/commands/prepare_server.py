import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

# Any fixed number will do: every server asks for the same one ("modelbk" in ASCII).
ADVISORY_LOCK_KEY = 0x6D6F64656C626B


@contextmanager
def setup_lock() -> Iterator[None]:
    """Held by one server at a time among all that share the database; the others wait for it."""
    if connection.vendor == "postgresql":
        # A session lock on this connection, which the commands below use too; it outlives their transactions.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
    else:
        # SQLite: the servers share the database file, so they are on one machine and share a file lock beside it.
        with open(Path(f"{connection.settings_dict['NAME']}-setup.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


class Command(BaseCommand):
    help = (
        "Prepare this server before it serves (what `make run` runs): apply migrations, collect static files, "
        "load the demo data unless DEMO=0 and ensure the superuser, all under one lock, so any number of "
        "servers may start at once."
    )

    def handle(self, *args: object, **options: object) -> None:
        with setup_lock():
            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            if settings.DEMO:
                call_command("load_demo", stdout=self.stdout)
            call_command("ensure_superuser", stdout=self.stdout)
        self.stdout.write("Ready to serve." if settings.DEMO else "Ready to serve (DEMO=0: no demo data loaded).")
