"""Issue 12, scaling out: two app servers on one PostgreSQL database and one S3 bucket behave as one.

Two servers are started at the same moment, as `make run` starts them (`prepare_server`, then gunicorn), on an
empty throwaway PostgreSQL database and a moto S3 server on 127.0.0.1, each with its own DATA_DIR and port and
the same SECRET_KEY. Then the official `wandb` SDK and plain HTTP show that:

- both came up and the database was set up once;
- a model logged and linked through server A resolves, downloads byte for byte and shows on the pages through
  server B (B's signed download URLs and sessions are B's own; the rows and bytes are shared);
- links sent at once through both servers into one registered model get the versions v0..v(n-1), no gap and
  no duplicate, and `latest` on the newest;
- no file byte passes through either server (S3_DIRECT, the default with S3): the SDK PUTs and GETs presigned
  URLs of the bucket, the pages' download links redirect there, and the servers' access logs show far less
  than the 64 MiB file received or sent while it is logged, downloaded by the SDK and downloaded from the
  pages, the workers' memory staying within 16 MiB of where it was.
"""

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests
from wandb.sdk.artifacts._generated import LINK_ARTIFACT_GQL

from tests.test_prepare_server import BASE_DIR, Server, query, state, throwaway_postgres
from tests.test_s3_storage import free_port
from tests.wandb_api.helpers import basic_auth, sdk_env

BUCKET = "scale-out"
ENTITY, PROJECT = "scaleco", "training"
MODEL = "Scale-Out-Model"  # logged and linked through A, read through B
PARALLEL = "Parallel-Links"  # linked through both at once
PARALLEL_LINKS = 12
BIG_SIZE = 64 * 1024 * 1024
MIB = 1024 * 1024
MEMORY_BOUND = 16 * MIB
USER, PASSWORD = "ml-engineer", "a long password for the scale-out test"
SDK_TIMEOUT = 240


@dataclass
class Cluster:
    a: Server
    b: Server
    env: dict[str, str]  # what both servers share (and server A's DATA_DIR)
    key: str  # the SDK user's API key
    tmp: Path

    def url(self, server: Server) -> str:
        return f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 with one empty bucket."""
    from moto.server import ThreadedMotoServer

    # moto's request log would bury a failure's output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    s3 = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    s3.create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def manage(env: dict[str, str], *args: str) -> str:
    """Run `manage.py` with a server's environment; its stdout."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=os.environ | env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


SET_UP_TEAM = f"""
from django.contrib.auth import get_user_model
from artifacts import services
from artifacts.models import Role
user = get_user_model().objects.create_user({USER!r}, password={PASSWORD!r})
services.membership_set(entity=services.entity_create(name={ENTITY!r}), user=user, role=Role.MEMBER)
"""


@pytest.fixture(scope="module")
def cluster(postgres_url, s3_url, tmp_path_factory) -> Iterator[Cluster]:
    """Servers A and B started at the same moment on the empty database; a team member and their API key."""
    tmp = tmp_path_factory.mktemp("scale-out")
    assert query({"DATABASE_URL": postgres_url}, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [
        (0,)
    ], "the database is not empty before the servers start"
    shared = {
        "DATABASE_URL": postgres_url,
        "SECRET_KEY": "one secret key shared by every app server " * 2,
        "S3_BUCKET": BUCKET,
        "AWS_S3_ENDPOINT_URL": s3_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DEMO": "0",
        "DJANGO_SUPERUSER_USERNAME": "admin",
        "DJANGO_SUPERUSER_PASSWORD": "the administrator's long password",
    }
    envs = [shared | {"DATA_DIR": str(tmp / f"machine-{name}")} for name in ("a", "b")]
    # Both at once: neither has set up the database when the other starts. One worker each (Server's WORKERS=1),
    # with make run's 4 threads.
    a, b = (Server(env, tmp / f"server-{name}.log") for env, name in zip(envs, "ab", strict=True))
    try:
        for server in (a, b):
            server.wait_until_serving()
        manage(envs[0], "shell", "-c", SET_UP_TEAM)
        key = manage(envs[0], "create_api_key", USER, "--name", "scale-out test").strip()
        yield Cluster(a=a, b=b, env=envs[0], key=key, tmp=tmp)
    finally:
        for server in (a, b):
            if server.process.poll() is None:
                server.stop()


def run_sdk(cluster: Cluster, server: Server, script: str, name: str, **params: object) -> dict:
    """Run a script with the real `wandb` SDK against one server; the JSON it printed on its last line."""
    root = cluster.tmp / f"sdk-{name}"
    root.mkdir()
    path = root / "script.py"
    path.write_text(f"PARAMS = {params!r}\n" + textwrap.dedent(script))
    done = subprocess.run(
        [sys.executable, str(path)],
        cwd=root,
        env=sdk_env(cluster.url(server), cluster.key, root),
        capture_output=True,
        text=True,
        timeout=SDK_TIMEOUT,
    )
    assert done.returncode == 0, f"the SDK script failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


LOG_AND_LINK = """
import json, wandb
out = {}
run = wandb.init(entity=PARAMS["entity"], project=PARAMS["project"])
linked = run.link_model(
    path=PARAMS["model_dir"], registered_model_name=PARAMS["model"], name="scale-model", aliases=["candidate"]
)
out["linked"] = [linked.qualified_name, sorted(linked.aliases)]
# Versions for the parallel links, logged here and linked by the test.
logged = []
for i in range(PARAMS["parallel"]):
    artifact = wandb.Artifact("parallel-model", type="model")
    with artifact.new_file("weights.txt") as f:
        f.write(f"weights of version {i}")
    logged.append(run.log_artifact(artifact))
out["parallel_ids"] = [artifact.wait().id for artifact in logged]
run.finish()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def logged(cluster) -> dict:
    """Through server A: a model of two files (one of 64 MiB) logged and linked with an alias, and the
    versions the parallel links use. The files' SHA-256s and what the SDK printed."""
    model_dir = cluster.tmp / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"layers": 12, "width": 768, "note": "x" * 4000}))
    with (model_dir / "weights.bin").open("wb") as f:
        for _ in range(BIG_SIZE // MIB):
            f.write(os.urandom(MIB))
    io_before = served_bytes(cluster.a)
    out = run_sdk(
        cluster,
        cluster.a,
        LOG_AND_LINK,
        "log-through-a",
        entity=ENTITY,
        project=PROJECT,
        model=MODEL,
        model_dir=str(model_dir),
        parallel=PARALLEL_LINKS,
    )
    out["sha256"] = {p.name: sha256_file(p) for p in model_dir.iterdir()}
    out["served bytes"] = served_bytes(cluster.a) - io_before
    return out


# make run's access log line (registry_site/gunicorn_conf.py): `... "GET /path HTTP/1.1" 200 <sent> ... in=<size>`.
ACCESS_LINE = re.compile(r'"[A-Z]+ \S+ HTTP/[\d.]+" \d{3} (\d+|-) .* in=(\d+|-)$')


def served_bytes(server: Server) -> int:
    """Bytes the server has received in request bodies and sent in responses so far, from its access log."""
    total = 0
    for line in server.output().splitlines():
        if m := ACCESS_LINE.search(line):
            total += sum(int(n) for n in m.groups() if n != "-")
    return total


def test_both_servers_came_up_at_once_on_the_empty_database_and_set_it_up_once(cluster):
    for server in (cluster.a, cluster.b):
        response = requests.get(f"{cluster.url(server)}/accounts/login/", timeout=10)
        assert response.status_code == 200, f"server on port {server.port} does not serve its sign-in page"
    setup = state(cluster.env)
    assert setup["migrations applied twice"] == [], "both servers migrated"
    assert setup["superusers"] == [(1,)]
    assert setup["artifact versions"] == [(0,)], "DEMO=0 loaded data"
    outputs = cluster.a.output() + cluster.b.output()
    assert outputs.count("Created superuser 'admin'") == 1, outputs
    assert outputs.count("Ready to serve (DEMO=0") == 2, outputs


READ_AND_DOWNLOAD = """
import hashlib, json, os, wandb
api = wandb.Api()
artifact = api.artifact(f"{PARAMS['entity']}/model-registry/{PARAMS['model']}:candidate")
root = artifact.download(root="downloaded")
out = {
    "resolved": [artifact.qualified_name, artifact.version, artifact.type, sorted(artifact.aliases)],
    "source": artifact.source_qualified_name,
    "files": {},
}
for name in sorted(os.listdir(root)):
    with open(os.path.join(root, name), "rb") as f:
        out["files"][name] = hashlib.file_digest(f, "sha256").hexdigest()
    # The signed URL server B handed out for this file.
    out.setdefault("urls", {})[name] = artifact.get_entry(name)._download_url
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def read_through_b(cluster, logged) -> dict:
    """Through server B, in a fresh SDK process: the linked model resolved by its alias and downloaded."""
    io_before = served_bytes(cluster.b)
    out = run_sdk(cluster, cluster.b, READ_AND_DOWNLOAD, "read-through-b", entity=ENTITY, project=PROJECT, model=MODEL)
    out["served bytes"] = served_bytes(cluster.b) - io_before
    return out


def test_a_model_logged_and_linked_through_one_server_is_read_and_downloaded_through_the_other(
    cluster, logged, read_through_b
):
    assert logged["linked"] == [f"{ENTITY}/model-registry/{MODEL}:v0", ["candidate", "latest"]]
    out = read_through_b
    assert out["resolved"] == [f"{ENTITY}/model-registry/{MODEL}:candidate", "v0", "model", ["candidate", "latest"]]
    assert out["source"] == f"{ENTITY}/{PROJECT}/scale-model:v0"
    assert out["files"] == logged["sha256"], "the files downloaded through B differ from those logged through A"
    bucket = f"{cluster.env['AWS_S3_ENDPOINT_URL']}/{BUCKET}/blobs/"
    assert all(url.startswith(bucket) for url in out["urls"].values()), f"download URLs not the bucket's: {out['urls']}"


def test_no_file_byte_passes_through_either_server(cluster, logged, read_through_b):
    # 64 MiB went up through A's URLs and came down through B's: through a server, its access log would show
    # them. What remains is requests, answers and the manifest.
    bound = BIG_SIZE // 8
    for server, moved in (("A (logging)", logged["served bytes"]), ("B (downloading)", read_through_b["served bytes"])):
        assert 0 < moved < bound, (
            f"server {server} received and sent {moved / MIB:.1f} MiB for a {BIG_SIZE // MIB} MiB file"
        )


def signed_in(cluster: Cluster, server: Server) -> requests.Session:
    """A browser-like session signed in through Django's sign-in form."""
    session = requests.Session()
    url = f"{cluster.url(server)}/accounts/login/"
    session.get(url, timeout=10).raise_for_status()
    form = {"username": USER, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    response = session.post(url, data=form, timeout=10, allow_redirects=False)
    assert response.status_code == 302, f"sign-in through port {server.port} failed: {response.status_code}"
    return session


def test_the_pages_through_the_other_server_show_the_model(cluster, logged):
    session = signed_in(cluster, cluster.b)
    base = cluster.url(cluster.b)
    pages = {
        "Model Registry": (f"{base}/registry/model", [MODEL]),
        "model card": (f"{base}/registry/model/{ENTITY}/{MODEL}", [MODEL, "v0", "candidate"]),
        "registered version": (f"{base}/registry/model/{ENTITY}/{MODEL}/v0", ["scale-model:v0"]),
        "Artifact browser": (f"{base}/{ENTITY}/{PROJECT}/artifacts", ["scale-model", "parallel-model"]),
        "artifact version": (f"{base}/{ENTITY}/{PROJECT}/artifacts/model/scale-model/v0", ["scale-model"]),
    }
    for page, (url, expected) in pages.items():
        response = session.get(url, timeout=30)
        assert response.status_code == 200, f"{page} ({url}) answered {response.status_code}"
        missing = [text for text in expected if text not in response.text]
        assert not missing, f"{page} ({url}) does not show {missing}"


def link_through(cluster: Cluster, server: Server, artifact_id: str) -> dict:
    """The LinkArtifact mutation, as the SDK sends it, through one server."""
    variables = {
        "input": {
            "artifactID": artifact_id,
            "artifactPortfolioName": PARALLEL,
            "entityName": ENTITY,
            "projectName": "model-registry",
            "aliases": [],
        }
    }
    response = requests.post(
        f"{cluster.url(server)}/graphql",
        json={"query": LINK_ARTIFACT_GQL, "variables": variables},
        headers={"Authorization": basic_auth(cluster.key)},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_links_sent_at_once_through_both_servers_get_gapless_versions(cluster, logged):
    ids = logged["parallel_ids"]
    assert len(set(ids)) == PARALLEL_LINKS
    # Alternately through A and B, all released at once into a registered model none of them has made yet.
    targets = [(cluster.a, cluster.b)[i % 2] for i in range(len(ids))]
    start = threading.Barrier(len(ids))

    def link(i: int) -> dict:
        start.wait()
        return link_through(cluster, targets[i], ids[i])

    with ThreadPoolExecutor(len(ids)) as pool:
        results = list(pool.map(link, range(len(ids))))
    errors = [r["errors"] for r in results if r.get("errors")]
    assert not errors, f"links failed: {errors}"
    answered = sorted(r["data"]["result"]["versionIndex"] for r in results)
    assert answered == list(range(PARALLEL_LINKS)), f"the links were answered with versions {answered}"

    rows = query(
        cluster.env,
        "SELECT l.index, l.source_id FROM registry_link l JOIN registry_registeredmodel m "
        f"ON m.id = l.registered_model_id WHERE m.name = '{PARALLEL}' ORDER BY l.index",
    )
    assert [index for index, _ in rows] == list(range(PARALLEL_LINKS)), f"versions not v0..v{PARALLEL_LINKS - 1}"
    assert len({source for _, source in rows}) == PARALLEL_LINKS, "a version was linked twice"
    latest = query(
        cluster.env,
        "SELECT l.index FROM registry_linkalias a JOIN registry_link l ON l.id = a.link_id "
        f"JOIN registry_registeredmodel m ON m.id = a.registered_model_id WHERE m.name = '{PARALLEL}' "
        "AND a.name = 'latest'",
    )
    assert latest == [(PARALLEL_LINKS - 1,)], f"latest is on {latest}, not on the newest version"


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's child processes (its workers)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def download_measured(session: requests.Session, url: str, server: Server) -> tuple[requests.Response, str, dict]:
    """Download `url` streamed and hashed piece by piece (the test holds no more of it than the server should),
    sampling the RSS of the server's workers meanwhile: the response, the SHA-256 and each worker's growth."""
    # The master exec'd in place of `sh -c` (Server runs make run's two lines).
    workers = worker_pids(server.process.pid)
    assert workers, f"the server on port {server.port} has no worker processes"
    baseline = {pid: rss(pid) for pid in workers}
    peak = dict(baseline)
    samples = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal samples
        while not done.is_set():
            for pid in workers:
                peak[pid] = max(peak[pid], rss(pid))
            samples += 1
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    digest, received = hashlib.sha256(), 0
    try:
        with session.get(url, stream=True, timeout=120) as response:
            assert response.status_code == 200, response.text[:500]
            for chunk in response.iter_content(MIB):
                digest.update(chunk)
                received += len(chunk)
                time.sleep(0.01)  # a client slower than loopback: the download lasts long enough to sample
    finally:
        done.set()
        sampler.join()
    assert received == BIG_SIZE
    assert samples >= 5, f"only {samples} memory samples during the download"
    growth = {pid: peak[pid] - baseline[pid] for pid in workers}
    assert max(growth.values()) <= MEMORY_BOUND, (
        f"a worker grew by {max(growth.values()) / MIB:.1f} MiB streaming {BIG_SIZE // MIB} MiB "
        f"(growth per worker, MiB: { {pid: round(g / MIB, 1) for pid, g in growth.items()} })"
    )
    return response, digest.hexdigest(), growth


PAGE_DOWNLOAD = "/{entity}/{project}/artifacts/model/scale-model/v0/files/weights.bin"


def test_a_large_download_from_the_pages_keeps_the_workers_memory_and_io_bounded(cluster, logged, read_through_b):
    session = signed_in(cluster, cluster.b)
    url = cluster.url(cluster.b) + PAGE_DOWNLOAD.format(entity=ENTITY, project=PROJECT)
    # Once before measuring, so that what the worker loads on first use (boto3's resource models for the
    # store's HEAD) does not show as growth.
    assert session.get(url, allow_redirects=False, timeout=30).status_code == 302
    io_before = served_bytes(cluster.b)
    response, sha256, _ = download_measured(session, url, cluster.b)
    assert [r.status_code for r in response.history] == [302], "the page link did not redirect"
    assert response.url.startswith(f"{cluster.env['AWS_S3_ENDPOINT_URL']}/{BUCKET}/"), response.url
    assert sha256 == logged["sha256"]["weights.bin"]
    assert served_bytes(cluster.b) - io_before < MIB, "the page download passed bytes through server B"


def test_with_s3_direct_off_a_large_download_streams_through_the_app_in_bounded_memory(cluster, logged):
    """S3_DIRECT=0: the bytes pass through the worker, read from the bucket in chunks, never whole."""
    env = cluster.env | {"DATA_DIR": str(cluster.tmp / "machine-c"), "S3_DIRECT": "0"}
    server = Server(env, cluster.tmp / "server-c.log")
    try:
        server.wait_until_serving()
        session = signed_in(cluster, server)
        url = cluster.url(server) + PAGE_DOWNLOAD.format(entity=ENTITY, project=PROJECT)
        # Once before measuring, so that what the worker loads on first use (boto3's models) is not growth.
        with session.get(url, headers={"Range": "bytes=0-1023"}, allow_redirects=False, timeout=30) as first:
            assert first.status_code == 206, first.text[:500]
        io_before = served_bytes(server)
        response, sha256, _ = download_measured(session, url, server)
        assert response.history == [], "the page link redirected with S3_DIRECT=0"
        assert sha256 == logged["sha256"]["weights.bin"]
        assert served_bytes(server) - io_before >= BIG_SIZE, "the bytes did not pass through the app"
    finally:
        server.stop()
