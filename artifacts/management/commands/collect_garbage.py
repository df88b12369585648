from datetime import timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from artifacts.services import garbage_collect


class Command(BaseCommand):
    help = (
        "Delete what nothing needs and is older than --hours: pending versions, blobs no file refers to (row and "
        "bytes) and staged uploads and writes that never finished; and the background queue's finished task rows "
        "older than --task-days. Safe while serving."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, default=24.0, help="Grace period in hours (default 24).")
        parser.add_argument(
            "--task-days",
            type=int,
            default=14,
            help="Finished background tasks are kept this many days (default 14); each webhook delivery's log stays "
            "with its automation.",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["hours"] < 0 or options["task_days"] < 0:
            raise CommandError("--hours and --task-days cannot be negative.")
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
        # The task queue's own pruning (django-tasks-db), every queue: the rows of tasks run to the end.
        call_command("prune_db_task_results", min_age_days=options["task_days"], queue_name="*", stdout=self.stdout)
