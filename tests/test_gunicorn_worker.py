"""registry_site/gunicorn_worker.py: a web worker whose threads are all busy leaves new connections to the others.

gunicorn's threaded worker accepts every connection it can and queues its requests for its own threads, so a
busy worker could take a new client (an SDK keeps its connection open for all its requests) while the other
worker sits idle, and every request on that connection then waits behind the busy one's.
"""

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings as django_settings

from tests.test_s3_storage import free_port


def _serve(
    tmp_path: Path, port: int, *, threads: int, workers: int = 2, args: tuple = (), env: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {**os.environ, "BUSY_APP_DIR": str(tmp_path), "DATA_DIR": str(tmp_path), "PORT": str(port), **(env or {})}
    env |= {"TASK_WORKERS": "0", "WORKERS": str(workers)}
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "registry_site/gunicorn_conf.py", "tests.busy_app:application"]
        + ["--threads", str(threads), *args],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_until_up(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            probe.request("GET", "/")
            probe.getresponse().read()
            probe.close()
            return
        except ConnectionRefusedError:
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)


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
        _wait_until_up(server, port)
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


def _accept_queue(port: int) -> int:
    """How many connections wait in the listening socket of 127.0.0.1:`port` (/proc/net/tcp: rx_queue of LISTEN)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":
            return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def test_when_every_worker_is_busy_a_new_connection_is_still_taken_soon(tmp_path):
    """A busy worker leaves new connections to the others only for a moment: with every thread of every worker
    busy, one of them takes the connection after all (and queues it, as gunicorn does) instead of leaving it in the
    listening socket for as long as the load lasts."""
    port = free_port()
    server = _serve(tmp_path, port, threads=1)
    try:
        _wait_until_up(server, port)
        holds = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(2)]
        for i, client in enumerate(holds):
            client.request("GET", f"/hold/{i}")
        assert len(_started(tmp_path, ["0", "1"], server, timeout=10)) == 2, "both workers busy"

        waiting = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        waiting.request("GET", "/")
        deadline = time.monotonic() + 5
        while _accept_queue(port):
            assert time.monotonic() < deadline, "the new connection was left in the listening socket"
            time.sleep(0.02)

        for i in range(2):
            (tmp_path / f"{i}.release").touch()
        assert waiting.getresponse().status == 200
        for client in holds:
            assert client.getresponse().status == 200
            client.close()
        waiting.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_worker_full_of_connections_and_busy_waits_without_spinning(tmp_path):
    """Accepting off because the worker holds all the connections it may (worker_connections) while every thread
    is busy: after the pause, the worker waits for events as gunicorn does, using no CPU meanwhile."""
    port = free_port()
    server = _serve(tmp_path, port, threads=1, workers=1, args=("--worker-connections", "2"))
    try:
        _wait_until_up(server, port)
        holds = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(2)]
        holds[0].request("GET", "/hold/0")
        assert len(_started(tmp_path, ["0"], server, timeout=10)) == 1
        holds[1].request("GET", "/hold/1")  # the worker's second connection: queued behind the first
        time.sleep(0.5)
        [worker] = [int(p) for p in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()]
        before = _cpu_seconds(worker)
        time.sleep(1.0)
        assert _cpu_seconds(worker) - before < 0.3, "the worker spun while it waited"
        for i in range(2):
            (tmp_path / f"{i}.release").touch()
        for client in holds:
            assert client.getresponse().status == 200
            client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


FREEZE_PROBE = """
import gc, json, sys
if sys.argv[1] == "django":
    import django
    django.setup()
from registry_site import gunicorn_conf
before = "wandb_api.schema" in sys.modules
gunicorn_conf.post_worker_init(None)
print(json.dumps([before, "wandb_api.schema" in sys.modules, "django" in sys.modules, gc.get_freeze_count(),
                  gc.get_threshold()[0]]))
"""


def _after_worker_init(tmp_path: Path, app: str) -> list:
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "TASK_WORKERS": "0",
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE, app], cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_web_worker_loads_its_views_and_freezes_them_out_of_the_cycle_collector(tmp_path):
    """A full collection walks every object a worker holds and pauses all its threads (one holding a lock too)."""
    from registry_site.gunicorn_conf import GC_THRESHOLD

    before, loaded, _, frozen, threshold = _after_worker_init(tmp_path, "django")
    assert not before and loaded
    assert frozen > 50_000
    assert threshold == GC_THRESHOLD > 700


def test_a_worker_serving_another_app_loads_no_django(tmp_path):
    # The benchmark's zero-work stub and tests' apps are served with the same configuration.
    _, _, django_loaded, frozen, _ = _after_worker_init(tmp_path, "other")
    assert not django_loaded and frozen > 0


def _malloc_arenas(tmp_path: Path, env: dict[str, str]) -> int:
    """How many arenas glibc's malloc has in a web worker after eight of its threads allocated at once."""
    port = free_port()
    server = _serve(tmp_path, port, threads=1, workers=1, env=env)
    try:
        _wait_until_up(server, port)
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        client.request("GET", "/arenas")
        response = client.getresponse()
        assert response.status == 200
        return int(response.read())
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_web_worker_s_threads_share_two_malloc_arenas(tmp_path):
    """glibc gives each thread that allocates its own arena (up to 8 per core) and keeps what is freed in it:
    about 10 MiB of an idle server's 2 workers x 4 threads. Python allocates under its lock, so two are enough."""
    from registry_site.gunicorn_conf import MALLOC_ARENA_MAX

    assert _malloc_arenas(tmp_path, {}) <= MALLOC_ARENA_MAX == 2


def test_malloc_arena_max_from_the_environment_wins(tmp_path):
    assert _malloc_arenas(tmp_path, {"MALLOC_ARENA_MAX": "4"}) == 4
