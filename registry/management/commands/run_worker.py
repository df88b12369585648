import ctypes
import ctypes.util
import gc
import threading

from django_tasks_db.management.commands import db_worker

from registry import worker


def _malloc_trim() -> None:
    if libc := ctypes.util.find_library("c"):
        ctypes.CDLL(libc).malloc_trim(0)


class Command(db_worker.Command):
    # The checks would import every URL and view: `manage.py check` and the web server run them.
    requires_system_checks = []
    help = (
        "Run a background worker: webhook deliveries (and any other task), after giving back deliveries that a "
        "stopped worker left unfinished; it sweeps for those every WEBHOOK_SWEEP_SECONDS too. Start as many as "
        "you like, on any machine sharing the database."
    )

    def handle(self, *args, **options) -> None:
        swept = worker.sweep_once()
        # What loading left behind goes back to the system: the worker idles beside the web server.
        gc.collect()
        _malloc_trim()
        self.stdout.write(f"Worker started; gave back {swept} unfinished deliveries.")
        if not options.get("batch"):
            threading.Thread(target=worker.sweep_every, args=(threading.Event(),), daemon=True, name="sweep").start()
        super().handle(*args, **options)
