from django.core.management.base import BaseCommand, CommandError, CommandParser

from wandb_api.fixture_protocol import COMMANDS, fixture_server, refusal


class Command(BaseCommand):
    help = (
        "Serve W&B's test fixture protocol (POST db/user, db/organization, db/team; GET /health) on 127.0.0.1:PORT, "
        "for running W&B's SDK system tests against this server (make wandb-conformance). Makes users whose name is "
        "their password and API key: refuses unless DEBUG or --i-know-this-is-a-test-server, and a SQLite database "
        "and DATA_DIR under the temporary directory."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--i-know-this-is-a-test-server", action="store_true", dest="confirmed")

    def handle(self, *args: object, **options: object) -> None:
        if reason := refusal(confirmed=bool(options["confirmed"])):
            raise CommandError(reason)
        server = fixture_server(int(options["port"]))
        self.stdout.write(f"Serving W&B's test fixtures ({', '.join(COMMANDS)}) on http://127.0.0.1:{options['port']}")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
