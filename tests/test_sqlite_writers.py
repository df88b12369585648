"""registry_site/sqlite: SQLite's writers queue in the kernel (a flock beside the database), not in SQLite's busy
handler, so the next writer goes in the moment the last one commits, in whichever process it waits."""

import contextlib
import fcntl
import os
import subprocess
import sys
import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from artifacts.models import Entity

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("the writer queue is SQLite's (PostgreSQL queues writers on its row locks)")


def _lock_file() -> str:
    return f"{connection.settings_dict['NAME']}.writers"


def _held_elsewhere() -> bool:
    """Whether a transaction holds the queue: another open file description cannot take the flock."""
    fd = os.open(_lock_file(), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_transaction_holds_the_queue_until_commit_or_rollback():
    assert connection.vendor == "sqlite" and type(connections["default"]).__module__ == "registry_site.sqlite.base"
    with transaction.atomic():
        Entity.objects.create(name="one")
        assert _held_elsewhere()
    assert not _held_elsewhere()

    with pytest.raises(RuntimeError), transaction.atomic():
        Entity.objects.create(name="two")
        assert _held_elsewhere()
        raise RuntimeError("rolled back")
    assert not _held_elsewhere()
    assert list(Entity.objects.values_list("name", flat=True)) == ["one"]

    # Reads and writes outside a transaction take no part in the queue.
    Entity.objects.filter(name="one").update(name="uno")
    assert not _held_elsewhere()


def test_closing_a_connection_mid_transaction_frees_the_queue():
    connection.ensure_connection()
    connection._start_transaction_under_autocommit()  # what atomic() does first on SQLite
    Entity.objects.create(name="gone")
    assert _held_elsewhere()
    connection.close()
    assert not _held_elsewhere()
    assert not Entity.objects.filter(name="gone").exists()


@contextlib.contextmanager
def _timeout(seconds: float):
    """The connection's `timeout` option (how long a writer waits) set to `seconds` meanwhile."""
    options = connection.settings_dict["OPTIONS"]
    saved, options["timeout"] = options["timeout"], seconds
    try:
        yield
    finally:
        options["timeout"] = saved


def _statements(events: list[str], who: str):
    def wrapper(execute, sql, params, many, context):
        if sql.startswith("BEGIN"):
            events.append(f"{who} {sql.split()[0]}")
        return execute(sql, params, many, context)

    return wrapper


def test_a_second_writer_waits_in_the_queue_and_begins_only_after_the_first_commits():
    """With SQLite's own lock, the second writer's BEGIN IMMEDIATE would be sent at once and wait inside SQLite,
    polling; here it is sent only once the first writer has committed."""
    events: list[str] = []
    holding, waiting = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first():
        try:
            with connection.execute_wrapper(_statements(events, "first")), transaction.atomic():
                Entity.objects.create(name="first")
                holding.set()
                assert waiting.wait(10)
                # Give the second writer every chance to send its BEGIN now, if it were not queued.
                threading.Event().wait(0.3)
                events.append("first committing")
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    def second():
        try:
            assert holding.wait(10)
            waiting.set()
            with connection.execute_wrapper(_statements(events, "second")), transaction.atomic():
                Entity.objects.create(name="second")
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert events == ["first BEGIN", "first committing", "second BEGIN"]
    assert sorted(Entity.objects.values_list("name", flat=True)) == ["first", "second"]


def test_a_writer_that_waits_longer_than_the_timeout_fails_as_sqlite_would_and_writes_nothing():
    holding, done = threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                Entity.objects.create(name="held")
                holding.set()
                done.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(10)
        with _timeout(0.2), pytest.raises(OperationalError, match="database is locked"), transaction.atomic():
            Entity.objects.create(name="late")
    finally:
        done.set()
        thread.join(30)
    assert list(Entity.objects.values_list("name", flat=True)) == ["held"]
    assert not _held_elsewhere()


def _hold_in_another_process() -> subprocess.Popen:
    """A process holding the queue until a line is written to its stdin."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX);"
            " print('held', flush=True); sys.stdin.readline()",
            _lock_file(),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_writer_in_another_process_holds_the_queue_and_the_next_one_goes_in_when_it_lets_go():
    """Other processes (gunicorn's other workers, management commands) queue on the same file."""
    holder = _hold_in_another_process()
    try:
        began = threading.Event()

        def writer():
            try:
                with transaction.atomic():
                    began.set()
                    Entity.objects.create(name="after")
            finally:
                connections.close_all()

        thread = threading.Thread(target=writer)
        thread.start()
        assert not began.wait(0.5), "the writer went in while another process held the queue"
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert began.wait(10)
        thread.join(10)
    finally:
        holder.kill()
        holder.wait()
    assert Entity.objects.filter(name="after").exists()


def test_a_wait_on_another_process_ends_at_the_timeout_too_and_the_queue_works_after():
    holder = _hold_in_another_process()
    try:
        with _timeout(0.3), pytest.raises(OperationalError, match="database is locked"), transaction.atomic():
            Entity.objects.create(name="late")
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(10)
    assert not Entity.objects.exists()
    with transaction.atomic():
        Entity.objects.create(name="later")
        assert _held_elsewhere()
    assert not _held_elsewhere()
    assert list(Entity.objects.values_list("name", flat=True)) == ["later"]


def test_the_task_queues_exclusive_transactions_queue_too():
    """django-tasks-db's worker claims tasks in BEGIN EXCLUSIVE transactions: writers all the same."""
    from django_tasks_db.utils import exclusive_transaction

    with exclusive_transaction():
        Entity.objects.create(name="claimed")
        assert _held_elsewhere()
    assert not _held_elsewhere()


def test_a_lock_file_that_cannot_be_opened_is_a_database_error_naming_it_and_nothing_is_written(tmp_path):
    name = connection.settings_dict["NAME"]
    lock_file = tmp_path / "db.sqlite3.writers"
    lock_file.mkdir()  # a directory where the lock file should be: it cannot be opened as one
    connection.close()
    connection.settings_dict["NAME"] = str(tmp_path / "db.sqlite3")
    try:
        with pytest.raises(OperationalError, match="writers' queue"), transaction.atomic():
            Entity.objects.create(name="never")
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name
    assert not Entity.objects.exists()
