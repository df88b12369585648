"""W&B's test fixture protocol, so that W&B's own SDK system tests (`tests/system_tests/` of wandb/wandb) can run
against this server: `manage.py serve_wandb_fixtures`, driven by `make wandb-conformance`.

W&B's test server answers `POST db/user`, `db/organization` and `db/team` on a second port (the *fixture port*,
`tests/system_tests/backend_fixtures.py`); a user made there has its name as password, API key and personal
entity. Entities, memberships and keys are written through the services (the user row as ensure_superuser writes
it). An organization is one (registry.services.organization_create, without the core registries: W&B's fixtures
start bare), whose own entity holds its maker and added members (an organization's members are those of its own
entity and of its teams, registry.permissions); a team is an entity of the organization. `down` deletes
nothing: a user is deactivated (its key stops working), organizations and teams stay, and the harness throws the
whole DATA_DIR away after the run.

Users whose password is their name are for a throwaway database only: `refusal()` says why a configuration may
not serve this, and the command refuses to start unless it says nothing.
"""

import json
import tempfile
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection, transaction

from artifacts import services
from artifacts.models import Organization
from artifacts.permissions import User
from registry import services as registry_services

# Nothing the fixtures send comes near this; a bigger body is not theirs.
MAX_BODY_BYTES = 1024 * 1024
KEY_NAME = "W&B test fixtures"


class Unsupported(Exception):
    """A command of the protocol this server does not carry out (answered 400 with the reason)."""


def refusal(*, confirmed: bool) -> str | None:
    """Why this configuration may not serve the fixtures, or None: DEBUG or `confirmed` (the command's flag), and
    a SQLite database and DATA_DIR under the system's temporary directory, so never a production database."""
    if not (settings.DEBUG or confirmed):
        return "Refusing to serve W&B's test fixtures: set DEBUG=true or pass --i-know-this-is-a-test-server."
    if connection.vendor != "sqlite":
        return f"Refusing to serve W&B's test fixtures on a {connection.vendor} database: use a throwaway SQLite one."
    tmp = Path(tempfile.gettempdir()).resolve()
    for what, path in (("DATA_DIR", settings.DATA_DIR), ("The database", connection.settings_dict["NAME"])):
        if not Path(str(path)).resolve().is_relative_to(tmp):
            return f"Refusing to serve W&B's test fixtures: {what} ({path}) is not under {tmp}."
    return None


def _user(username: Any) -> User:
    user = get_user_model().objects.filter(username=username or "").first()
    if user is None:
        raise ValidationError(f"There is no user named {username!r}.", code="unknown_user")
    return user


def _organization(name: Any) -> Organization:
    organization = Organization.objects.select_related("entity").filter(name=name or "").first()
    if organization is None:
        raise ValidationError(f"There is no organization named {name!r}.", code="unknown_organization")
    return organization


def user_command(body: dict[str, Any]) -> None:
    command, username = body.get("command"), body.get("username")
    if command == "up":
        if not isinstance(username, str) or get_user_model().objects.filter(username=username).exists():
            raise ValidationError(f"Cannot create a user named {username!r}.", code="invalid")
        admin = bool(body.get("admin"))
        # The password comes with the "password" command that follows.
        user = get_user_model().objects.create_user(
            username=username, email=f"{username}@example.com", is_staff=admin, is_superuser=admin
        )
        services.entity_create(name=username, owner=user)
        services.api_key_import(user=user, secret=username, name=KEY_NAME)
    elif command == "password":
        user = _user(username)
        user.set_password(body.get("password") or "")
        user.save(update_fields=["password"])
    elif command == "down":
        # Its runs and artifacts stay; the user can no longer sign in or use its key.
        user = _user(username)
        user.is_active = False
        user.save(update_fields=["is_active"])
    else:
        raise Unsupported(f"db/user {command!r} is not supported.")


def organization_command(body: dict[str, Any]) -> None:
    command, name = body.get("command"), body.get("orgName")
    if command == "up":
        user = _user(body.get("username"))
        organization = registry_services.organization_create(name=name, user=user, core_registries=False)
        services.membership_set(entity=organization.entity, user=user, role="admin")
    elif command == "add_members":
        entity = _organization(name).entity
        for member in (body.get("fixtureData") or {}).get("members") or []:
            services.membership_set(entity=entity, user=_user(member.get("username")), role=member.get("role"))
    elif command == "down":
        _organization(name)
    else:
        raise Unsupported(f"db/organization {command!r} is not supported.")


def team_command(body: dict[str, Any]) -> None:
    command, data = body.get("command"), body.get("fixtureData") or {}
    if command == "up":
        # The team belongs to `data["organization"]`, made just before.
        organization = _organization((data.get("organization") or {}).get("name"))
        team = services.entity_create(name=(data.get("team") or {}).get("name"), owner=_user(body.get("username")))
        registry_services.organization_team_add(organization=organization, team=team)
    elif command == "down":
        pass
    else:
        raise Unsupported(f"db/team {command!r} is not supported.")


COMMANDS = {"db/user": user_command, "db/organization": organization_command, "db/team": team_command}


def handle(path: str, body: Any) -> tuple[int, dict[str, Any]]:
    """The status and JSON answer for `POST <path>` with this body; every write in one transaction."""
    run = COMMANDS.get(path.strip("/"))
    if run is None:
        return 404, {"error": f"Unknown fixture {path!r}: use one of {', '.join(COMMANDS)}."}
    if not isinstance(body, dict):
        return 400, {"error": "The body is a JSON object."}
    try:
        with transaction.atomic():
            run(body)
    except ValidationError as exc:
        return 400, {"error": " ".join(exc.messages)}
    except Unsupported as exc:
        return 400, {"error": str(exc)}
    return 200, {"ok": True}


class FixtureHandler(BaseHTTPRequestHandler):
    """`GET /health` (what W&B's `tools/local_wandb_server.py` waits for) and the `POST db/...` commands."""

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/health":
            self._answer(200, {"ok": True})
        else:
            self._answer(404, {"error": "Not found."})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(413, {"error": "Body too large."})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            self._answer(400, {"error": "The body is not JSON."})
            return
        close_old_connections()
        self._answer(*handle(self.path.split("?")[0], body))


def fixture_server(port: int) -> HTTPServer:
    """Bound to 127.0.0.1 only; one request at a time, so the fixtures never race each other for SQLite."""
    return HTTPServer(("127.0.0.1", port), FixtureHandler)
