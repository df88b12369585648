"""MLflow (the peer, `make bench-peer`): the same operations through its REST API, beside ours.

`mlflow server` as it starts by default (its own worker count), SQLite backend store, proxied artifact storage
(`--serve-artifacts`) in the same temporary directory as our servers' data. Registered models for the list are
inserted straight into its database (executemany), as ours are.
"""

import json
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import servers
from bench.measure import Http, RssSampler, get_file, post_json, put_file, run_concurrently, stats, time_get

VENV = Path(__file__).resolve().parent / ".venv-mlflow"
API = "/api/2.0/mlflow"


def start(work: Path) -> tuple[servers.Server, Path]:
    root = work / "mlflow"
    root.mkdir()
    db = root / "mlflow.db"
    args = [str(VENV / "bin" / "mlflow"), "server", "--host", "127.0.0.1", "--port", "{port}"]
    args += ["--backend-store-uri", f"sqlite:///{db}", "--serve-artifacts", "--artifacts-destination", str(root / "a")]
    env = {"PATH": f"{VENV / 'bin'}:/usr/bin:/bin", "HOME": str(root), "MLFLOW_TRACKING_URI": ""}
    return servers.Server(args, env, cwd=root, timeout=300), db


def insert_models(db: Path, count: int) -> None:
    """`count` registered models written straight into MLflow's registered_models table."""
    now = int(time.time() * 1000)
    with sqlite3.connect(db, timeout=60) as conn:
        columns = conn.execute("PRAGMA table_info(registered_models)").fetchall()
        values = {"name": None, "creation_time": now, "last_updated_time": None, "description": "bench"}
        names = [c[1] for c in columns if c[1] in values or (c[3] and c[4] is None)]
        rows = []
        for i in range(count):
            row = {**values, "name": f"model-{i:06d}", "last_updated_time": now - i}
            rows.append(tuple(row.get(n, "default") for n in names))
        conn.executemany(
            f"INSERT INTO registered_models ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows
        )


def create_versions(port: int, model: str, n: int) -> dict[str, Any]:
    client, samples, errors = Http(port), [], 0
    post_json(client, f"{API}/registered-models/create", {"name": model}, {})
    for i in range(n):
        status, body, seconds = post_json(
            client, f"{API}/model-versions/create", {"name": model, "source": f"s3://bench/models/{model}/{i}"}, {}
        )
        samples.append(seconds)
        errors += status != 200
    client.close()
    return {**stats(samples[3:]), "errors": errors}


def concurrent(port: int, threads: int, per_thread: int) -> dict[str, Any]:
    model = "Concurrent"
    client = Http(port)
    post_json(client, f"{API}/registered-models/create", {"name": model}, {})
    failures: list[str] = []

    def work(t: int) -> list[float]:
        c, out = Http(port), []
        for j in range(per_thread):
            body = {"name": model, "source": f"s3://bench/models/c/{t}/{j}"}
            status, answer, seconds = post_json(c, f"{API}/model-versions/create", body, {})
            out.append(seconds)
            if status != 200:
                failures.append(f"{status} {str(answer)[:200]}")
        c.close()
        return out

    result = run_concurrently(threads, work)
    _, _, body, _ = client.request("GET", f"{API}/model-versions/search?filter=name%3D%27{model}%27&max_results=1000")

    versions = sorted(int(v["version"]) for v in json.loads(body).get("model_versions", []))
    client.close()
    expected = list(range(1, threads * per_thread + 1))
    return {
        **stats(result["latencies"]),
        "throughput": len(result["latencies"]) / result["wall"],
        "gapless": versions == expected,
        "count": len(versions),
        "failures": len(failures),
    }


def run(bench, src: Path) -> dict[str, Any]:
    from bench.run import PER_THREAD, THREADS, log

    version = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    server, db = start(bench.work)
    out: dict[str, Any] = {"version": version}
    try:
        # Warm-up, then idle memory, as for ours.
        def warm(_: int) -> list[float]:
            c = Http(server.port)
            for _ in range(5):
                c.request("GET", f"{API}/registered-models/search?max_results=50")
            c.close()
            return []

        run_concurrently(8, warm)
        time.sleep(1.0)
        tree = server.rss_tree()
        out["idle"] = {"rss": tree["rss"], "pss": tree["pss"], "procs": tree["procs"]}
        log(f"MLflow {version}: idle tree RSS {tree['rss'] / 2**20:.0f} MiB in {tree['procs']} processes")
        out["api"] = create_versions(server.port, "ApiLinks", bench.scale["api"])
        log(f"MLflow create version median {out['api']['median'] * 1000:.1f} ms")
        out["concurrent"] = concurrent(server.port, THREADS, PER_THREAD)
        log(f"MLflow 16x10: {out['concurrent']}")
        insert_models(db, bench.scale["list"])
        out["list"] = time_get(
            server.port, f"{API}/registered-models/search?max_results=50", {}, n=bench.scale["pages"]
        )
        size = src.stat().st_size
        path = f"{API}-artifacts/artifacts/bench/big.bin"
        with RssSampler(server.process.pid) as up:
            status, body, seconds = put_file(server.port, path, src)
        if status != 200:
            raise RuntimeError(f"MLflow upload answered {status}: {body[:300]!r}")
        with RssSampler(server.process.pid) as down:
            status, got, down_seconds = get_file(server.port, path)
        if status != 200 or got != size:
            raise RuntimeError(f"MLflow download answered {status} with {got} of {size} bytes")
        out["transfer"] = {
            "upload_rate": size / seconds,
            "download_rate": size / down_seconds,
            "upload_rss": up.growth,
            "download_rss": down.growth,
        }
        log(f"MLflow transfer: {out['transfer']}")
    finally:
        server.stop()
    return out
