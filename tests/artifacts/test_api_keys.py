import hashlib
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from artifacts import services
from artifacts.models import ApiKey


def test_the_profile_page_needs_sign_in(client, db):
    r = client.get(reverse("profile"))
    assert r.status_code == 302
    assert r["Location"].startswith(reverse("login"))


def test_creating_a_key_shows_it_once_and_stores_only_its_hash(client, team):
    client.force_login(team.member)
    r = client.post(reverse("profile"), {"name": "laptop"}, follow=True)
    assert r.redirect_chain == [(reverse("profile"), 302)]
    secret = r.context["new_secret"]
    assert len(secret) >= 40
    assertContains(r, secret)
    key = ApiKey.objects.get(user=team.member)
    assert key.name == "laptop"
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {key.key_hash, key.prefix, key.name}
    r = client.get(reverse("profile"))
    assertNotContains(r, secret)
    assertContains(r, "laptop")
    assertContains(r, f"{secret[:8]}…")


def test_the_profile_shows_the_two_variables_with_this_servers_url(client, team):
    client.force_login(team.member)
    r = client.get(reverse("profile"))
    assertContains(r, "export WANDB_BASE_URL=http://testserver")
    assertContains(r, "export WANDB_API_KEY=")


def test_a_too_long_key_name_is_a_form_error_and_creates_nothing(client, team):
    client.force_login(team.member)
    r = client.post(reverse("profile"), {"name": "x" * 101})
    assert r.status_code == 200
    assert r.context["form"].errors["name"]
    assert ApiKey.objects.count() == 0


def test_a_key_authenticates_until_revoked(client, team):
    key, secret = services.api_key_create(user=team.member, name="ci")
    assert services.api_key_authenticate(secret) == team.member
    assert services.api_key_authenticate(secret[:-1] + "x") is None
    client.force_login(team.member)
    r = client.post(reverse("api_key_revoke", args=[key.pk]))
    assert r.status_code == 302
    assert services.api_key_authenticate(secret) is None


def test_revoking_someone_elses_key_is_404(client, team):
    key, secret = services.api_key_create(user=team.admin)
    client.force_login(team.member)
    assert client.post(reverse("api_key_revoke", args=[key.pk])).status_code == 404
    assert services.api_key_authenticate(secret) == team.admin


def test_revoking_needs_a_post(client, team):
    key, _ = services.api_key_create(user=team.member)
    client.force_login(team.member)
    assert client.get(reverse("api_key_revoke", args=[key.pk])).status_code == 405


def test_the_command_prints_a_working_key(team):
    out = StringIO()
    call_command("create_api_key", "bob", "--name=script", stdout=out)
    secret = out.getvalue().strip()
    assert len(secret) >= 40
    assert services.api_key_authenticate(secret) == team.member


def test_the_command_rejects_an_unknown_user(db):
    with pytest.raises(CommandError, match="Unknown user 'ghost'"):
        call_command("create_api_key", "ghost")
    assert ApiKey.objects.count() == 0


def test_an_imported_key_authenticates_and_stores_only_its_hash(team):
    secret = "user_gw0-0123456789abcdef0123456789abcdef01234567"
    key = services.api_key_import(user=team.member, secret=secret, name="fixtures")
    assert services.api_key_authenticate(secret) == team.member
    assert (key.name, key.prefix) == ("fixtures", secret[:8])
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()


@pytest.mark.parametrize(
    "secret, message",
    [
        ("x" * 31, "32 to 256 printable ASCII"),
        ("x" * 257, "32 to 256 printable ASCII"),
        ("with a space" + "x" * 30, "32 to 256 printable ASCII"),
        ("é" * 40, "32 to 256 printable ASCII"),
    ],
)
def test_an_imported_key_is_long_and_printable(team, secret, message):
    with pytest.raises(ValidationError, match=message):
        services.api_key_import(user=team.member, secret=secret)
    assert ApiKey.objects.count() == 0


def test_an_imported_key_another_key_has_is_refused(team):
    secret = "s" * 40
    services.api_key_import(user=team.member, secret=secret)
    with pytest.raises(ValidationError, match="Another API key has this secret"):
        services.api_key_import(user=team.admin, secret=secret)
    assert services.api_key_authenticate(secret) == team.member
