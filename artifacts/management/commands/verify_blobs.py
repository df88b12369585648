from django.core.management.base import BaseCommand, CommandError, CommandParser

from artifacts.services import blobs_verify


class Command(BaseCommand):
    help = (
        "Hash stored blobs against their SHA-256 and size, and mark bad or missing ones (they are then refused to "
        "downloads and re-uploaded by the next client logging the same content). Safe while serving. Exits 1 "
        "when any blob is bad or missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sample", type=int, help="Check this many blobs picked at random (default: all).")

    def handle(self, *args: object, **options: object) -> None:
        if options["sample"] is not None and options["sample"] < 1:
            raise CommandError("--sample must be at least 1.")
        report = blobs_verify(sample=options["sample"])
        for label, blobs in (("bad", report.bad), ("missing", report.missing)):
            for blob in blobs:
                self.stdout.write(f"{label} {blob.sha256} ({blob.size} bytes)")
        ok = report.checked - len(report.bad) - len(report.missing)
        summary = f"Checked {report.checked} blob(s): {ok} ok, {len(report.bad)} bad, {len(report.missing)} missing."
        if report.bad or report.missing:
            raise CommandError(summary)
        self.stdout.write(summary)
