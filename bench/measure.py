"""Measurement pieces: a keep-alive HTTP client, timed request series, byte rates, RSS sampling, statistics."""

import base64
import hashlib
import http.client
import json
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import servers

CHUNK = 1024 * 1024
MiB = 1024 * 1024


def stats(samples: list[float]) -> dict[str, float]:
    """Median and p95 (nearest rank) of a series."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, int(round(0.95 * len(ordered))) - 1))]
    return {"median": statistics.median(ordered), "p95": p95, "n": len(ordered)}


def basic_auth(key: str) -> str:
    return "Basic " + base64.b64encode(f"api:{key}".encode()).decode()


class Http:
    """One keep-alive connection to 127.0.0.1:port."""

    def __init__(self, port: int, timeout: float = 600):
        self.port, self.timeout = port, timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes, float]:
        """(status, headers, body, seconds from sending to the last byte read)."""
        for attempt in (0, 1):
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                elapsed = time.perf_counter() - start
                if response.getheader("Connection", "").lower() == "close":
                    self.reconnect()
                return response.status, dict(response.getheaders()), data, elapsed
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: once more on a new one.
                self.reconnect()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def reconnect(self) -> None:
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def close(self) -> None:
        self.conn.close()


def time_get(port: int, path: str, headers: dict[str, str], *, n: int, warmup: int = 3) -> dict[str, Any]:
    """GET `path` n times in a row on one connection after `warmup` untimed ones; 200 is required."""
    client = Http(port)
    samples, size = [], 0
    try:
        for i in range(warmup + n):
            status, _, body, seconds = client.request("GET", path, headers=headers)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
            size = len(body)
            if i >= warmup:
                samples.append(seconds)
    finally:
        client.close()
    return {**stats(samples), "bytes": size}


def time_get_pair(targets: list[tuple[int, str, dict[str, str]]], *, n: int, warmup: int = 3) -> list[dict[str, Any]]:
    """GET each (port, path, headers) in turn, n rounds after `warmup` untimed ones, one connection per target:
    the targets' requests alternate, so they are measured under the same conditions. 200 is required."""
    clients = [Http(port) for port, _, _ in targets]
    samples: list[list[float]] = [[] for _ in targets]
    sizes = [0 for _ in targets]
    try:
        for i in range(warmup + n):
            for j, (client, (_, path, headers)) in enumerate(zip(clients, targets, strict=True)):
                status, _, body, seconds = client.request("GET", path, headers=headers)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
                sizes[j] = len(body)
                if i >= warmup:
                    samples[j].append(seconds)
    finally:
        for client in clients:
            client.close()
    return [{**stats(s), "bytes": size} for s, size in zip(samples, sizes, strict=True)]


def post_json(client: Http, path: str, payload: Any, headers: dict[str, str]) -> tuple[int, Any, float]:
    body = json.dumps(payload).encode()
    status, _, data, seconds = client.request("POST", path, body, {"Content-Type": "application/json", **headers})
    try:
        decoded = json.loads(data) if data else None
    except ValueError:
        decoded = data[:300]
    return status, decoded, seconds


def run_concurrently(threads: int, work: Callable[[int], list[float]]) -> dict[str, Any]:
    """Run work(thread number) in `threads` threads started together; each returns its request latencies."""
    barrier = threading.Barrier(threads + 1)
    results: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    wall = time.perf_counter() - start
    latencies = [s for r in results for s in r]
    return {"wall": wall, "latencies": latencies, "errors": [repr(e) for e in errors]}


# Byte rates --------------------------------------------------------------------------------------------------


def make_file(path: Path, size: int) -> None:
    """`size` random bytes (incompressible), written in 16 MiB pieces."""
    import random

    rng = random.Random(11)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MiB)
            f.write(rng.randbytes(n))
            left -= n


def hash_rate(path: Path, algorithm: str, repeat: int = 2) -> tuple[float, str]:
    """Bytes per second of hashlib over the file in 1 MiB chunks (the server's chunk size), reading it from the
    page cache: the best of `repeat` passes (the machine's limit); and the base64 digest."""
    size, best = path.stat().st_size, 0.0
    for _ in range(repeat):
        h = hashlib.new(algorithm)
        start = time.perf_counter()
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
        best = max(best, size / (time.perf_counter() - start))
    return best, base64.b64encode(h.digest()).decode()


def dd_rate(src: Path, dst: Path, repeat: int = 2) -> float:
    """Bytes per second of `dd bs=1M` copying the file into the servers' file system (no fsync, as the server):
    the best of `repeat`."""
    size, best = src.stat().st_size, 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(["dd", f"if={src}", f"of={dst}", "bs=1M"], check=True, capture_output=True)
        best = max(best, size / (time.perf_counter() - start))
        dst.unlink()
    return best


class RssSampler:
    """Samples the RSS of every process in a tree every `interval` seconds while running."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.pid, self.interval = pid, interval
        self.before = {p: servers.rss(p) for p in servers.tree(pid)}
        self.peak = dict(self.before)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for p in servers.tree(self.pid):
                self.peak[p] = max(self.peak.get(p, 0), servers.rss(p))
            time.sleep(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        """The largest growth of one process (the worker that served the transfer) over its RSS before."""
        return max((peak - self.before.get(p, 0) for p, peak in self.peak.items()), default=0)


def put_file(port: int, path: str, src: Path, headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
    """PUT the file's bytes streamed in 1 MiB chunks, as the SDK's raw PUT; (status, body, seconds)."""
    size = src.stat().st_size
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    start = time.perf_counter()
    conn.putrequest("PUT", path, skip_accept_encoding=True)
    for name, value in {
        "Content-Length": str(size),
        "Content-Type": "application/octet-stream",
        **(headers or {}),
    }.items():
        conn.putheader(name, value)
    conn.endheaders()
    with open(src, "rb") as f:
        while chunk := f.read(CHUNK):
            conn.send(chunk)
    response = conn.getresponse()
    body = response.read()
    seconds = time.perf_counter() - start
    conn.close()
    return response.status, body, seconds


def get_file(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, int, float]:
    """GET streamed, nothing kept nor hashed (the client shares the machine's cores); (status, bytes, seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    start = time.perf_counter()
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    size = 0
    while chunk := response.read(CHUNK):
        size += len(chunk)
    seconds = time.perf_counter() - start
    conn.close()
    return response.status, size, seconds
