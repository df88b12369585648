"""A real worker process (`manage.py run_worker`), killed in the middle of a delivery: a new worker finishes it."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings as django_settings

from registry.models import Delivery, DeliveryStatus
from tests.factories import link, log_version
from tests.webhooks import Receiver, database_url, make_automation, make_webhook

pytestmark = pytest.mark.django_db(transaction=True)


def _worker(settings) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DATA_DIR": str(settings.DATA_DIR),
        "WEBHOOK_ALLOW_PRIVATE": "1",
        "WEBHOOK_TIMEOUT": "2",
        "WEBHOOK_LEASE_SECONDS": "3",
        "WEBHOOK_SWEEP_SECONDS": "0.5",
        "WEBHOOK_RETRY_BASE_SECONDS": "0",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--no-startup-delay", "--interval=0.2", "--no-reload"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _status(delivery: Delivery, want: str, timeout: float = 30) -> Delivery:
    deadline = time.monotonic() + timeout
    while True:
        delivery.refresh_from_db()
        if delivery.status == want:
            return delivery
        assert time.monotonic() < deadline, f"{delivery.status}, waited for {want}"
        time.sleep(0.1)


def test_a_worker_killed_mid_delivery_loses_no_event(team, project, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    release = threading.Event()

    def slow_first(handler, n):
        # The first request hangs until the test ends: its worker is killed meanwhile.
        if n == 1:
            release.wait(60)
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    receiver = Receiver(behave=slow_first).start()
    first = second = None
    try:
        hook = make_webhook(team.entity, team.admin, receiver.url)
        make_automation(team.entity, team.admin, hook)
        link(log_version(project))
        delivery = Delivery.objects.get()
        first = _worker(settings)
        receiver.wait_for(1)
        assert _status(delivery, DeliveryStatus.SENDING).attempts == 1
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        second = _worker(settings)
        receiver.wait_for(2, timeout=30)
        delivery = _status(delivery, DeliveryStatus.SUCCEEDED)
        assert delivery.attempts == 2 and delivery.response_code == 200
        lost, done = delivery.attempt_log.all()
        assert "worker stopped" in lost.error and done.response_code == 200
        assert receiver.requests[0].body == receiver.requests[1].body
        assert receiver.requests[0].headers["X-Wandb-Delivery"] == receiver.requests[1].headers["X-Wandb-Delivery"]
    finally:
        release.set()
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=10)
        receiver.stop()


def _children(pid: int) -> list[int]:
    from pathlib import Path

    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        kids += [int(c) for c in (task / "children").read_text().split()]
    return kids


def _lock_holder(path) -> int | None:
    """The process holding an flock on `path`, from /proc/locks ("1: FLOCK ADVISORY WRITE <pid> <dev>:<inode> ...")."""
    if not path.exists():
        return None
    inode = path.stat().st_ino
    with open("/proc/locks") as f:
        for line in f:
            fields = line.split()
            if fields[1] == "FLOCK" and int(fields[5].rsplit(":", 1)[1]) == inode:
                return int(fields[4])
    return None


def _wait_for_holder(path, server, other_than=None) -> int:
    deadline = time.monotonic() + 30
    while (holder := _lock_holder(path)) is None or holder == other_than:
        assert time.monotonic() < deadline and server.poll() is None, "no web worker took the task worker's slot"
        time.sleep(0.2)
    return holder


def test_make_runs_server_delivers_from_one_web_worker_and_another_takes_over(team, project, settings):
    """No process of its own (it would hold a second copy of Django): one of the web workers runs the task worker
    in a thread, and when that web worker dies another one takes its slot and delivers."""
    from tests.test_s3_storage import free_port

    settings.WEBHOOK_ALLOW_PRIVATE = True
    receiver = Receiver().start()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DATA_DIR": str(settings.DATA_DIR),
        "MANIFEST_STATIC": "false",
        "PORT": str(port),
        "WORKERS": "2",
        "WEBHOOK_ALLOW_PRIVATE": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "registry_site/gunicorn_conf.py", "registry_site.wsgi"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    slot = settings.DATA_DIR / f"task-worker-127.0.0.1-{port}-0.lock"
    try:
        holder = _wait_for_holder(slot, server)
        web_workers = _children(server.pid)
        assert holder in web_workers and len(web_workers) == 2, "two web workers and no other process"
        hook = make_webhook(team.entity, team.admin, receiver.url)
        make_automation(team.entity, team.admin, hook)
        link(log_version(project))
        receiver.wait_for(1, timeout=30)
        assert _status(Delivery.objects.get(), DeliveryStatus.SUCCEEDED).attempts == 1

        os.kill(holder, signal.SIGKILL)
        successor = _wait_for_holder(slot, server, other_than=holder)
        assert successor in _children(server.pid)
        link(log_version(project, name="second"))
        receiver.wait_for(2, timeout=30)
        # The receiver answers before the worker records the answer: wait for the record.
        for delivery in Delivery.objects.all():
            assert _status(delivery, DeliveryStatus.SUCCEEDED).attempts == 1

        server.terminate()
        server.wait(timeout=60)
        assert _lock_holder(slot) is None
    finally:
        if server.poll() is None:
            server.kill()
        receiver.stop()


def test_a_task_worker_thread_survives_a_failed_first_sweep_and_frees_its_slot_when_it_ends(tmp_path, monkeypatch):
    from registry import worker

    def fails() -> int:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(worker, "sweep_once", fails)
    running = worker.InServer(tmp_path, "tasks").start()
    try:
        deadline = time.monotonic() + 10
        while running.worker is None:
            assert time.monotonic() < deadline and running.thread.is_alive(), "the worker loop never started"
            time.sleep(0.05)
        assert running.holds_slot and not worker.InServer(tmp_path, "tasks")._take_slot()
    finally:
        running.stop(timeout=10)
    assert not running.thread.is_alive() and not running.holds_slot
    assert worker.InServer(tmp_path, "tasks")._take_slot()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_task_worker_thread_that_dies_frees_its_slot(tmp_path, monkeypatch):
    from registry import worker

    def dies(self) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(worker.InServer, "_serve", dies)
    dead = worker.InServer(tmp_path, "tasks").start()
    dead.thread.join(10)
    assert not dead.thread.is_alive() and not dead.holds_slot
    assert worker.InServer(tmp_path, "tasks")._take_slot()
