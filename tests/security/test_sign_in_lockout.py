"""django-axes on the sign-in page and the admin's: wrong passwords lock the account and the address."""

from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.urls import reverse
from pytest_django.asserts import assertContains

from tests.factories import PASSWORD, make_user

LOGIN_URLS = [reverse("login"), reverse("admin:login")]


def _sign_in(client, url: str, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def _fail_until_locked(client, url: str, settings, username: str = "bob", address: str = "10.0.0.1"):
    """Wrong passwords up to the limit: all but the last answered as usual, the last with the lockout page."""
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        r = _sign_in(client, url, username, "wrong", address)
        assert r.status_code == 200
        assertContains(r, "correct username and password")
    return _sign_in(client, url, username, "wrong", address)


@pytest.fixture
def staff(db):
    user = make_user("bob", superuser=True)
    make_user("carol", superuser=True)
    return user


@pytest.mark.parametrize("url", LOGIN_URLS)
def test_too_many_wrong_passwords_lock_the_account_even_for_the_right_one(client, staff, settings, url):
    r = _fail_until_locked(client, url, settings)
    assert r.status_code == 429
    r = _sign_in(client, url, "bob", PASSWORD)
    assert r.status_code == 429
    assertContains(r, "Sign-in locked", status_code=429)
    assertContains(r, "Try again in 15 minutes", status_code=429)
    # In the app's layout, not a bare line of text.
    assertContains(r, 'class="topbar"', status_code=429)
    assert r["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", LOGIN_URLS)
def test_the_locked_account_stays_locked_from_another_address(client, staff, settings, url):
    _fail_until_locked(client, url, settings, address="10.0.0.1")
    assert _sign_in(client, url, "bob", PASSWORD, address="10.9.9.9").status_code == 429
    assert _sign_in(client, url, "carol", PASSWORD, address="10.9.9.9").status_code == 302


@pytest.mark.parametrize("url", LOGIN_URLS)
def test_wrong_passwords_for_many_accounts_lock_the_address(client, staff, settings, url):
    for i in range(settings.AXES_FAILURE_LIMIT):
        r = _sign_in(client, url, f"guess{i}", "wrong", address="10.0.0.66")
    assert r.status_code == 429
    assert _sign_in(client, url, "carol", PASSWORD, address="10.0.0.66").status_code == 429
    assert _sign_in(client, url, "carol", PASSWORD, address="10.0.0.7").status_code == 302


def test_the_limit_and_cool_off_come_from_the_settings(client, staff, settings):
    settings.AXES_FAILURE_LIMIT = 2
    assert _sign_in(client, reverse("login"), "bob", "wrong").status_code == 200
    assert _sign_in(client, reverse("login"), "bob", "wrong").status_code == 429


def test_a_right_password_under_the_limit_signs_in(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _sign_in(client, reverse("login"), "bob", "wrong")
    assert _sign_in(client, reverse("login"), "bob", PASSWORD).status_code == 302


def test_an_admin_unlocks_an_account_by_deleting_its_attempts(client, staff, settings):
    _fail_until_locked(client, reverse("login"), settings)
    client.force_login(staff.__class__.objects.get(username="carol"))
    changelist = reverse("admin:axes_accessattempt_changelist")
    r = client.get(changelist)
    assertContains(r, "bob")
    attempt = AccessAttempt.objects.get(username="bob")
    r = client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert r.status_code == 302
    client.logout()
    assert _sign_in(client, reverse("login"), "bob", PASSWORD).status_code == 302


def test_axes_reset_username_unlocks_from_the_shell(client, staff, settings):
    _fail_until_locked(client, reverse("login"), settings)
    call_command("axes_reset_username", "bob", stdout=StringIO())
    assert _sign_in(client, reverse("login"), "bob", PASSWORD).status_code == 302


def test_the_admin_lists_failed_attempts_under_axes(client, staff):
    client.force_login(staff)
    assertContains(client.get(reverse("admin:index")), reverse("admin:axes_accessattempt_changelist"))
