"""`manage.py serve_wandb_fixtures`: W&B's test fixture protocol (`make wandb-conformance`), over HTTP."""

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from artifacts import services
from artifacts.models import ApiKey, Entity, Membership, Role
from tests.wandb_api.helpers import basic_auth
from wandb_api.fixture_protocol import fixture_server, refusal

NAME = "user_gw0-0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def throwaway_database(settings, monkeypatch, tmp_path: Path) -> None:
    """DATA_DIR and the database file under the temporary directory, as the harness runs it."""
    settings.DATA_DIR = tmp_path
    monkeypatch.setitem(connection.settings_dict, "NAME", str(tmp_path / "db.sqlite3"))


@pytest.fixture
def post(transactional_db) -> Iterator[Callable[..., tuple[int, dict]]]:
    """POST JSON to a fixture server on a free port of 127.0.0.1; the status and the decoded answer."""
    server = fixture_server(0)
    port = server.server_address[1]

    def serve() -> None:
        try:
            server.serve_forever()
        finally:
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def send(path: str, body: object, method: str = "POST") -> tuple[int, dict]:
        data = None if method == "GET" else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    yield send
    server.shutdown()
    server.server_close()
    thread.join()


def make_user(post, name: str = NAME) -> None:
    assert post("db/user", {"command": "up", "username": name, "password": None, "admin": False})[0] == 200
    assert post("db/user", {"command": "password", "username": name, "password": name, "admin": False})[0] == 200


def test_it_refuses_to_run_without_debug_or_the_flag(settings, throwaway_database):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=true or pass --i-know-this-is-a-test-server"):
        call_command("serve_wandb_fixtures", "--port=0")


def test_it_refuses_a_database_outside_the_temporary_directory(settings, monkeypatch):
    settings.DATA_DIR = Path("/srv/registry")
    monkeypatch.setitem(connection.settings_dict, "NAME", "/srv/registry/db.sqlite3")
    with pytest.raises(CommandError, match=r"DATA_DIR \(/srv/registry\) is not under"):
        call_command("serve_wandb_fixtures", "--port=0", "--i-know-this-is-a-test-server")


def test_it_refuses_a_database_file_outside_the_temporary_directory(settings, monkeypatch, tmp_path):
    settings.DATA_DIR = tmp_path
    monkeypatch.setitem(connection.settings_dict, "NAME", "/srv/registry/db.sqlite3")
    assert "The database (/srv/registry/db.sqlite3) is not under" in refusal(confirmed=True)


def test_it_refuses_postgresql_even_with_the_flag(monkeypatch, throwaway_database):
    monkeypatch.setattr(connection, "vendor", "postgresql")
    with pytest.raises(CommandError, match="on a postgresql database"):
        call_command("serve_wandb_fixtures", "--port=0", "--i-know-this-is-a-test-server")


def test_debug_or_the_flag_with_a_throwaway_database_may_serve(settings, throwaway_database):
    settings.DEBUG = False
    assert refusal(confirmed=True) is None
    settings.DEBUG = True
    assert refusal(confirmed=False) is None


def test_health_answers_200(post):
    assert post("health", None, method="GET") == (200, {"ok": True})


def test_a_user_has_its_name_as_password_api_key_and_personal_entity(post, client):
    make_user(post)
    user = get_user_model().objects.get(username=NAME)
    assert user.check_password(NAME)
    assert not user.is_superuser
    assert services.api_key_authenticate(NAME) == user
    assert Membership.objects.get(entity__name=NAME, user=user).role == Role.ADMIN
    r = client.post(
        "/graphql",
        data=json.dumps({"query": "{ viewer { username entity } }"}),
        content_type="application/json",
        headers={"Authorization": basic_auth(NAME)},
    )
    assert r.json()["data"]["viewer"] == {"username": NAME, "entity": NAME}


def test_an_admin_user_is_a_superuser(post):
    post("db/user", {"command": "up", "username": NAME, "admin": True})
    assert get_user_model().objects.get(username=NAME).is_superuser


def test_a_user_that_exists_is_refused_and_nothing_is_written(post):
    make_user(post)
    status, answer = post("db/user", {"command": "up", "username": NAME})
    assert status == 400
    assert "Cannot create a user" in answer["error"]
    assert ApiKey.objects.count() == 1


def test_a_user_name_that_is_no_entity_name_writes_nothing(post):
    status, answer = post("db/user", {"command": "up", "username": "Bad Name With Spaces And Length Enough"})
    assert status == 400
    assert "Invalid entity name" in answer["error"]
    assert not get_user_model().objects.exists()


def test_down_stops_the_users_key(post):
    make_user(post)
    assert post("db/user", {"command": "down", "username": NAME})[0] == 200
    assert services.api_key_authenticate(NAME) is None


def test_an_organization_and_a_team_are_entities_with_their_maker_as_admin(post):
    make_user(post)
    assert post("db/organization", {"command": "up", "orgName": "org-gw0-abc", "username": NAME})[0] == 200
    data = {"planName": "plan-x", "team": {"name": "team-gw0-abc"}, "organization": {"name": "org-gw0-abc"}}
    assert post("db/team", {"command": "up", "username": NAME, "fixtureData": data})[0] == 200
    for name in ("org-gw0-abc", "team-gw0-abc"):
        assert Membership.objects.get(entity__name=name, user__username=NAME).role == Role.ADMIN


def test_add_members_gives_each_user_its_role(post):
    make_user(post)
    other = NAME.replace("gw0", "gw1")
    make_user(post, other)
    post("db/organization", {"command": "up", "orgName": "org-gw0-abc", "username": NAME})
    members = {"members": [{"username": other, "role": "viewer"}]}
    body = {"command": "add_members", "orgName": "org-gw0-abc", "fixtureData": members}
    assert post("db/organization", body)[0] == 200
    assert Membership.objects.get(entity__name="org-gw0-abc", user__username=other).role == Role.VIEWER


def test_an_unknown_role_is_refused(post):
    make_user(post)
    post("db/organization", {"command": "up", "orgName": "org-gw0-abc", "username": NAME})
    members = {"members": [{"username": NAME, "role": "owner"}]}
    body = {"command": "add_members", "orgName": "org-gw0-abc", "fixtureData": members}
    status, answer = post("db/organization", body)
    assert status == 400
    assert "Unknown role 'owner'" in answer["error"]


def test_down_of_an_organization_keeps_it(post):
    make_user(post)
    post("db/organization", {"command": "up", "orgName": "org-gw0-abc", "username": NAME})
    assert post("db/organization", {"command": "down", "orgName": "org-gw0-abc"})[0] == 200
    assert Entity.objects.filter(name="org-gw0-abc").exists()


def test_unsupported_commands_and_unknown_fixtures_say_so(post):
    status, answer = post("db/user", {"command": "logout", "username": NAME})
    assert (status, answer["error"]) == (400, "db/user 'logout' is not supported.")
    status, answer = post("db/project", {"command": "up"})
    assert status == 404
    assert "db/user, db/organization, db/team" in answer["error"]
    assert post("db/user", ["up"])[0] == 400


def test_an_organization_is_one_with_its_own_entity_and_its_team_belongs_to_it(post):
    from artifacts.models import Organization
    from registry import permissions as registry_permissions

    make_user(post)
    post("db/organization", {"command": "up", "orgName": "org-gw0-abc", "username": NAME})
    data = {"planName": "plan-x", "team": {"name": "team-gw0-abc"}, "organization": {"name": "org-gw0-abc"}}
    post("db/team", {"command": "up", "username": NAME, "fixtureData": data})
    organization = Organization.objects.get(name="org-gw0-abc")
    assert organization.entity.name == "org-gw0-abc"
    assert Entity.objects.get(name="team-gw0-abc").organization == organization
    # W&B's fixtures start bare: no core registries, so the tests may create "model" themselves.
    assert not organization.registries.exists()
    user = get_user_model().objects.get(username=NAME)
    assert registry_permissions.is_organization_admin(user, organization.pk)


def test_members_added_to_an_organization_without_teams_belong_to_it(post):
    from artifacts.models import Organization
    from registry import permissions as registry_permissions

    make_user(post)
    other = NAME.replace("gw0", "gw1")
    make_user(post, other)
    post("db/organization", {"command": "up", "orgName": "org-gw0-abc", "username": NAME})
    members = {"members": [{"username": other, "role": "member"}]}
    post("db/organization", {"command": "add_members", "orgName": "org-gw0-abc", "fixtureData": members})
    organization = Organization.objects.get(name="org-gw0-abc")
    user = get_user_model().objects.get(username=other)
    assert registry_permissions.organization_roles(user) == {organization.pk: Role.MEMBER}
