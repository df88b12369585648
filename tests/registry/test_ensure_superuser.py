from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from artifacts.models import Membership, Role
from tests.factories import PASSWORD, make_entity, make_user


def ensure(monkeypatch, **env: str) -> str:
    for name in ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD", "DJANGO_SUPERUSER_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = StringIO()
    call_command("ensure_superuser", stdout=out)
    return out.getvalue()


def test_it_creates_admin_with_a_random_password_shown_once(db, monkeypatch):
    out = ensure(monkeypatch)
    password = out.split("with password: ")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password(password)
    assert ensure(monkeypatch).strip() == "Superuser 'admin' exists: its password stays as it is."
    assert get_user_model().objects.get(username="admin").check_password(password)


def test_it_creates_the_superuser_named_in_the_environment_with_its_password(db, monkeypatch):
    out = ensure(monkeypatch, DJANGO_SUPERUSER_USERNAME="root", DJANGO_SUPERUSER_PASSWORD="s3cret-enough")
    assert out.strip() == "Created superuser 'root'."
    assert get_user_model().objects.get(username="root").check_password("s3cret-enough")


def test_it_never_resets_the_password_of_an_existing_superuser(db, monkeypatch):
    ensure(monkeypatch, DJANGO_SUPERUSER_PASSWORD="the first one")
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed in the admin")
    admin.save()
    out = ensure(monkeypatch, DJANGO_SUPERUSER_PASSWORD="the first one")
    assert out.strip() == "Superuser 'admin' exists: its password stays as it is."
    admin.refresh_from_db()
    assert admin.check_password("changed in the admin")


def test_an_existing_user_of_that_name_becomes_a_superuser_and_keeps_its_password(db, monkeypatch):
    make_user("admin")
    ensure(monkeypatch, DJANGO_SUPERUSER_PASSWORD="not this one")
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password(PASSWORD)


def test_a_superuser_another_server_creates_at_the_same_moment_is_taken_as_it_is(db, monkeypatch):
    User = get_user_model()
    theirs = make_user("admin", superuser=True)
    # The other server's user appears between the check and the create.
    monkeypatch.setattr(User.objects, "filter", lambda **lookup: User.objects.none())
    out = ensure(monkeypatch, DJANGO_SUPERUSER_PASSWORD="not this one")
    assert out.strip() == "Superuser 'admin' was just created by another server."
    assert list(User.objects.all()) == [theirs]
    assert User.objects.get().check_password(PASSWORD)


def test_the_superuser_becomes_an_admin_of_the_demo_entity(db, monkeypatch):
    ensure(monkeypatch)
    entity = make_entity("reviewco")
    ensure(monkeypatch)
    assert Membership.objects.get(entity=entity, user__username="admin").role == Role.ADMIN
