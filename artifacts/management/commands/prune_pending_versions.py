from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from artifacts.services import version_prune_pending


class Command(BaseCommand):
    help = "Delete artifact versions left pending (uploads that never committed) for longer than --hours."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, default=24.0, help="Minimum age in hours (default 24).")

    def handle(self, *args: object, **options: object) -> None:
        if options["hours"] < 0:
            raise CommandError("--hours cannot be negative.")
        pruned = version_prune_pending(older_than=timedelta(hours=options["hours"]))
        self.stdout.write(f"Deleted {pruned.versions} pending version(s) and {pruned.files} file entries.")
