"""Servers the benchmark starts on private ports: gunicorn (our app, the recorder, the stub), a throwaway
PostgreSQL cluster (as scripts/with-postgres does it), MLflow; and the RSS of a server's process tree."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET_KEY = "bench-secret-key-not-for-production-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen, timeout: float = 60, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text()[-3000:] if log and log.exists() else ""
                raise RuntimeError(f"server on port {port} did not start:\n{tail}") from None
            time.sleep(0.05)


def app_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DJANGO_"))}
    env |= {"DATA_DIR": str(data_dir), "SECRET_KEY": SECRET_KEY, "MANIFEST_STATIC": "false", "LOG_LEVEL": "WARNING"}
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([BIN / "python", "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def django_tool(env: dict[str, str], command: str, args: dict | None = None) -> dict:
    """Run one bench.populate command against the database of `env`; its JSON answer."""
    import json

    out = subprocess.run(
        [BIN / "python", "-m", "bench.populate", command, json.dumps(args or {})],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"bench.populate {command} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Server:
    """A process serving HTTP on 127.0.0.1:port; stopped with stop() (SIGTERM to its process group)."""

    def __init__(
        self, args: list[str], env: dict[str, str], *, cwd: Path = ROOT, port: int | None = None, timeout: float = 60
    ):
        self.port = port or free_port()
        self.log = Path(tempfile.mkstemp(prefix="bench-server-", suffix=".log")[1])
        args = [a.replace("{port}", str(self.port)) for a in args]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_port(self.port, self.process, timeout=timeout, log=self.log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_tree(self) -> dict[str, int]:
        return rss_tree(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self.log.unlink(missing_ok=True)


def gunicorn(env: dict[str, str], app: str = "registry_site.wsgi", *, workers: int = 2, threads: int = 4) -> Server:
    """Served as `make run` serves it: gunicorn with registry_site/gunicorn_conf.py (2 workers x 4 threads, timeout
    300, the access log, and the task worker in a web worker), on a private port. Only our app gets a task worker: the
    recorder and the stub are other applications."""
    args = [str(BIN / "gunicorn"), "-c", str(ROOT / "registry_site" / "gunicorn_conf.py"), app]
    args += ["--bind", "127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads), "--timeout", "300"]
    return Server(args, {**env, "TASK_WORKERS": env.get("TASK_WORKERS", "1" if app == "registry_site.wsgi" else "0")})


def children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(c) for c in (task / "children").read_text().split()]
    return kids


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_tree(pid: int) -> dict[str, int]:
    """RSS (and PSS) in bytes, summed over the process and all its descendants, and per process."""
    pids = tree(pid)
    per = {p: _status_kib(p, "VmRSS") * 1024 for p in pids}
    return {"rss": sum(per.values()), "pss": sum(_pss_kib(p) * 1024 for p in pids), "procs": len(pids), "per": per}


def rss(pid: int) -> int:
    return _status_kib(pid, "VmRSS") * 1024


class Postgres:
    """A throwaway cluster on 127.0.0.1:PG_TEST_PORT (default 55460), as scripts/with-postgres starts one."""

    def __init__(self, port: int | None = None):
        initdb = shutil.which("initdb") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))), None)
        if initdb is None:
            raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install postgresql)")
        self.bin = Path(initdb).resolve().parent
        self.port = port or int(os.environ.get("PG_TEST_PORT", "55460"))
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.as_user = []
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._run("pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-o", opts, "start")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / tool), *args], cwd="/", check=True, stdout=subprocess.DEVNULL)

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def create(self, db: str, template: str | None = None) -> str:
        self.sql(f'CREATE DATABASE "{db}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(db)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", f"{self.dir}/data", "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def stopping(*things) -> Iterator[None]:
    try:
        yield
    finally:
        for thing in things:
            with contextlib.suppress(Exception):
                thing.stop()
