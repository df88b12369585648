import threading
import time

import pytest
from django.db import connection, connections

from registry import services
from registry.models import Link
from tests.factories import log_version

THREADS = 32


@pytest.mark.django_db(transaction=True)
def test_32_threads_linking_at_once_get_v0_to_v31(team, project):
    """Real threads, each with its own connection to the real database file (or PostgreSQL)."""
    if connection.vendor == "sqlite":
        assert connection.settings_dict["NAME"] not in ("", ":memory:") and "mode=memory" not in str(
            connection.settings_dict["NAME"]
        )
    versions = [log_version(project, "mnist_model", content=f"weights {i}".encode()) for i in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(version):
        try:
            barrier.wait()
            # The registered model does not exist yet: creating it races too.
            services.link_version(
                version=version, user=team.member, entity=team.entity, registered_model_name="Race-Model"
            )
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    indexes = sorted(Link.objects.filter(registered_model__name="Race-Model").values_list("index", flat=True))
    assert indexes == list(range(THREADS))
    sources = Link.objects.filter(registered_model__name="Race-Model").values_list("source", flat=True)
    assert len(set(sources)) == THREADS


def _race(create, n: int = 8) -> tuple[list, list, list]:
    """`create()` from n threads released at once: what was made, the codes of the refusals, other errors."""
    from django.core.exceptions import ValidationError

    barrier = threading.Barrier(n)
    made, refused, errors = [], [], []

    def worker():
        try:
            barrier.wait()
            made.append(create())
        except ValidationError as exc:
            refused.append(exc.code)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return made, refused, errors


@pytest.mark.django_db(transaction=True)
def test_creating_one_name_at_once_makes_one_and_tells_the_others_it_exists(team):
    """On PostgreSQL the requests all pass the name check before any inserts (SQLite queues whole transactions):
    registered models, teams and runs alike."""
    from artifacts import services as artifact_services
    from artifacts.models import Entity, Run
    from registry.models import RegisteredModel
    from tests.factories import make_project

    project = make_project(team.entity, "race")
    cases = [
        (
            lambda: services.registered_model_create(name="Same", user=team.admin, entity=team.entity),
            RegisteredModel.objects.filter(name="Same"),
        ),
        (lambda: artifact_services.entity_create(name="same-team"), Entity.objects.filter(name="same-team")),
        (
            lambda: artifact_services.run_create(project=project, user=team.admin, run_id="same-run"),
            Run.objects.filter(run_id="same-run"),
        ),
    ]
    for create, rows in cases:
        made, refused, errors = _race(create)
        assert errors == [] and len(made) == 1 and refused == ["duplicate"] * 7
        assert rows.count() == 1


def _advisory_locks(key: tuple[int, int]) -> list[bool]:
    """Whether each advisory lock on `key` in the database is granted (False: a caller waiting in line)."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT granted FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s ORDER BY granted",
            [*key],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL grants a contended row lock out of order")
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_linkers_wait_in_line_and_get_the_model_in_the_order_they_asked(team, project):
    """A row lock alone lets a newcomer take the row before callers that waited (registry_site/locks.py): each
    linker first queues on the registered model's advisory lock, which PostgreSQL grants in order."""
    from django.db import transaction

    from registry.models import RegisteredModel
    from registry_site.locks import advisory_key

    first = services.link_version(
        version=log_version(project, content=b"v0"), user=team.member, entity=team.entity, registered_model_name="Q"
    ).link
    key = advisory_key(RegisteredModel, first.registered_model_id)
    versions = [log_version(project, content=f"in line {i}".encode()) for i in range(3)]
    labels: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(i):
        try:
            labels[i] = services.link_version(
                version=versions[i], user=team.member, entity=team.entity, registered_model_name="Q"
            ).link.label
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    with transaction.atomic():
        services._lock_model(first.registered_model_id)
        assert _advisory_locks(key) == [True]
        for n, thread in enumerate(threads, start=1):
            thread.start()
            # Each caller is in line (waiting on the advisory lock) before the next one asks.
            deadline = time.monotonic() + 10
            while _advisory_locks(key).count(False) < n and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _advisory_locks(key) == [False] * n + [True]
    for thread in threads:
        thread.join()
    assert errors == []
    assert labels == {0: "v1", 1: "v2", 2: "v3"}
    assert _advisory_locks(key) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's advisory and row locks")
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_an_edit_then_a_link_in_one_transaction_never_deadlocks_with_a_waiting_linker(team, project):
    """Every writer of a registered model waits in line before it locks the row: an edit that locked the row
    plainly, then linked, would ask for the line's lock held by a linker waiting for that row."""
    from django.db import transaction

    first = services.link_version(
        version=log_version(project, content=b"v0"), user=team.member, entity=team.entity, registered_model_name="E"
    ).link
    rm = first.registered_model
    other, mine = log_version(project, content=b"other"), log_version(project, content=b"mine")
    labels: dict[str, str] = {}
    errors: list[BaseException] = []

    def waiting_linker():
        try:
            labels["other"] = services.link_version(
                version=other, user=team.member, entity=team.entity, registered_model_name="E"
            ).link.label
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=waiting_linker)
    with transaction.atomic():
        services.registered_model_update(registered_model=rm, user=team.admin, description="edited")
        thread.start()
        deadline = time.monotonic() + 10
        while not _waiting() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _waiting()
        labels["mine"] = services.link_version(version=mine, user=team.member, registered_model=rm).link.label
    thread.join()
    assert errors == []
    assert labels == {"mine": "v1", "other": "v2"}


def _waiting() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


def test_the_advisory_key_is_the_tables_and_the_rows_within_32_bits():
    from registry.models import RegisteredModel
    from registry_site.locks import advisory_key

    table, row = advisory_key(RegisteredModel, 2**40 + 7)
    assert (table, row) == (advisory_key(RegisteredModel, 1)[0], 7)
    assert 0 <= table < 2**31
    assert table != advisory_key(Link, 1)[0]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's versions (PostgreSQL always has RETURNING)")
@pytest.mark.django_db(transaction=True)
def test_a_database_that_cannot_return_from_an_update_still_numbers_links(team, project, monkeypatch):
    """SQLite before 3.35 (Django supports 3.31 on): the index is read after the update instead."""
    monkeypatch.setitem(connection.features.__dict__, "can_return_columns_from_insert", False)
    versions = [log_version(project, content=f"old sqlite {i}".encode()) for i in range(3)]
    labels = [
        services.link_version(version=v, user=team.member, entity=team.entity, registered_model_name="Old").link.label
        for v in versions
    ]
    assert labels == ["v0", "v1", "v2"]
    from registry.models import RegisteredModel

    assert RegisteredModel.objects.get(name="Old").num_versions == 3
