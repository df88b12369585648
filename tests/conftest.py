import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls in tests are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from django.conf import settings as django_settings  # noqa: E402

# Tests serve static files straight from static/ (no collectstatic manifest).
STATICFILES = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
django_settings.STORAGES = {**django_settings.STORAGES, "staticfiles": STATICFILES}

from tests.factories import make_entity, make_project, make_user  # noqa: E402


@pytest.fixture(autouse=True)
def file_storage(settings, tmp_path: Path) -> Path:
    """Real bytes on disk, in a fresh directory per test."""
    root = tmp_path / "files"
    settings.DATA_DIR = tmp_path
    settings.STORAGES = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root, "allow_overwrite": True},
        },
        "staticfiles": STATICFILES,
    }
    return root


@pytest.fixture
def team(db):
    """Entity `reviewco` with an admin, a member and a viewer; `outsider` belongs to another entity."""
    admin = make_user("alice")
    member = make_user("bob")
    viewer = make_user("vera")
    outsider = make_user("oscar")
    entity = make_entity("reviewco", admin=[admin], member=[member], viewer=[viewer], protected=["production"])
    make_entity("otherco", admin=[outsider])
    return type(
        "Team",
        (),
        {"entity": entity, "admin": admin, "member": member, "viewer": viewer, "outsider": outsider},
    )


@pytest.fixture
def project(team):
    return make_project(team.entity, "mnist")
