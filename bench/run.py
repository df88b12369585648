"""`make bench` / `make bench-peer`: issue 11's figures, each beside a baseline measured in the same run.

    .venv/bin/python -m bench [--peer] [--no-postgres]       BENCH_SCALE=small|full (default full)

Everything runs on 127.0.0.1 with servers it starts itself on free ports, each on a fresh DATA_DIR under a
temporary directory (removed at the end); PostgreSQL is a throwaway cluster on PG_TEST_PORT (default 55460).
See bench/README.md for what each figure measures.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import flow, populate, report, servers
from bench.measure import (
    Http,
    MiB,
    RssSampler,
    basic_auth,
    dd_rate,
    get_file,
    hash_rate,
    make_file,
    post_json,
    run_concurrently,
    stats,
    time_get,
    time_get_pair,
)

SCALES = {
    "small": {"base": 1_000, "large": 10_000, "list": 10_000, "file": 128 * MiB, "pages": 20, "api": 40, "flows": 15},
    "full": {"base": 1_000, "large": 100_000, "list": 10_000, "file": 1024 * MiB, "pages": 40, "api": 200, "flows": 40},
}
THREADS, PER_THREAD = 16, 10


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pages(entity: str = populate.ENTITY) -> dict[str, str]:
    return {
        "registry list": "/registry/model",
        "artifact browser": f"/{entity}/{populate.PROJECT}/artifacts/model/{populate.BIG_ARTIFACT}",
        "model card": f"/registry/model/{entity}/{populate.BIG_MODEL}",
    }


class Bench:
    def __init__(self, scale: str, peer: bool, postgres: bool):
        self.scale_name, self.scale = scale, SCALES[scale]
        self.peer, self.use_postgres = peer, postgres
        self.work = Path(tempfile.mkdtemp(prefix="bench-"))
        self.results: dict[str, Any] = {"notes": [], "errors": []}
        self.pg: servers.Postgres | None = None
        self.template: Path | None = None

    # Data ----------------------------------------------------------------------------------------------------

    def sqlite_env(self, name: str) -> dict[str, str]:
        """A fresh DATA_DIR with a migrated SQLite database (copied from one migrated once)."""
        if self.template is None:
            self.template = self.work / "template"
            self.template.mkdir()
            servers.manage(servers.app_env(self.template), "migrate", "--noinput", "-v", "0")
        data = self.work / name
        data.mkdir()
        shutil.copy(self.template / "db.sqlite3", data / "db.sqlite3")
        return servers.app_env(data)

    def pg_env(self, name: str) -> dict[str, str]:
        assert self.pg is not None
        if not getattr(self, "pg_template", False):
            url = self.pg.create("bench_template")
            servers.manage(servers.app_env(self.work / "pg-template", url), "migrate", "--noinput", "-v", "0")
            self.pg_template = True
        (self.work / name).mkdir()
        return servers.app_env(self.work / name, self.pg.create(f"bench_{name}", "bench_template"))

    def dataset(self, backend: str, size: int, *, sources: bool) -> tuple[dict[str, str], dict[str, Any]]:
        env = self.pg_env(f"{size}") if backend == "postgresql" else self.sqlite_env(f"sqlite-{size}")
        start = time.perf_counter()
        api = self.scale["api"] if sources else 0
        data = servers.django_tool(
            env, "populate", {"models": size, "api_sources": api, "concurrent_sources": THREADS * PER_THREAD}
        )
        data["seconds"] = time.perf_counter() - start
        log(f"{backend} data at {size:,}: {data['counts']} in {data['seconds']:.1f} s")
        self.results.setdefault("data", []).append(
            {"backend": backend, "size": size, **data["counts"], "s": data["seconds"]}
        )
        return env, data

    # Measurements --------------------------------------------------------------------------------------------

    def warm_up(self, server: servers.Server, data: dict[str, Any]) -> None:
        """Every page and a GraphQL query, from 8 connections at once so that both workers serve some."""
        cookie = {"Cookie": data["cookie"]}
        auth = {"Authorization": basic_auth(data["api_key"])}

        def work(_: int) -> list[float]:
            client = Http(server.port)
            for _ in range(3):
                for path in pages().values():
                    client.request("GET", path, headers=cookie)
                post_json(client, "/graphql", {"query": "{ viewer { id username } }"}, auth)
            client.close()
            return []

        run_concurrently(8, work)

    def measure_pages(self, base: tuple[servers.Server, dict], large: tuple[servers.Server, dict]) -> tuple[dict, dict]:
        """Each page at both sizes side by side: the two servers run at once and their requests alternate, so a
        change in the machine's load (another process, a disk flush) weighs on both figures alike."""
        out: tuple[dict, dict] = ({}, {})
        for name, path in pages().items():
            a, b = time_get_pair(
                [(s.port, path, {"Cookie": d["cookie"]}) for s, d in (base, large)], n=self.scale["pages"]
            )
            out[0][name], out[1][name] = a, b
        return out

    def link_body(self, artifact_id: str, model: str) -> dict[str, Any]:
        body = json.loads(json.dumps(self.link_request["body"]))
        body["variables"]["input"]["artifactID"] = artifact_id
        body["variables"]["input"]["artifactPortfolioName"] = model
        return body

    def link_headers(self, key: str) -> dict[str, str]:
        headers = {k: v for k, v in self.link_request["headers"].items() if k.lower() not in flow.HOP}
        return {**headers, "Authorization": basic_auth(key)}

    def api_links(self, port: int, data: dict[str, Any], *, stub: bool = False) -> dict[str, Any]:
        """The SDK's LinkArtifact, one new version each, in a row into one registered model."""
        client, samples, errors = Http(port), [], 0
        headers = self.link_headers(data["api_key"])
        for source in data["api_sources"]:
            status, body, seconds = post_json(client, "/graphql", self.link_body(source, populate.API_MODEL), headers)
            samples.append(seconds)
            if status != 200 or (not stub and (body.get("errors") or body["data"]["result"] is None)):
                errors += 1
                if errors == 1:
                    self.results["errors"].append(f"LinkArtifact answered {status}: {str(body)[:300]}")
        client.close()
        return {**stats(samples[3:]), "errors": errors}

    def concurrent_links(self, server: servers.Server, env: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
        """16 threads x 10 LinkArtifact into one registered model; then its numbering is checked."""
        headers = self.link_headers(data["api_key"])
        failures: list[str] = []

        def work(t: int) -> list[float]:
            client, out = Http(server.port), []
            for j in range(PER_THREAD):
                body = self.link_body(data["concurrent_sources"][t * PER_THREAD + j], populate.CONCURRENT_MODEL)
                status, answer, seconds = post_json(client, "/graphql", body, headers)
                out.append(seconds)
                if status != 200 or answer.get("errors"):
                    failures.append(f"{status} {str(answer)[:300]}")
            client.close()
            return out

        result = run_concurrently(THREADS, work)
        numbering = servers.django_tool(env, "check", {"name": populate.CONCURRENT_MODEL})
        expected = list(range(THREADS * PER_THREAD))
        if failures:
            self.results["errors"].append(f"concurrent links: {len(failures)} failed, first: {failures[0]}")
        return {
            **stats(result["latencies"]),
            "throughput": len(result["latencies"]) / result["wall"],
            "gapless": numbering["indexes"] == expected and numbering["next_index"] == len(expected),
            "latest_ok": numbering["latest"] == expected[-1],
            "failures": len(failures) + len(result["errors"]),
            "count": len(numbering["indexes"]),
        }

    def idle_memory(self, server: servers.Server) -> dict[str, Any]:
        time.sleep(1.0)
        tree = server.rss_tree()
        return {"rss": tree["rss"], "pss": tree["pss"], "procs": tree["procs"]}

    def transfer(self, server: servers.Server, env: dict[str, str], src: Path, md5: str) -> dict[str, Any]:
        size = src.stat().st_size
        target = servers.django_tool(env, "upload-url", {"md5": md5, "size": size})
        with RssSampler(server.process.pid) as up:
            status, body, seconds = put_upload(server.port, target["path"], src)
        if status != 200:
            raise RuntimeError(f"upload answered {status}: {body[:300]!r}")
        download = servers.django_tool(env, "download-url", {"md5": md5})
        with RssSampler(server.process.pid) as down:
            status, got, down_seconds = get_file(server.port, download["path"])
        if status != 200 or got != size:
            raise RuntimeError(f"download answered {status} with {got} bytes of {size}")
        return {
            "upload_rate": size / seconds,
            "download_rate": size / down_seconds,
            "upload_rss": up.growth,
            "download_rss": down.growth,
        }

    # The run ---------------------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        r = self.results
        r["machine"] = machine(self.scale_name, self.scale)
        log(f"scale {self.scale_name}: {self.scale}; work directory {self.work}")

        # Byte-rate baselines, on the file the servers will receive.
        src = self.work / "big.bin"
        make_file(src, self.scale["file"])
        md5_rate, md5 = hash_rate(src, "md5")
        sha_rate, _ = hash_rate(src, "sha256")
        r["bytes"] = {
            "md5": md5_rate,
            "sha256": sha_rate,
            "dd": dd_rate(src, self.work / "dd.out"),
            "size": src.stat().st_size,
        }
        log(f"hashlib MD5 {md5_rate / MiB:.0f} MiB/s, SHA-256 {sha_rate / MiB:.0f} MiB/s")

        backends = ["sqlite"]
        if self.use_postgres:
            try:
                self.pg = servers.Postgres()
                backends.append("postgresql")
            except (FileNotFoundError, OSError) as exc:
                r["notes"].append(f"PostgreSQL skipped: {exc}")
        try:
            for backend in backends:
                self.run_backend(backend, src, md5)
            if self.peer:
                from bench import peer

                r["mlflow"] = peer.run(self, src)
        finally:
            if self.pg:
                self.pg.stop()
        r["machine"]["load_at_end"] = os.getloadavg()
        return r

    def run_backend(self, backend: str, src: Path, md5: str) -> None:
        r = self.results.setdefault(backend, {})
        sizes = {"base": self.scale["base"], "large": self.scale["large"]}
        if backend == "sqlite" and self.scale["list"] not in sizes.values():
            sizes["list"] = self.scale["list"]
        # Base size: idle memory, the pages beside the large size's, then everything that writes.
        env, data = self.dataset(backend, sizes["base"], sources=True)
        server = servers.gunicorn(env)
        stub = None
        try:
            self.warm_up(server, data)
            r["idle"] = self.idle_memory(server)
            log(f"{backend}: idle tree RSS {r['idle']['rss'] / MiB:.0f} MiB")
            large_env, large_data = self.dataset(backend, sizes["large"], sources=False)
            large = servers.gunicorn(large_env)
            try:
                self.warm_up(large, large_data)
                r["pages_base"], r["pages_large"] = self.measure_pages((server, data), (large, large_data))
            finally:
                large.stop()
            if backend == "sqlite":
                log("recording the SDK's log-and-link flow")
                self.recording = flow.record(env, data["api_key"], self.work)
                self.replay = flow.Replay(self.recording["flow"])
                self.results["recording"] = {k: v for k, v in self.recording.items() if k != "flow"}
                self.results["recording"]["checks"] = self.replay.checks
                if not all(self.replay.checks.values()):
                    self.results["errors"].append(f"the replay cannot make new flows: {self.replay.checks}")
                self.link_request = self.replay.request("LinkArtifact")
                stub_file = self.work / "stub.json"
                stub_file.write_text(json.dumps(self.replay.stub_responses()))
                stub = servers.gunicorn({**env, "BENCH_STUB": str(stub_file)}, "bench.stub:application")
                self.results["stub_api"] = self.api_links(stub.port, data, stub=True)
            r["api"] = self.api_links(server.port, data)
            log(f"{backend}: LinkArtifact median {r['api']['median'] * 1000:.1f} ms")
            r["concurrent"] = self.concurrent_links(server, env, data)
            log(f"{backend}: 16x10 links {r['concurrent']}")
            if backend == "sqlite":
                n = self.scale["flows"]
                r["flow"] = flow.replay_series(server.port, self.replay, first=100, n=n)
                before = servers.django_tool(env, "check", {"name": populate.FLOW_MODEL})
                r["flow"]["links_made"] = len(before["indexes"])
                r["flow_stub"] = flow.replay_series(stub.port, self.replay, first=100, n=n, check=False)
                log(f"flow: ours {r['flow']['median'] * 1000:.1f} ms, stub {r['flow_stub']['median'] * 1000:.1f} ms")
                r["transfer"] = self.transfer(server, env, src, md5)
                log(f"transfer: {r['transfer']}")
        finally:
            server.stop()
            if stub:
                stub.stop()
        if "list" in sizes:
            env, data = self.dataset(backend, sizes["list"], sources=False)
            server = servers.gunicorn(env)
            try:
                self.warm_up(server, data)
                r["pages_list"] = {
                    "registry list": time_get(
                        server.port, "/registry/model", {"Cookie": data["cookie"]}, n=self.scale["pages"]
                    )
                }
            finally:
                server.stop()
        if "pages_list" not in r and sizes["large"] == self.scale["list"]:
            r["pages_list"] = r["pages_large"]
        elif "pages_list" not in r and sizes["base"] == self.scale["list"]:
            r["pages_list"] = r["pages_base"]


def put_upload(port: int, path: str, src: Path) -> tuple[int, bytes, float]:
    from bench.measure import put_file

    return put_file(port, path, src)


def machine(scale_name: str, scale: dict[str, Any]) -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "scale": scale_name,
        "load_at_start": os.getloadavg(),
        "sizes": scale,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--peer", action="store_true", help="also measure MLflow (bench/.venv-mlflow)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    scale = os.environ.get("BENCH_SCALE", "full")
    if scale not in SCALES:
        parser.error(f"BENCH_SCALE must be one of {', '.join(SCALES)}")
    bench = Bench(scale, args.peer, not args.no_postgres)
    try:
        results = bench.run()
    except BaseException:
        traceback.print_exc()
        raise
    finally:
        shutil.rmtree(bench.work, ignore_errors=True)
    text = report.render(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    day = datetime.date.today().isoformat()
    name = f"{day}.md" if scale == "full" else f"{day}-{scale}.md"
    (args.out / name).write_text(text)
    (args.out / name.replace(".md", ".json")).write_text(json.dumps(results, indent=1, default=str))
    log(f"written to {args.out / name}")


if __name__ == "__main__":
    main()
