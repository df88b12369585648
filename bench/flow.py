"""The SDK's warm log-and-link flow: recorded once from the real `wandb` SDK, then replayed.

Recording: our app is served through bench/recorder.py (a WSGI wrapper that logs every request and response)
and a script with the real SDK starts a run, logs and links one model (warm-up: the artifact, the registered
model and every cache exist afterwards), sends a start marker, logs a new version (new bytes) and links it,
and sends an end marker. The requests between the markers, less the SDK's background traffic (file_stream
heartbeats and telemetry, which follow the clock, not the flow), are the flow.

Replay: the same requests in the same order on one keep-alive connection, each iteration a real new flow:
the file's bytes are new (its MD5, the manifest digest and the client ids the SDK made up are replaced in every
request), and every id or URL the server answered differently from the recording (the new version's id, the
signed upload URLs) is carried into the requests that follow, as the SDK would. Against the stub
(bench/stub.py, same gunicorn settings) each request gets its recorded response with no work done. The time of
a flow is the sum of its requests' round trips.
"""

import base64
import contextlib
import hashlib
import json
import os
import random
import string
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import populate, servers
from bench.measure import Http, stats

FILE = "weights.bin"
ARTIFACT = "benchflow"
BACKGROUND = ("/file_stream", "/sdk/otel/")
CLIENT_ID_KEYS = {"clientid", "sequenceclientid"}
HOP = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding", "keep-alive"}


def content(k: int) -> bytes:
    """The flow's file for iteration k: about 5 KiB, the same length for every k, different bytes."""
    return f"BENCHFLOW-{k:08d}\n".encode() * 256


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def manifest_digest(files: dict[str, str]) -> str:
    """The SDK's artifact digest of a manifest (path -> base64 MD5)."""
    h = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path in sorted(files):
        h.update(f"{path}:{files[path]}\n".encode())
    return h.hexdigest()


SDK_SCRIPT = """
import json, os, sys, urllib.request, wandb

base = os.environ["WANDB_BASE_URL"]
def mark(name):
    urllib.request.urlopen(base + "/__bench__/mark/" + name).read()

def content(k):
    return f"BENCHFLOW-{{k:08d}}\\n".encode() * 256

run = wandb.init(entity="{entity}", project="{project}", job_type="train")
def flow(k):
    with open("{file}", "wb") as f:
        f.write(content(k))
    artifact = wandb.Artifact("{artifact}", type="model")
    artifact.add_file("{file}")
    logged = run.log_artifact(artifact)
    logged.wait()
    return run.link_artifact(logged, "{entity}/model-registry/{model}")

flow(0)
mark("start")
linked = flow(1)
mark("end")
run.finish()
print(json.dumps({{"linked": linked.qualified_name if linked is not None else None}}))
"""


def sdk_env(base_url: str, key: str, root: Path) -> dict[str, str]:
    """The SDK isolated in `root`, off every network but this server (as tests/wandb_api/helpers.py does)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("WANDB_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"))
    }
    dirs = {name: root / name.lower() for name in ("HOME", "WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR")}
    dirs |= {"WANDB_DATA_DIR": root / "data", "WANDB_ARTIFACT_DIR": root / "artifacts"}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env |= {name: str(path) for name, path in dirs.items()}
    env |= {
        "WANDB_BASE_URL": base_url,
        "WANDB_API_KEY": key,
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "WANDB_CONSOLE": "off",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_X_DISABLE_STATS": "true",
        "WANDB_X_DISABLE_MACHINE_INFO": "true",
        "WANDB_ERROR_REPORTING": "false",
        "WANDB_INIT_TIMEOUT": "60",
    }
    return env


def record(env: dict[str, str], key: str, workdir: Path) -> dict[str, Any]:
    """Serve the app through the recorder, run the SDK's flow twice (warm-up, measured); the flow's records."""
    log = workdir / "recorded.jsonl"
    log.unlink(missing_ok=True)
    server = servers.gunicorn({**env, "BENCH_RECORD": str(log)}, "bench.recorder:application", workers=1)
    try:
        root = workdir / "sdk"
        root.mkdir(exist_ok=True)
        script = root / "flow.py"
        fields = {"entity": populate.ENTITY, "project": populate.PROJECT, "model": populate.FLOW_MODEL}
        script.write_text(textwrap.dedent(SDK_SCRIPT.format(file=FILE, artifact=ARTIFACT, **fields)))
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=root,
            env=sdk_env(server.url, key, root),
            capture_output=True,
            text=True,
            timeout=300,
        )
        sdk_seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"the SDK flow failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    finally:
        server.stop()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    marks = {r["mark"]: r["t0"] for r in lines if "mark" in r}
    window = sorted((r for r in lines if "mark" not in r and marks["start"] <= r["t0"] <= marks["end"]), key=_t0)
    flow = [r for r in window if not any(b in r["path"] for b in BACKGROUND)]
    return {
        "flow": flow,
        "background": len(window) - len(flow),
        "all_requests": len([r for r in lines if "mark" not in r]),
        "sdk_seconds": sdk_seconds,
        "linked": json.loads(done.stdout.strip().splitlines()[-1])["linked"],
        "recorded_flow_seconds": marks["end"] - marks["start"],
    }


def _t0(r: dict) -> float:
    return r["t0"]


def describe(record: dict) -> str:
    """`POST /graphql CreateArtifact` / `PUT /files/upload/...`: one request, for the report."""
    if record["path"] == "/graphql":
        try:
            query = json.loads(base64.b64decode(record["body"]))["query"]
            words = query.replace("(", " ").replace("{", " ").split()
            return f"POST /graphql {words[1] if words[0] in ('query', 'mutation') else words[0]}"
        except (ValueError, KeyError, IndexError):
            return "POST /graphql ?"
    path = record["path"]
    return f"{record['method']} {path if len(path) < 40 else path[:30] + '/...'}"


def _random_like(value: str, rng: random.Random) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(rng.choice(alphabet) for _ in value)


def _client_ids(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k.lower() in CLIENT_ID_KEYS and isinstance(v, str) and v:
                found.add(v)
            else:
                _client_ids(v, found)
    elif isinstance(value, list):
        for v in value:
            _client_ids(v, found)


def _diff(recorded: Any, live: Any, mapping: dict[str, str]) -> None:
    """Every string the live server answered differently from the recording (ids, URLs) is carried forward."""
    if isinstance(recorded, dict) and isinstance(live, dict):
        for k, v in recorded.items():
            if k in live:
                _diff(v, live[k], mapping)
    elif isinstance(recorded, list) and isinstance(live, list):
        for a, b in zip(recorded, live, strict=False):
            _diff(a, b, mapping)
    elif isinstance(recorded, str) and isinstance(live, str) and recorded != live and len(recorded) >= 6:
        mapping[recorded] = live


def _substitute(text: str, mapping: dict[str, str]) -> str:
    for old in sorted(mapping, key=len, reverse=True):
        if old in text:
            text = text.replace(old, mapping[old])
    return text


class Replay:
    """The recorded flow, ready to be sent again as new flows."""

    def __init__(self, flow: list[dict]):
        self.flow = flow
        self.recorded_content = content(1)
        found: set[str] = set()
        for r in flow:
            with contextlib.suppress(ValueError):
                _client_ids(json.loads(base64.b64decode(r["body"])), found)
        self.client_ids = sorted(found)
        md5 = b64md5(self.recorded_content)
        self.recorded_digest = manifest_digest({FILE: md5})
        bodies = b"".join(base64.b64decode(r["body"]) for r in flow)
        # The SDK computes these the same way, or the replay would not be a new flow: say so loudly.
        self.checks = {
            "md5 in requests": md5.encode() in bodies,
            "digest in requests": self.recorded_digest.encode() in bodies,
            "file PUT": any(base64.b64decode(r["body"]) == self.recorded_content for r in flow),
        }

    def request(self, name: str) -> dict:
        """The recorded GraphQL body of operation `name` (e.g. LinkArtifact), as the SDK sent it."""
        for r in self.flow:
            if describe(r) == f"POST /graphql {name}":
                return {"body": json.loads(base64.b64decode(r["body"])), "headers": r["headers"]}
        raise KeyError(name)

    def stub_responses(self) -> list[dict]:
        return [{"status": r["status"], "headers": r["response_headers"], "body": r["response"]} for r in self.flow]

    def run(self, client: Http, k: int, *, check: bool) -> tuple[list[float], list[str]]:
        """One flow with iteration k's bytes; (seconds of each request, problems found when `check`)."""
        new = content(k)
        rng = random.Random(k)
        mapping = {
            b64md5(self.recorded_content): b64md5(new),
            hashlib.md5(self.recorded_content).hexdigest(): hashlib.md5(new).hexdigest(),
            self.recorded_digest: manifest_digest({FILE: b64md5(new)}),
        }
        mapping |= {cid: _random_like(cid, rng) for cid in self.client_ids}
        steps, problems = [], []
        for seq, r in enumerate(self.flow):
            host = r["headers"].get("Host", "127.0.0.1")
            url = _substitute(f"http://{host}{r['path']}" + (f"?{r['query']}" if r["query"] else ""), mapping)
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            body = base64.b64decode(r["body"])
            if body == self.recorded_content:
                body = new
            elif body:
                with contextlib.suppress(UnicodeDecodeError):
                    body = _substitute(body.decode(), mapping).encode()
            headers = {k: _substitute(v, mapping) for k, v in r["headers"].items() if k.lower() not in HOP}
            headers["X-Bench-Seq"] = str(seq)
            status, _, data, seconds = client.request(r["method"], path, body or None, headers)
            steps.append(seconds)
            if status != r["status"]:
                problems.append(f"{describe(r)}: {status} (recorded {r['status']}): {data[:200]!r}")
                continue
            try:
                recorded, live = json.loads(base64.b64decode(r["response"])), json.loads(data)
            except ValueError:
                continue
            if check and isinstance(live, dict) and live.get("errors") and not recorded.get("errors"):
                problems.append(f"{describe(r)}: errors {live['errors']}")
            _diff(recorded, live, mapping)
        return steps, problems


def replay_series(port: int, replay: Replay, *, first: int, n: int, warmup: int = 2, check: bool = True) -> dict:
    """`warmup` untimed then `n` timed flows on one keep-alive connection, iterations from `first` on."""
    client = Http(port)
    samples, per_step, problems = [], [[] for _ in replay.flow], []
    try:
        for i in range(warmup + n):
            steps, found = replay.run(client, first + i, check=check)
            problems += [f"flow {first + i}: {p}" for p in found]
            if i >= warmup:
                samples.append(sum(steps))
                for j, seconds in enumerate(steps):
                    per_step[j].append(seconds)
    finally:
        client.close()
    steps = [{"request": describe(r), **stats(s)} for r, s in zip(replay.flow, per_step, strict=True)]
    return {**stats(samples), "problems": problems, "flows": warmup + n, "steps": steps}
