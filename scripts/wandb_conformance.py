#!/usr/bin/env python
"""W&B's own SDK system tests against this server (issue 16): `make wandb-conformance WANDB_REPO=<wandb checkout>`.

Takes `tests/`, `tools/` and `requirements/` of the tag `v<WANDB_VERSION>` (default: the SDK installed in .venv)
from a checkout or bare mirror of github.com/wandb/wandb, installs that SDK and the tests' requirements in
.venv-conformance, serves this app (fresh DATA_DIR, DEMO=0) and the fixture protocol
(`manage.py serve_wandb_fixtures`) on free ports, registers both with W&B's `tools/local_wandb_server.py start`
(its way to use a server it did not start), runs the selected modules unmodified with pytest, and prints a
pass/fail/error/skip table per module, also written to docs/conformance/<date>.md with the top failure causes.

A development check, not part of `make test`: the suite is W&B's code and is never copied into this repository
(it is extracted under .conformance/, which git ignores). Environment: WANDB_REPO, WANDB_VERSION,
CONFORMANCE_TESTS (paths in W&B's repository, space-separated), CONFORMANCE_WORKERS (2), CONFORMANCE_TIMEOUT
(seconds per test, 60), CONFORMANCE_KEEP=1 keeps the run's DATA_DIR and checkout.
"""

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORK = ROOT / ".conformance"
VENV = ROOT / ".venv-conformance"
DOCS = ROOT / "docs" / "conformance"
PYTHON = os.getenv("PYTHON") or shutil.which("python3.11") or "python3"
SERVER_NAME = "wandb-local-testcontainer"
DEFAULT_TESTS = [
    "tests/system_tests/test_artifacts",
    "tests/system_tests/test_registries",
    "tests/system_tests/test_api",
    "tests/system_tests/test_core/test_public_api.py",
]
# What the selected modules import beyond requirements/requirements_test.txt (W&B's requirements_dev.txt adds
# tensorflow, torch and the like, which these modules never import). `tools/local_wandb_server.py` needs click,
# filelock, pydantic and requests.
EXTRA_REQUIREMENTS = [
    "click",
    "filelock",
    "pydantic",
    "requests",
    "pyarrow",
    "Pillow",
    "matplotlib",
    "bokeh",
    "google-cloud-storage",
    "polars",
    # As W&B pins it: 2.0 removed moviepy.editor.
    "moviepy~=1.0",
    "imageio[ffmpeg]",
    "soundfile",
]
OUTCOMES = ("passed", "failed", "error", "skipped")
# A test's one outcome, from the JUnit elements of its testcase (a failure and a teardown error: failed).
PRIORITY = (("failed", "failure"), ("error", "error"), ("skipped", "skipped"))


def git(repo: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False, **kwargs)


def pick_tag(repo: Path, version: str) -> tuple[str, str]:
    """The tag `v<version>` and its commit; exits with the newest tags there when the repository lacks it."""
    tag = f"v{version}"
    found = git(repo, "rev-parse", "--verify", "-q", f"refs/tags/{tag}^{{commit}}", text=True)
    if found.returncode == 0:
        return tag, found.stdout.strip()
    newest = git(repo, "tag", "-l", "v[0-9]*", "--sort=-v:refname", text=True).stdout.split()[:5]
    sys.exit(
        f"{repo} has no tag {tag} (newest: {', '.join(newest) or 'none'}). Fetch its tags, or run the newest pair "
        f"it has, e.g. WANDB_VERSION={newest[0][1:] if newest else '<version>'} (that SDK and its tests)."
    )


def extract(repo: Path, tag: str, dest: Path, paths: list[str]) -> list[str]:
    """Write the files under `paths` at `tag` into `dest` without a work tree; the paths whose blob the
    repository lacks (mirrors may leave out large files) are returned, not fatal."""
    listing = git(repo, "ls-tree", "-r", "-z", tag, "--", *paths).stdout.decode().split("\0")
    entries = []
    for line in filter(None, listing):
        meta, path = line.split("\t", 1)
        mode, kind, sha = meta.split()
        if kind == "blob":
            entries.append((mode, sha, path))
    missing = []
    batch = subprocess.Popen(
        ["git", "-C", str(repo), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert batch.stdin and batch.stdout
    for mode, sha, path in entries:
        batch.stdin.write(f"{sha}\n".encode())
        batch.stdin.flush()
        header = batch.stdout.readline().decode().split()
        if header[-1] == "missing":
            missing.append(path)
            continue
        content = batch.stdout.read(int(header[2]))
        batch.stdout.read(1)
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            target.symlink_to(content.decode())
        else:
            target.write_bytes(content)
            if mode == "100755":
                target.chmod(0o755)
    batch.stdin.close()
    batch.wait()
    return missing


def ensure_venv(checkout: Path, version: str) -> None:
    """.venv-conformance with wandb==version and the tests' requirements; reinstalled only when those change."""
    reqs = checkout / "requirements" / "requirements_test.txt"
    constraints = checkout / "requirements" / "constraints.txt"
    wanted = "\n".join(
        [f"wandb=={version}", reqs.read_text(), constraints.read_text() if constraints.exists() else "", "", ""]
        + EXTRA_REQUIREMENTS
    )
    marker = VENV / ".installed"
    digest = hashlib.sha256(wanted.encode()).hexdigest()
    if marker.exists() and marker.read_text() == digest:
        return
    if not (VENV / "bin" / "python").exists():
        subprocess.run([PYTHON, "-m", "venv", str(VENV)], check=True)
        subprocess.run([VENV / "bin" / "pip", "install", "-q", "--upgrade", "pip"], check=True)
    print(f"Installing wandb=={version} and the tests' requirements into {VENV.name} ...", flush=True)
    args = [str(VENV / "bin" / "pip"), "install", "-q", f"wandb=={version}", "-r", str(reqs), *EXTRA_REQUIREMENTS]
    if constraints.exists():
        args += ["-c", str(constraints)]
    subprocess.run(args, check=True)
    marker.write_text(digest)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"Nothing answers on port {port}; the end of {log}:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)


@contextlib.contextmanager
def serving(args: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """A process of ours answering on 127.0.0.1:port until the block ends (SIGTERM to its own process group)."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_port(port, process, log)
        yield
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


def app_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DJANGO_", "S3_", "AWS_"))}
    return env | {
        "DATA_DIR": str(data_dir),
        "DEMO": "0",
        "DEBUG": "false",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        # Every test client comes from 127.0.0.1, and some send wrong keys on purpose: the throttle would answer
        # later tests 429 instead of 401.
        "API_KEY_FAILURE_LIMIT": "1000000",
        # W&B's test server is built with the region `minio-local` (its onprem/local/scripts/env.txt), which
        # test_storage_policy_storage_region logs to.
        "STORAGE_REGIONS": "default,minio-local",
    }


@dataclass
class Results:
    modules: dict[str, Counter]
    causes: list[tuple[int, str, str, list[str]]]  # tests, cause, an example test, modules


def _module_of(classname: str, checkout: Path) -> str:
    parts = classname.split(".")
    for i in range(len(parts), 0, -1):
        path = "/".join(parts[:i]) + ".py"
        if (checkout / path).exists():
            return path
    return classname


def normalize(message: str) -> str:
    """The cause in a failure's message: its first line without the SDK's wrappers (exception classes, the
    operation, where in the GraphQL document), with what differs from test to test (names, ids, ports, paths)
    replaced, so that one cause is one row whether it struck in a test or in its setup."""
    line = message.strip().splitlines()[0] if message.strip() else "(no message)"
    if re.match(r'failed on (?:setup|teardown) with "', line):
        line = line.split('"', 1)[1].removesuffix('"')
    line = re.sub(r"^(?:[\w.]+\.)?(?:CommError|WandbApiFailedError|errors\.Error): ", "", line)
    line = re.sub(r"^ValueError: (?=ArtifactSaver\.)", "", line)
    line = re.sub(r"^ArtifactSaver\.\w+: ", "", line)
    line = re.sub(r"\binput:\d+:\d+: ", "", line)
    line = re.sub(r"artifact membership '[^']+'", "artifact membership '<name>:<alias>'", line)
    line = re.sub(r"'[^']+' is a reference", "'<file>' is a reference", line)
    line = re.sub(r"not to project '[^']+'", "not to project '<project>'", line)
    line = re.sub(r"Invalid run id '[^']+'", "Invalid run id '<id>'", line)
    line = re.sub(r"user_\w+-[0-9a-f]{40}", "<user>", line)
    line = re.sub(r"\b(org|team|plan|collection)-\w+-[a-z0-9]+", r"<\1>", line)
    line = re.sub(r"localhost:\d+|127\.0\.0\.1:\d+", "<host>", line)
    line = re.sub(r"/tmp/[^\s'\"]+", "<tmp>", line)
    line = re.sub(r"\b[0-9a-f]{8,}\b", "<hex>", line)
    line = re.sub(r"\b(?=[A-Za-z+/]*\d)[A-Za-z0-9+/]{20,}={0,2}", "<id>", line)
    line = re.sub(r"0x[0-9a-f]+", "<addr>", line)
    return line[:220]


def read_junit(junit: Path, checkout: Path) -> Results:
    modules: dict[str, Counter] = defaultdict(Counter)
    causes: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = _module_of(case.get("classname", ""), checkout)
        tags = {child.tag: child for child in case}
        outcome = next((o for o, tag in PRIORITY if tag in tags), "passed")
        modules[module][outcome] += 1
        if outcome in ("failed", "error"):
            element = tags["failure" if outcome == "failed" else "error"]
            message = element.get("message") or (element.text or "")
            causes[normalize(message)].append((module, f"{module}::{case.get('name')}"))
    ranked = sorted(causes.items(), key=lambda kv: -len(kv[1]))
    return Results(
        dict(sorted(modules.items())),
        [(len(tests), cause, tests[0][1], sorted({m for m, _ in tests})) for cause, tests in ranked],
    )


def table(results: Results) -> str:
    rows = ["| Module | Passed | Failed | Error | Skipped | Total |", "|---|---:|---:|---:|---:|---:|"]
    total: Counter = Counter()
    for module, counts in results.modules.items():
        total += counts
        name = module.removeprefix("tests/system_tests/")
        rows.append(f"| `{name}` | " + " | ".join(str(counts[o]) for o in OUTCOMES) + f" | {sum(counts.values())} |")
    rows.append("| **Total** | " + " | ".join(f"**{total[o]}**" for o in OUTCOMES) + f" | **{sum(total.values())}** |")
    return "\n".join(rows)


def causes_table(results: Results, top: int = 20) -> str:
    rows = ["| Tests | Cause (first line of the error; names and ids replaced) | Modules | Example |"]
    rows.append("|---:|---|---|---|")
    for count, cause, example, modules in results.causes[:top]:
        cause = cause.replace("|", "\\|").replace("`", "'")
        names = ", ".join(m.removeprefix("tests/system_tests/") for m in modules[:4])
        names += " ..." if len(modules) > 4 else ""
        rows.append(f"| {count} | `{cause}` | {names} | `{example.removeprefix('tests/system_tests/')}` |")
    return "\n".join(rows)


def server_sdk_version() -> str:
    try:
        return importlib.metadata.version("wandb")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default=os.getenv("WANDB_REPO"), help="a checkout or mirror of wandb/wandb")
    parser.add_argument("--version", default=os.getenv("WANDB_VERSION") or server_sdk_version())
    parser.add_argument("--workers", type=int, default=int(os.getenv("CONFORMANCE_WORKERS", "2")))
    parser.add_argument("--timeout", type=int, default=int(os.getenv("CONFORMANCE_TIMEOUT", "60")))
    parser.add_argument("tests", nargs="*", default=os.getenv("CONFORMANCE_TESTS", "").split() or DEFAULT_TESTS)
    opts = parser.parse_args()
    if not opts.repo:
        sys.exit("Name a checkout or mirror of github.com/wandb/wandb: make wandb-conformance WANDB_REPO=<path>")
    repo = Path(opts.repo).resolve()
    started = time.monotonic()
    server_commit = git(ROOT, "describe", "--always", "--dirty", "--abbrev=10", text=True).stdout.strip()
    tag, commit = pick_tag(repo, opts.version)
    stamp = dt.datetime.now(dt.UTC)
    run = WORK / "runs" / stamp.strftime("%Y%m%dT%H%M%SZ")
    checkout = run / "wandb"
    checkout.mkdir(parents=True)
    missing = extract(repo, tag, checkout, ["tests", "tools", "requirements", "pyproject.toml"])
    absent = f"; {len(missing)} file(s) absent from the repository" if missing else ""
    print(f"W&B's tests at {tag} ({commit[:10]}) in {checkout}{absent}")
    ensure_venv(checkout, opts.version)

    data_dir = Path(tempfile.mkdtemp(prefix="wandb-conformance-"))
    base_port, fixture_port = free_port(), free_port()
    env = app_env(data_dir, base_port)
    subprocess.run([BIN / "python", "manage.py", "prepare_server"], cwd=ROOT, env=env, check=True, capture_output=True)
    gunicorn = [str(BIN / "gunicorn"), "-c", "registry_site/gunicorn_conf.py", "scripts.conformance_wsgi:application"]
    fixtures = [str(BIN / "python"), "manage.py", "serve_wandb_fixtures", f"--port={fixture_port}"]
    fixtures.append("--i-know-this-is-a-test-server")
    junit = run / "junit.xml"
    pytest_log = run / "pytest.log"
    home = run / "home"
    home.mkdir()
    try:
        with (
            serving(gunicorn, env, base_port, run / "server.log"),
            serving(fixtures, env, fixture_port, run / "fixtures.log"),
        ):
            # W&B's tool records a server it did not start (tools/local_wandb_server.state); `connect` reads it.
            start = [str(VENV / "bin" / "python"), "tools/local_wandb_server.py", "start", f"--name={SERVER_NAME}"]
            start += ["--hostname=localhost", f"--base-port={base_port}", f"--fixture-port={fixture_port}"]
            subprocess.run(start, cwd=checkout, check=True)
            # About what W&B's noxfile passes on: none of this shell's WANDB_* variables. Anything bound past this
            # machine (the SDK's version check) goes to a closed local port and fails fast.
            test_env = {
                "PATH": f"{VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                "HOME": str(home),
                "LANG": "C.UTF-8",
                "HTTP_PROXY": "http://127.0.0.1:9",
                "HTTPS_PROXY": "http://127.0.0.1:9",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
            pytest = [str(VENV / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider"]
            pytest += [f"--timeout={opts.timeout}", f"--junitxml={junit}", "-o", "junit_family=xunit1"]
            if opts.workers > 1:
                pytest += ["-n", str(opts.workers)]
            print(f"Running {' '.join(opts.tests)} ({opts.workers} workers, {opts.timeout} s a test)")
            print(f"pytest's output: {pytest_log}", flush=True)
            tests_started = time.monotonic()
            with open(pytest_log, "wb") as log:
                subprocess.run([*pytest, *opts.tests], cwd=checkout, env=test_env, stdout=log, stderr=subprocess.STDOUT)
            tests_took = time.monotonic() - tests_started
    finally:
        if os.getenv("CONFORMANCE_KEEP") != "1":
            shutil.rmtree(data_dir, ignore_errors=True)
    if not junit.exists():
        sys.exit(f"pytest wrote no JUnit XML; the end of {pytest_log}:\n{pytest_log.read_text()[-3000:]}")
    results = read_junit(junit, checkout)
    took = time.monotonic() - started
    report = render(opts, tag, commit, server_commit, stamp, results, tests_took, took, missing)
    DOCS.mkdir(parents=True, exist_ok=True)
    out = DOCS / f"{stamp:%Y-%m-%d}.md"
    out.write_text(report)
    if os.getenv("CONFORMANCE_KEEP") != "1":
        shutil.rmtree(checkout, ignore_errors=True)
    print()
    print(table(results))
    print(f"\nWritten to {out.relative_to(ROOT)} (JUnit XML and logs: {run.relative_to(ROOT)}); {took / 60:.0f} min.")


def render(opts, tag, commit, server_commit, stamp, results: Results, tests_took, took, missing) -> str:
    server_sdk = server_sdk_version()
    lines = [
        f"# W&B SDK system tests against this server, {stamp:%Y-%m-%d}",
        "",
        f"- W&B's tests at `{tag}` (`{commit[:10]}`), unmodified, with `wandb=={opts.version}` in `.venv-conformance`",
        f"- Server: this repository at `{server_commit}` (gunicorn as `make run` serves it, SQLite, DEMO=0)",
        f"- Modules: {', '.join(f'`{t}`' for t in opts.tests)}",
        f"- pytest `-n {opts.workers}`, `--timeout={opts.timeout}` per test; the tests took {tests_took / 60:.1f} min "
        f"({took / 60:.1f} min in all)",
        "- Each test has one outcome: a test that failed and then errored in teardown counts as failed",
    ]
    if opts.version != server_sdk:
        lines.append(
            f"- **The server is pinned to `wandb=={server_sdk}`** (requirements-test.txt), whose tag the repository "
            f"used lacks: these are the results of the newest pair it had"
        )
    if missing:
        lines.append(f"- Absent from the repository used (large files): {', '.join(f'`{m}`' for m in missing)}")
    lines += ["", "## Per module", "", table(results), "", "## Top failure causes", ""]
    lines += ["Failures and errors grouped by the first line of their message.", "", causes_table(results), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
