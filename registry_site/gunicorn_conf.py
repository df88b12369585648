"""How `make run` serves (`gunicorn -c registry_site/gunicorn_conf.py registry_site.wsgi`), from the environment."""

import os
from pathlib import Path

# As settings.py reads it: the master never imports Django (only its workers do), which keeps it small.
DATA_DIR = Path(os.getenv("DATA_DIR", Path(__file__).resolve().parent.parent / "data")).resolve()

_port = os.getenv("PORT", "8000")
bind = f"{os.getenv('HOST', '127.0.0.1')}:{_port}"
workers = int(os.getenv("WORKERS", "2"))
threads = 4
# gthread, but a worker whose threads are all busy leaves new connections to the other workers.
worker_class = "registry_site.gunicorn_worker.Worker"
# Uploads and downloads are streamed; a large one on a slow link takes long.
timeout = 300
accesslog = "-"
# gunicorn's default line, then the request body's declared size: bytes in and out of every request are logged.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" in=%({content-length}i)s'
# gunicorn's default control socket is one per user ($HOME/.gunicorn/gunicorn.ctl): a second server on the
# same machine would take it over. One per port under DATA_DIR instead.
control_socket = str(DATA_DIR / f"gunicorn-{_port}.ctl")

# The background worker (webhook deliveries, registry/worker.py) runs as a thread in TASK_WORKERS of the web workers
# (default one; 0 leaves it to `manage.py run_worker` processes, README, Automations), so `make run` still does all
# without a second copy of Django in memory. When the web worker running it ends, another one takes it over.
task_workers = int(os.getenv("TASK_WORKERS", "1"))
# Stopping waits for a delivery under way (at most WEBHOOK_TIMEOUT, see worker_exit) after the requests in flight.
graceful_timeout = max(30, int(os.getenv("WEBHOOK_TIMEOUT", "10")) + 20)


# Python's cycle collector, in each web worker: a full collection walks every object the worker holds (Django, the
# URLconf, the GraphQL schema: about 90,000) and pauses all its threads meanwhile, a thread holding a registered
# model's lock too, with the other linkers queued behind it (with 16 clients linking into one model on PostgreSQL,
# the slowest 5% waited about 1.5 times as long). What the worker loads once and keeps is frozen out of the collector
# once loaded, and the youngest generation is collected after GC_THRESHOLD new objects instead of Python's 700, so
# that most of a request's objects are freed by reference counting before a collection looks at them.
GC_THRESHOLD = 50_000

# glibc's malloc gives each thread that allocates an arena of its own (up to 8 per core) and keeps what is freed in
# it: with 4 threads per worker, 10-20 MiB of the idle server. Python allocates under its interpreter lock, so
# its threads seldom wait for one another's arena: two are enough. Set in the master, which the workers are forked
# from; MALLOC_ARENA_MAX in the environment, which glibc reads itself, wins.
MALLOC_ARENA_MAX = 2


def on_starting(server) -> None:
    if "MALLOC_ARENA_MAX" not in os.environ:
        limit_malloc_arenas(MALLOC_ARENA_MAX)


def limit_malloc_arenas(arenas: int) -> None:
    """mallopt(M_ARENA_MAX) where the C library has it (glibc); elsewhere nothing."""
    import ctypes

    M_ARENA_MAX = -8
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(M_ARENA_MAX, arenas)


def post_worker_init(worker) -> None:
    freeze_loaded_objects()
    if task_workers > 0:
        from registry.worker import InServer

        # One slot set per server: per address it listens on (`--bind` may override PORT).
        where = "-".join(worker.cfg.bind).replace(":", "-").replace("/", "_")
        worker.task_worker = InServer(DATA_DIR, f"task-worker-{where}", slots=task_workers).start()


def freeze_loaded_objects() -> None:
    """Load the URLconf (the views, the GraphQL schema) as a first request would, then freeze what is loaded. (The
    benchmark's stub and tests' apps are served with this configuration too: they load no Django.)"""
    import gc
    import sys

    django_settings = getattr(sys.modules.get("django.conf"), "settings", None)
    if django_settings is not None and django_settings.configured:
        from django.urls import get_resolver

        # The URLconf imports every view, and with them the GraphQL schema.
        len(get_resolver().url_patterns)
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD)


def worker_exit(server, worker) -> None:
    """A delivery under way is finished (at most WEBHOOK_TIMEOUT), then the web worker ends."""
    if in_server := getattr(worker, "task_worker", None):
        from django.conf import settings

        in_server.stop(timeout=settings.WEBHOOK_TIMEOUT + 5)
