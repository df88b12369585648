import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles import finders
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


def static_sources_fingerprint() -> str:
    """What collectstatic would make: the storage (its backend, options and the versions of Django and whitenoise,
    which hash and compress) and each source file's path and contents (a deploy may keep sizes and times)."""
    ignore = apps.get_app_config("staticfiles").ignore_patterns
    sources = sorted(
        ((getattr(storage, "prefix", None) or "") + "/" + path, storage.path(path))
        for finder in finders.get_finders()
        for path, storage in finder.list(ignore)
    )
    storage = settings.STORAGES["staticfiles"]
    digest = hashlib.sha256(repr((storage, version("django"), version("whitenoise"))).encode())
    for name, path in sources:
        digest.update(f"\n{name}\0".encode())
        with open(path, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()


def collect_static() -> bool:
    """Collect the static files unless they are collected already from the same sources; True if it did.

    Collecting again is not harmless: it deletes and rewrites every hashed CSS and JS file, and a server whose
    worker starts meanwhile (whitenoise lists STATIC_ROOT as it starts) fails on the file that went missing."""
    root = Path(settings.STATIC_ROOT)
    record = root.with_name(root.name + ".fingerprint")
    fingerprint = static_sources_fingerprint()
    manifest = root / "staticfiles.json"
    complete = manifest.exists() if "Manifest" in settings.STORAGES["staticfiles"]["BACKEND"] else any(root.iterdir())
    if complete and record.exists() and record.read_text() == fingerprint:
        return False
    record.unlink(missing_ok=True)
    call_command("collectstatic", interactive=False, verbosity=0)
    record.write_text(fingerprint)
    return True


class Command(BaseCommand):
    help = (
        "Prepare this server before it serves (what `make run` runs): apply migrations, collect static files "
        "(when their sources changed), "
        "load the demo data unless DEMO=0 and ensure the superuser, all under one lock, so any number of "
        "servers may start at once."
    )

    def handle(self, *args: object, **options: object) -> None:
        with setup_lock():
            call_command("migrate", interactive=False, verbosity=0)
            collect_static()
            if settings.DEMO:
                call_command("load_demo", stdout=self.stdout)
            call_command("ensure_superuser", stdout=self.stdout)
        self.stdout.write("Ready to serve." if settings.DEMO else "Ready to serve (DEMO=0: no demo data loaded).")
