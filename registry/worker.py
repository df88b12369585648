"""The background worker (webhook deliveries and any other task), run two ways: `manage.py run_worker`, a process
of its own anywhere the database is reachable, and `make run`'s gunicorn, where a thread in one of the web workers
runs it (`TASK_WORKERS`): a process of its own would hold a second copy of Django for a queue that is mostly idle.

Either way it first gives back what a stopped worker left unfinished, then sweeps for that every
WEBHOOK_SWEEP_SECONDS while django-tasks-db's worker loop takes tasks from the database."""

import fcntl
import logging
import threading
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils.crypto import get_random_string
from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.management.commands.db_worker import Worker

from registry import automations

logger = logging.getLogger(__name__)


def sweep_once() -> int:
    try:
        return automations.delivery_sweep()
    finally:
        connection.close()


def sweep_every(stop: threading.Event) -> None:
    """Every WEBHOOK_SWEEP_SECONDS until `stop` is set: give back deliveries whose worker died."""
    while not stop.wait(settings.WEBHOOK_SWEEP_SECONDS):
        try:
            sweep_once()
        except Exception:  # a database hiccup must not end the sweeping
            logger.exception("The delivery sweep failed; it runs again in %s s", settings.WEBHOOK_SWEEP_SECONDS)


class InServer:
    """A worker thread in a web worker process. Of all web workers of one server (one port, one DATA_DIR), at most
    `slots` run one at a time: each slot is a lock file, held for the life of the process that took it, so when
    that process ends (restarted, killed, timed out) another web worker takes the slot within a few seconds."""

    RETRY_SECONDS = 3.0

    def __init__(self, lock_dir: Path, name: str, slots: int = 1) -> None:
        self.locks = [lock_dir / f"{name}-{i}.lock" for i in range(slots)]
        self.stop_event = threading.Event()
        self.worker = None
        self._lock_file = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="task-worker")

    def start(self) -> "InServer":
        self.thread.start()
        return self

    def stop(self, timeout: float) -> None:
        """A delivery under way is finished (at most WEBHOOK_TIMEOUT), then the thread ends."""
        self.stop_event.set()
        if self.worker is not None:
            self.worker.running = False
        self.thread.join(timeout)

    @property
    def holds_slot(self) -> bool:
        return self._lock_file is not None

    def _take_slot(self) -> bool:
        for path in self.locks:
            path.parent.mkdir(parents=True, exist_ok=True)
            f = open(path, "a")  # noqa: SIM115 - held open, and so locked, until this process ends
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue
            self._lock_file = f
            return True
        return False

    def _run(self) -> None:
        while not self._take_slot():
            if self.stop_event.wait(self.RETRY_SECONDS):
                return
        try:
            self._serve()
        finally:
            # However this thread ends, its slot is free for another web worker.
            self._lock_file.close()
            self._lock_file = None

    def _serve(self) -> None:
        try:
            logger.info("Task worker started in this web worker; gave back %s unfinished deliveries.", sweep_once())
        except Exception:  # it runs again every WEBHOOK_SWEEP_SECONDS
            logger.exception("The first delivery sweep failed")
        threading.Thread(target=sweep_every, args=(self.stop_event,), daemon=True, name="task-sweep").start()
        while not self.stop_event.is_set():
            self.worker = Worker(
                queue_names=[DEFAULT_TASK_QUEUE_NAME],
                interval=1.0,
                batch=False,
                backend_name=DEFAULT_TASK_BACKEND_ALIAS,
                startup_delay=False,
                max_tasks=None,
                worker_id=get_random_string(32),
                excluded_queue_names=[],
            )
            if self.stop_event.is_set():
                break
            try:
                self.worker.run()
            except Exception:  # the database went away for a moment: start again, not stop for good
                logger.exception("The task worker stopped on an error; it starts again in %s s", self.RETRY_SECONDS)
                self.stop_event.wait(self.RETRY_SECONDS)
            finally:
                connection.close()
