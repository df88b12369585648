"""Faults of the machinery answer a status, a one-line reason and Retry-After, and change nothing.

Real faults: a store subclass that fails as a full, read-only or broken disk does; an S3 endpoint nobody listens
on; SQLite's write lock held by another connection.
"""

import errno
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from artifacts import services
from artifacts.models import ApiKey, ArtifactAlias
from artifacts.storage import manifest_digest
from tests.factories import log_version, make_run, snapshot
from tests.test_s3_storage import free_port
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, b64md5, basic_auth
from wandb_api import ids

CONTENT = b"model weights" * 100_000


class FailingStore(FileSystemStorage):
    """Local files whose writes (and, with `reads`, reads) fail with `error`, half a file written first."""

    error = errno.ENOSPC
    reads = False

    def _save(self, name: str, content) -> str:
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.read()
        path.write_bytes(data[: len(data) // 2])
        raise OSError(self.error, os.strerror(self.error))

    def _open(self, name: str, mode: str = "rb"):
        if self.reads:
            raise OSError(self.error, os.strerror(self.error))
        return super()._open(name, mode)


@pytest.fixture
def failing_store(settings, file_storage) -> Callable[..., None]:
    def use(error: int, *, reads: bool = False) -> None:
        FailingStore.error, FailingStore.reads = error, reads
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": f"{__name__}.FailingStore", "OPTIONS": {"location": file_storage}},
        }

    return use


def stored(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def upload_url(client, team, project) -> str:
    """A signed URL for `model.pt` = CONTENT in a new pending version, as createArtifactFiles hands it out."""
    version = services.version_create(
        run=make_run(project),
        user=team.member,
        name="mnist_model",
        type="model",
        digest=manifest_digest({"model.pt": b64md5(CONTENT)}),
    ).version
    spec = {"artifactID": ids.encode("Artifact", version.pk), "name": "model.pt", "md5": b64md5(CONTENT)}
    body = graphql(client, documents.CREATE_ARTIFACT_FILES, {"input": {"artifactFiles": [spec]}}, api_key(team.member))
    return body.json()["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]


def graphql(client, query: str, variables: dict | None, key: str):
    return client.post(
        "/graphql",
        data=json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
        headers={"Authorization": basic_auth(key)},
    )


def message(response) -> str:
    return response.json()["errors"][0]["message"]


def test_a_full_store_answers_507_and_nothing_half_written_is_visible(
    client, team, project, file_storage, failing_store, settings
):
    log_version(project, "cnn", content=b"kept")
    url = upload_url(client, team, project)
    before, files = snapshot(), stored(file_storage)
    failing_store(errno.ENOSPC)
    response = client.put(url, data=CONTENT, content_type="application/octet-stream")
    assert response.status_code == 507
    assert message(response) == "The server's file store is full; nothing was stored."
    assert response["Retry-After"] == "600"
    assert snapshot() == before
    assert stored(file_storage) == files
    spool = settings.DATA_DIR / "tmp"
    assert not spool.exists() or not any(spool.iterdir())


def test_a_read_only_store_answers_503_with_the_reason(client, team, project, file_storage, failing_store):
    url = upload_url(client, team, project)
    before, files = snapshot(), stored(file_storage)
    failing_store(errno.EROFS)
    response = client.put(url, data=CONTENT, content_type="application/octet-stream")
    assert response.status_code == 503
    assert message(response) == "The server's file store failed (Read-only file system); try again later."
    assert response["Retry-After"] == "60"
    assert snapshot() == before
    assert stored(file_storage) == files


def test_a_failing_store_shows_the_reason_in_the_pages_layout(client, team, project, failing_store):
    version = log_version(project, content=CONTENT)
    failing_store(errno.EIO, reads=True)
    client.force_login(team.viewer)
    response = client.get(version.file_url("model.pt"))
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    page = response.content.decode()
    assert 'class="topbar"' in page
    assert "<h1>Storage unavailable</h1>" in page
    assert "file store failed (Input/output error)" in page


@pytest.fixture
def s3_down(settings, monkeypatch) -> Callable[[], None]:
    def use() -> None:
        for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]:
            monkeypatch.setenv(key, "testing")
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": "down", "endpoint_url": f"http://127.0.0.1:{free_port()}"},
            },
        }

    return use


def test_an_unreachable_s3_store_answers_503_to_the_api_and_the_pages(client, team, project, s3_down):
    stored_weights = b"stored weights"
    version = log_version(project, "cnn", content=stored_weights)
    url = upload_url(client, team, project)
    pending = services.version_create(
        run=make_run(project), user=team.member, name="again", type="model", digest=version.digest
    ).version
    spec = {"artifactID": ids.encode("Artifact", pending.pk), "name": "model.pt", "md5": b64md5(stored_weights)}
    s3_down()
    before = snapshot()
    # The dedupe check asks the store whether it holds the bytes: a GraphQL answer of 503, not "internal error".
    response = graphql(
        client, documents.CREATE_ARTIFACT_FILES, {"input": {"artifactFiles": [spec]}}, api_key(team.member)
    )
    assert response.status_code == 503
    assert message(response) == "The server's S3 store cannot be reached; try again later."
    assert response["Retry-After"] == "60"
    upload = client.put(url, data=CONTENT, content_type="application/octet-stream")
    assert (upload.status_code, message(upload)) == (503, message(response))
    client.force_login(team.viewer)
    page = client.get(version.file_url("model.pt"))
    assert page.status_code == 503
    assert "S3 store cannot be reached" in page.content.decode()
    assert {k: v for k, v in snapshot().items() if k != "ApiKey"} == {k: v for k, v in before.items() if k != "ApiKey"}


@pytest.fixture
def write_lock(transactional_db) -> Iterator[Callable[[], AbstractContextManager[None]]]:
    """SQLite's write lock, held by another connection; this one waits 0.2 s for it instead of 30."""
    if connection.vendor != "sqlite":
        pytest.skip("the write lock is SQLite's")
    options = connection.settings_dict["OPTIONS"]
    timeout = options.get("timeout")
    connection.close()
    options["timeout"] = 0.2
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)

    @contextmanager
    def held() -> Iterator[None]:
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")

    yield held
    other.close()
    options["timeout"] = timeout
    connection.close()


def test_a_busy_database_answers_503_to_the_api_and_the_pages(client, team, project, write_lock):
    version = log_version(project, "cnn", content=b"weights")
    key = api_key(team.member)
    client.force_login(team.member)
    before = snapshot()
    with write_lock():
        response = graphql(client, documents.UPSERT_BUCKET, {"entity": "reviewco", "project": "mnist"}, key)
        page = client.post(reverse("artifacts:version_alias_add", args=version._args()), {"alias": "best"})
        swap = client.post(
            reverse("artifacts:version_alias_add", args=version._args()),
            {"alias": "best"},
            headers={"HX-Request": "true", "HX-Target": "version-aliases"},
        )
    assert response.status_code == 503
    assert message(response) == "The database is busy with another write; try again shortly."
    assert response["Retry-After"] == "10"
    assert page.status_code == 503
    assert "The database is busy with another write" in page.content.decode()
    assert 'class="topbar"' in page.content.decode()
    # For htmx, app.js shows the page's [data-error-message] where the user looks.
    assert swap.status_code == 503
    assert (
        '<p class="fault-reason" data-error-message>The database is busy with another write; try again shortly.</p>'
        in swap.content.decode()
    )
    assert snapshot() == before
    assert not ArtifactAlias.objects.filter(name="best").exists()


def test_a_read_does_not_wait_for_the_write_lock(client, team, write_lock):
    key = api_key(team.member)
    with write_lock():
        started = time.monotonic()
        response = graphql(client, documents.VIEWER, None, key)
        elapsed = time.monotonic() - started
    assert response.status_code == 200, response.content
    assert response.json()["data"]["viewer"]["username"] == "bob"
    # The key's use could not be recorded meanwhile: it is dropped, never a failed request.
    assert ApiKey.objects.get(user=team.member).last_used_at is None
    assert elapsed < 5


def test_a_keys_use_is_recorded_at_most_once_a_minute(client, team, db):
    key = api_key(team.member)
    graphql(client, documents.VIEWER, None, key)
    first = ApiKey.objects.get(user=team.member).last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        assert graphql(client, documents.VIEWER, None, key).status_code == 200
    assert not [q for q in queries if q["sql"].startswith("UPDATE")]
    ApiKey.objects.update(last_used_at=first - timedelta(minutes=2))
    graphql(client, documents.VIEWER, None, key)
    assert ApiKey.objects.get(user=team.member).last_used_at > first - timedelta(seconds=1)
    assert ApiKey.objects.get(user=team.member).last_used_at <= timezone.now()


def test_an_unexpected_error_is_still_djangos_500(client, team, project, monkeypatch):
    def broken(**kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "alias_set", broken)
    client.raise_request_exception = False
    version = log_version(project, "cnn", content=b"weights")
    client.force_login(team.member)
    response = client.post(reverse("artifacts:version_alias_add", args=version._args()), {"alias": "best"})
    assert response.status_code == 500
    assert not response.has_header("Retry-After")


@contextmanager
def sqlite_pragma(name: str, value: object) -> Iterator[None]:
    """A real SQLite limit on the test's connection (the one the client's requests use), for the block."""
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA {name} = {value}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA {name} = {before}")


@pytest.fixture
def sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's own limits")


def test_a_full_database_answers_507_and_writes_nothing(client, team, project, sqlite_only):
    version = log_version(project, "cnn", content=b"weights")
    key = api_key(team.member)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
    before = snapshot()
    # As full as it is now: a write that needs one more page fails as on a full disk.
    with sqlite_pragma("max_page_count", pages):
        config = json.dumps({"notes": {"value": "a long note " * 10_000}})
        response = graphql(
            client, documents.UPSERT_BUCKET, {"entity": "reviewco", "project": "another", "config": config}, key
        )
    assert response.status_code == 507, response.content
    assert message(response) == "The server's database disk is full; nothing was written."
    assert response["Retry-After"] == "600"
    assert snapshot() == before
    assert version.artifact.project.entity.projects.filter(name="another").count() == 0


def test_a_database_that_refuses_writes_answers_503_to_the_api_and_the_pages(client, team, project, sqlite_only):
    version = log_version(project, "cnn", content=b"weights")
    key = api_key(team.member)
    client.force_login(team.member)
    before = snapshot()
    reason = "The server cannot write to its database; nothing was written."
    # SQLite's own read-only mode: every write fails as on a read-only file or disk.
    with sqlite_pragma("query_only", "ON"):
        response = graphql(client, documents.UPSERT_BUCKET, {"entity": "reviewco", "project": "another"}, key)
        page = client.post(reverse("artifacts:version_alias_add", args=version._args()), {"alias": "best"})
    assert response.status_code == 503, response.content
    assert message(response) == reason
    assert response["Retry-After"] == "60"
    assert page.status_code == 503
    assert reason in page.content.decode()
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_answers_503_even_from_the_middleware(client, team, project, tmp_path):
    """The database cannot be reached (SQLite's file gone with its directory; PostgreSQL's server not listening).
    A view's fault is answered by the fault middleware; a URL no view serves fails in Django's 404 handler (its
    page shows the signed-in user), outside any view, and Django's 500 handler answers the reason as well."""
    key = api_key(team.member)
    client.force_login(team.member)
    client.raise_request_exception = False
    settings_dict = connection.settings_dict
    saved = dict(settings_dict)
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = str(tmp_path / "gone" / "db.sqlite3")
    else:
        settings_dict["PORT"] = str(free_port())
    connection.close()
    try:
        response = graphql(client, documents.VIEWER, None, key)
        page = client.get("/reviewco/mnist/artifacts")
        nowhere = client.get("/no/page/is/served/here/at/all", headers={"Accept": "text/html"})
    finally:
        settings_dict.update(saved)
        connection.close()
    reason = "The server's database cannot be reached; try again later."
    assert response.status_code == 503, response.content
    assert message(response) == reason
    assert page.status_code == 503, page.content[:500]
    assert reason in page.content.decode()
    assert page["Retry-After"] == "60"
    assert nowhere.status_code == 503, nowhere.content[:500]
    assert reason in nowhere.content.decode()
    # Reached again, the same page is served.
    assert client.get("/reviewco/mnist/artifacts").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_postgresql_that_refuses_writes_answers_503(client, team, project):
    """PostgreSQL names the fault by SQLSTATE (25006 read_only_sql_transaction, as on a standby)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's read-only transactions")
    version = log_version(project, "cnn", content=b"weights")
    client.force_login(team.member)
    client.raise_request_exception = False
    before = snapshot()
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")
    try:
        page = client.post(reverse("artifacts:version_alias_add", args=version._args()), {"alias": "best"})
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET default_transaction_read_only = off")
    assert page.status_code == 503, page.content[:300]
    assert "The server cannot write to its database; nothing was written." in page.content.decode()
    assert snapshot() == before
