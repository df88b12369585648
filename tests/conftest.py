import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls in tests are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from django.conf import settings as django_settings  # noqa: E402

# Tests serve static files straight from static/ (no collectstatic manifest).
STATICFILES = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
django_settings.STORAGES = {**django_settings.STORAGES, "staticfiles": STATICFILES}
# Users are created in nearly every test; the production hasher is deliberately slow.
django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

from tests.factories import make_entity, make_project, make_user  # noqa: E402

S3_TEST_BUCKET = "registry-test"


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    from tests.test_s3_storage import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(settings, s3_endpoint, monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=S3_TEST_BUCKET)
    # Bytes stream through the app (S3_DIRECT=0); tests/wandb_api/test_s3_direct.py turns direct transfers on.
    settings.S3_DIRECT_TRANSFERS = False
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": S3_TEST_BUCKET,
                "endpoint_url": s3_endpoint,
                "file_overwrite": True,
                "signature_version": "s3v4",  # as settings.py configures it
            },
        },
    }
    yield client
    for obj in client.list_objects_v2(Bucket=S3_TEST_BUCKET).get("Contents", []):
        client.delete_object(Bucket=S3_TEST_BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=S3_TEST_BUCKET)


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


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Debian's Chromium through Playwright. Never skipped: a missing browser is a failure."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


# Every page a browser test opens reports what its Content-Security-Policy refused.
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => window.reportCspViolation(
  `${e.effectiveDirective} refused ${e.blockedURI || "inline code"} on ${e.documentURI}:${e.lineNumber} ${e.sample}`
), true);
"""


@pytest.fixture
def csp_violations() -> list[str]:
    """What the CSP refused during the test; the `page` fixture fails the test unless it stays empty."""
    return []


@pytest.fixture
def page(browser, live_server, csp_violations: list[str]) -> Iterator:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    context.expose_binding("reportCspViolation", lambda source, message: csp_violations.append(message))
    context.add_init_script(CSP_WATCH)
    pg = context.new_page()
    yield pg
    context.close()
    assert not csp_violations, "The Content-Security-Policy refused:\n" + "\n".join(csp_violations)


@pytest.fixture
def demo(team):
    """The demo data (SPEC's seed examples) inside the `team` fixture's entity."""
    from io import StringIO

    from django.core.management import call_command

    call_command("load_demo", stdout=StringIO())
    return team
