import ctypes
import ctypes.util
import gc
import os
import signal
import threading
import time

from django.conf import settings
from django.db import connection
from django_tasks_db.management.commands import db_worker

from registry import automations


def _malloc_trim() -> None:
    if libc := ctypes.util.find_library("c"):
        ctypes.CDLL(libc).malloc_trim(0)


def _sweep_forever(parent_pid: int | None) -> None:
    """Every WEBHOOK_SWEEP_SECONDS: give back deliveries whose worker died; stop with the process that started
    this worker (`make run`'s gunicorn), should it die without stopping it."""
    while True:
        time.sleep(settings.WEBHOOK_SWEEP_SECONDS)
        if parent_pid is not None and os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)
            return
        try:
            automations.delivery_sweep()
        except Exception:  # noqa: BLE001 - a database hiccup must not end the sweeping
            pass
        finally:
            connection.close()


class Command(db_worker.Command):
    # The checks would import every URL and view: `manage.py check` and the web server run them.
    requires_system_checks = []
    help = (
        "Run a background worker: webhook deliveries (and any other task), after giving back deliveries that a "
        "stopped worker left unfinished; it sweeps for those every WEBHOOK_SWEEP_SECONDS too. Start as many as "
        "you like, on any machine sharing the database."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--parent-pid", type=int, default=None, help="Exit when this process is gone.")

    def handle(self, *args, parent_pid: int | None = None, **options) -> None:
        swept = automations.delivery_sweep()
        connection.close()
        # What loading left behind goes back to the system: the worker idles beside the web server.
        gc.collect()
        _malloc_trim()
        self.stdout.write(f"Worker started; gave back {swept} unfinished deliveries.")
        if not options.get("batch"):
            threading.Thread(target=_sweep_forever, args=(parent_pid,), daemon=True, name="sweep").start()
        super().handle(*args, **options)
