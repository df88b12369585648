"""How `make run` serves (`gunicorn -c registry_site/gunicorn_conf.py registry_site.wsgi`), from the environment."""

import os
import subprocess
import sys
import threading
from pathlib import Path

# As settings.py reads it: the master never imports Django (only its workers do), which keeps it small.
DATA_DIR = Path(os.getenv("DATA_DIR", Path(__file__).resolve().parent.parent / "data")).resolve()

_port = os.getenv("PORT", "8000")
bind = f"{os.getenv('HOST', '127.0.0.1')}:{_port}"
workers = int(os.getenv("WORKERS", "2"))
threads = 4
# Uploads and downloads are streamed; a large one on a slow link takes long.
timeout = 300
accesslog = "-"
# gunicorn's default line, then the request body's declared size: bytes in and out of every request are logged.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" in=%({content-length}i)s'
# gunicorn's default control socket is one per user ($HOME/.gunicorn/gunicorn.ctl): a second server on the
# same machine would take it over. One per port under DATA_DIR instead.
control_socket = str(DATA_DIR / f"gunicorn-{_port}.ctl")

# Background workers (`manage.py run_worker`: webhook deliveries) started and stopped with the server, so `make run`
# still does all; TASK_WORKERS=0 leaves them to be run apart (README, Automations). One restarts if it exits.
task_workers = int(os.getenv("TASK_WORKERS", "1"))
_task_workers: list = []
_stopping = threading.Event()


def _start_task_worker() -> subprocess.Popen:
    manage = Path(__file__).resolve().parent.parent / "manage.py"
    command = [sys.executable, str(manage), "run_worker", "--no-reload", f"--parent-pid={os.getpid()}"]
    return subprocess.Popen(command)


def _watch_task_workers() -> None:
    while not _stopping.wait(5):
        for i, worker in enumerate(_task_workers):
            if worker.poll() is not None and not _stopping.is_set():
                _task_workers[i] = _start_task_worker()


def when_ready(server) -> None:
    for _ in range(task_workers):
        _task_workers.append(_start_task_worker())
    if task_workers:
        server.log.info("Started %s task worker(s) (manage.py run_worker)", task_workers)
        threading.Thread(target=_watch_task_workers, daemon=True, name="task-workers").start()


def on_exit(server) -> None:
    """A worker in the middle of a delivery finishes it (at most WEBHOOK_TIMEOUT), then stops."""
    _stopping.set()
    for worker in _task_workers:
        worker.terminate()
    for worker in _task_workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
