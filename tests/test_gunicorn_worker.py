"""registry_site/gunicorn_worker.py: a web worker whose threads are all busy leaves new connections to the others.

gunicorn's threaded worker accepts every connection it can and queues its requests for its own threads, so a
busy worker could take a new client (an SDK keeps its connection open for all its requests) while the other
worker sits idle, and every request on that connection then waits behind the busy one's.
"""

import http.client
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings as django_settings

from tests.test_s3_storage import free_port


def _serve(tmp_path: Path, port: int, *, threads: int) -> subprocess.Popen:
    env = {**os.environ, "BUSY_APP_DIR": str(tmp_path), "DATA_DIR": str(tmp_path), "PORT": str(port)}
    env |= {"TASK_WORKERS": "0", "WORKERS": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "registry_site/gunicorn_conf.py", "tests.busy_app:application"]
        + ["--threads", str(threads)],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _started(tmp_path: Path, names: list[str], server: subprocess.Popen, timeout: float) -> list[str]:
    """The pids of the held requests that started within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn ended"
        started = [p.read_text() for n in names if (p := tmp_path / f"{n}.started").exists() and p.stat().st_size]
        if len(started) == len(names):
            break
        time.sleep(0.02)
    return started


def test_clients_arriving_at_once_are_spread_over_the_workers_threads(tmp_path):
    """Four clients at once, two workers of two threads: each worker takes two, and all four are served at once.
    A worker that accepted three would keep the third waiting for one of its own threads."""
    port = free_port()
    server = _serve(tmp_path, port, threads=2)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                probe.request("GET", "/")
                probe.getresponse().read()
                probe.close()
                break
            except ConnectionRefusedError:
                assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        for round in range(5):
            names = [f"{round}-{i}" for i in range(4)]
            clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in names]
            barrier = threading.Barrier(len(names))

            def send(client, name, barrier=barrier):
                barrier.wait()
                client.request("GET", f"/hold/{name}")

            senders = [threading.Thread(target=send, args=pair) for pair in zip(clients, names, strict=True)]
            for t in senders:
                t.start()
            for t in senders:
                t.join()
            started = _started(tmp_path, names, server, timeout=5)
            for name in names:
                (tmp_path / f"{name}.release").touch()
            answers = [c.getresponse().read().decode() for c in clients]
            for c in clients:
                c.close()
            assert len(started) == 4, f"round {round}: {len(started)} of 4 served at once"
            assert sorted(answers) == sorted(started) and len(set(answers)) == 2
    finally:
        server.terminate()
        server.wait(timeout=30)
