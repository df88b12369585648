"""Django's SQLite backend, with its writers queued in the kernel instead of in SQLite's busy handler.

SQLite lets one writer in at a time. The others wait in its busy handler, which sleeps and tries again (after 1, 2,
5 ... then 100 ms): a writer that commits wakes nobody, so under contention the lock sits free between sleeps while
the queue grows, and a late writer can overtake one that has waited long. Here each transaction Django starts
(`atomic`: BEGIN IMMEDIATE, settings.SQLITE_OPTIONS) first takes this process's lock for the database, then an
exclusive flock on a file beside it, held until COMMIT or ROLLBACK: writers of every process sleep in the kernel, and
the next one wakes the moment the last one is done. Writes outside `atomic` (autocommit) keep SQLite's own waiting.

A writer waits for this process's lock at most the connection's `timeout` (as SQLite would), then fails with
"database is locked"; the flock has one waiter per process and is held only by a transaction in progress.
"""

import fcntl
import os
import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_process_locks: dict[str, "threading.Lock"] = {}
_process_locks_guard = threading.Lock()


def _process_lock(path: str) -> "threading.Lock":
    with _process_locks_guard:
        return _process_locks.setdefault(path, threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    _queue_fd: int | None = None
    _queue_held: "threading.Lock | None" = None

    def _queue_path(self) -> str | None:
        """The lock file beside the database (its name read when the transaction starts: tests rename it)."""
        if self.transaction_mode != "IMMEDIATE" or self.is_in_memory_db():
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
        lock = _process_lock(path)
        if not lock.acquire(timeout=self.settings_dict["OPTIONS"].get("timeout", 5)):
            raise OperationalError("database is locked")
        try:
            if self._queue_fd is None:
                self._queue_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(self._queue_fd, fcntl.LOCK_EX)
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
