from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from artifacts.services import garbage_collect


class Command(BaseCommand):
    help = (
        "Delete what nothing needs and is older than --hours: pending versions, blobs no file refers to (row and "
        "bytes) and staged uploads and writes that never finished. Safe while serving."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, default=24.0, help="Grace period in hours (default 24).")

    def handle(self, *args: object, **options: object) -> None:
        if options["hours"] < 0:
            raise CommandError("--hours cannot be negative.")
        report = garbage_collect(older_than=timedelta(hours=options["hours"]))
        for blob in report.blobs:
            self.stdout.write(f"blob {blob.sha256} ({filesizeformat(blob.size)})")
        for path in report.staged:
            self.stdout.write(f"leftover {path}")
        freed = sum(blob.size for blob in report.blobs)
        self.stdout.write(
            f"Removed {report.pending.versions} pending version(s) ({report.pending.files} file entries), "
            f"{len(report.blobs)} unused blob(s) ({filesizeformat(freed)}) and {len(report.staged)} staged "
            "leftover(s)."
        )
