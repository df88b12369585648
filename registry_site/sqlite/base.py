"""Django's SQLite backend, with its writers queued in the kernel instead of in SQLite's busy handler.

SQLite lets one writer in at a time. The others wait in its busy handler, which sleeps and tries again (after 1, 2,
5 ... then 100 ms): a writer that commits wakes nobody, so under contention the lock sits free between sleeps while
the queue grows, and a late writer can overtake one that has waited long. Here each transaction Django starts as a
writer (`atomic`: BEGIN IMMEDIATE, settings.SQLITE_OPTIONS; django-tasks-db's BEGIN EXCLUSIVE) first takes this
process's lock for the database, then an exclusive flock on a file beside it (`<database>.writers`), held until
COMMIT or ROLLBACK: writers of every process sleep in the kernel, and the next one wakes the moment the last one is
done. Writes outside `atomic` (autocommit) keep SQLite's own waiting.

A writer waits at most the connection's `timeout` in all (as long as SQLite would), then fails with "database is
locked", as SQLite would, having written nothing.
"""

import fcntl
import os
import threading
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

QUEUED_MODES = ("IMMEDIATE", "EXCLUSIVE")

_process_locks: dict[str, "threading.Lock"] = {}
_process_locks_guard = threading.Lock()


def _process_lock(path: str) -> "threading.Lock":
    with _process_locks_guard:
        return _process_locks.setdefault(path, threading.Lock())


def _flock(fd: int, timeout: float) -> bool:
    """Take the flock on `fd` within `timeout` seconds. Waiting for it is one blocking call (it returns the moment
    the holder lets go), made in a helper thread so that the wait can end: when it does, the helper keeps `fd`,
    releases the flock once it gets it, and closes `fd` (the caller must forget it)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    got, guard, state = threading.Event(), threading.Lock(), {"abandoned": False, "error": None}

    def wait() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            state["error"] = exc
        with guard:
            if state["abandoned"]:
                os.close(fd)  # closing releases the flock, if it was taken
                return
            got.set()

    threading.Thread(target=wait, name="sqlite-writers-queue", daemon=True).start()
    got.wait(timeout)
    with guard:
        if not got.is_set():
            state["abandoned"] = True
            return False
    if state["error"] is not None:
        raise state["error"]
    return True


class DatabaseWrapper(base.DatabaseWrapper):
    _queue_fd: int | None = None
    _queue_held: "threading.Lock | None" = None

    def _queue_path(self) -> str | None:
        """The lock file beside the database (its name read when the transaction starts: tests rename it)."""
        if self.transaction_mode not in QUEUED_MODES or self.is_in_memory_db():
            return None
        return f"{self.settings_dict['NAME']}.writers"

    def _start_transaction_under_autocommit(self):
        self._queue_acquire()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._queue_release()
            raise

    def _queue_acquire(self) -> None:
        path = self._queue_path()
        if path is None:
            return
        deadline = time.monotonic() + self.settings_dict["OPTIONS"].get("timeout", 5)
        lock = _process_lock(path)
        if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise OperationalError("database is locked")
        try:
            if self._queue_fd is None:
                self._queue_fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            if not _flock(self._queue_fd, max(0.0, deadline - time.monotonic())):
                self._queue_fd = None  # the helper thread closes it
                raise OperationalError("database is locked")
        except OSError as exc:
            lock.release()
            raise OperationalError(f"The writers' queue of the database ({path}) cannot be used: {exc}") from exc
        except BaseException:
            lock.release()
            raise
        self._queue_held = lock

    def _queue_release(self) -> None:
        if (lock := self._queue_held) is not None:
            self._queue_held = None
            try:
                fcntl.flock(self._queue_fd, fcntl.LOCK_UN)
            finally:
                lock.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._queue_release()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._queue_release()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._queue_release()
            if self._queue_fd is not None:
                os.close(self._queue_fd)
                self._queue_fd = None
