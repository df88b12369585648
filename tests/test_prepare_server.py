"""Servers started at once, as `make run` starts them, on one empty database: all come up, set up once."""

import contextlib
import os
import shlex
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings

from tests.test_s3_storage import free_port

BASE_DIR = Path(django_settings.BASE_DIR)
BIN = Path(sys.executable).parent
# The two lines of `make run`.
MAKE_RUN = (
    f"{shlex.quote(str(BIN / 'python'))} manage.py prepare_server && "
    f"exec {shlex.quote(str(BIN / 'gunicorn'))} -c registry_site/gunicorn_conf.py registry_site.wsgi"
)
# What the test run's own environment must not decide for the servers.
UNSET = {"DATABASE_URL", "DATA_DIR", "DEMO", "HOST", "PORT", "WORKERS", "SECRET_KEY", "DJANGO_SUPERUSER_PASSWORD"}


class Server:
    """One app server started as `make run` starts it; its output goes to a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.port = env, log, free_port()
        clean = {k: v for k, v in os.environ.items() if k not in UNSET}
        with log.open("w") as out:
            self.process = subprocess.Popen(
                ["sh", "-c", MAKE_RUN],
                cwd=BASE_DIR,
                env=clean | {"PORT": str(self.port), "WORKERS": "1"} | env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text()

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + 180
        while True:
            assert self.process.poll() is None, f"the server exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"the server did not come up:\n{self.output()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/accounts/login/", timeout=5) as r:
                    assert r.status == 200
                    return
            except OSError:
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """The servers a test starts; stopped at its end."""
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.stop()


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (scripts/with-postgres) holding one empty database: its DATABASE_URL."""
    holder = subprocess.Popen(
        [BASE_DIR / "scripts" / "with-postgres", sys.executable, "-c"]
        + ["import os, sys; print(os.environ['DATABASE_URL'], flush=True); sys.stdin.read()"],
        env=os.environ | {"PG_TEST_PORT": os.environ.get("PG_TEST_PORT") or str(free_port())},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = holder.stdout.readline().strip()
    if not url and holder.wait(timeout=60) == 77:
        pytest.skip("no PostgreSQL server binaries")
    assert url, "scripts/with-postgres failed"
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE registry")
    try:
        yield url
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    with throwaway_postgres() as url:
        yield url


def query(env: dict[str, str], sql: str) -> list[tuple]:
    if url := env.get("DATABASE_URL"):
        with psycopg.connect(url) as conn:
            return conn.execute(sql).fetchall()
    with closing(sqlite3.connect(Path(env["DATA_DIR"]) / "db.sqlite3")) as conn:
        return conn.execute(sql).fetchall()


def state(env: dict[str, str]) -> dict[str, object]:
    """What set-up writes: migrations applied twice, superusers, the superuser's password hash, demo rows."""
    count = "SELECT count(*) FROM "
    return {
        "migrations applied twice": query(
            env, "SELECT app, name FROM django_migrations GROUP BY app, name HAVING count(*) > 1"
        ),
        "superusers": query(env, count + "auth_user WHERE is_superuser"),
        "admin password": query(env, "SELECT password FROM auth_user WHERE username = 'admin'"),
        "projects": query(env, count + "artifacts_project"),
        "artifact versions": query(env, count + "artifacts_artifactversion"),
        "links": query(env, count + "registry_link"),
    }


def start_two_at_once_then_restart_one(servers: list[Server], envs: list[dict[str, str]], tmp_path: Path) -> dict:
    """Start two servers at the same moment, then restart the second with a superuser password set; returns
    the database's state after the first start and after the restart."""
    servers += [Server(env, tmp_path / f"server{i}.log") for i, env in enumerate(envs)]
    for server in servers:
        server.wait_until_serving()
    first = state(envs[0])
    outputs = "".join(server.output() for server in servers)
    assert outputs.count("Created superuser 'admin' with password:") == 1, outputs
    servers[1].stop()
    again = Server(envs[1] | {"DJANGO_SUPERUSER_PASSWORD": "a password set later"}, tmp_path / "again.log")
    servers.append(again)
    again.wait_until_serving()
    return {"first": first, "again": state(envs[0]), "outputs": outputs + again.output()}


DEMO_ROWS = {"projects": [(2,)], "artifact versions": [(7,)], "links": [(4,)]}
NO_ROWS = {"projects": [(0,)], "artifact versions": [(0,)], "links": [(0,)]}


def test_servers_started_at_once_on_an_empty_postgresql_all_come_up_and_set_it_up_once(
    servers, empty_postgres, tmp_path
):
    # Two machines: each its own DATA_DIR, one database and one SECRET_KEY.
    shared = {"DATABASE_URL": empty_postgres, "SECRET_KEY": "one key for every server " * 2}
    envs = [shared | {"DATA_DIR": str(tmp_path / f"machine{i}")} for i in range(2)]
    result = start_two_at_once_then_restart_one(servers, envs, tmp_path)
    assert result["first"]["migrations applied twice"] == []
    assert result["first"]["superusers"] == [(1,)]
    assert {k: result["first"][k] for k in DEMO_ROWS} == DEMO_ROWS
    assert result["outputs"].count("Demo data ready") == 1
    assert result["again"] == result["first"]


@pytest.mark.parametrize("demo", ["1", "0"])
def test_servers_started_at_once_on_one_sqlite_data_dir_all_come_up_and_set_it_up_once(servers, tmp_path, demo):
    env = {"DATA_DIR": str(tmp_path / "data"), "DEMO": demo}
    result = start_two_at_once_then_restart_one(servers, [env, env], tmp_path)
    assert result["first"]["migrations applied twice"] == []
    assert result["first"]["superusers"] == [(1,)]
    assert {k: result["first"][k] for k in DEMO_ROWS} == (DEMO_ROWS if demo == "1" else NO_ROWS)
    assert result["outputs"].count("Demo data ready") == (1 if demo == "1" else 0)
    assert result["again"] == result["first"]
    # gunicorn's control socket: one per server under the shared DATA_DIR, not one per user that both take.
    sockets = {p.name for p in (tmp_path / "data").glob("*.ctl")}
    assert {f"gunicorn-{s.port}.ctl" for s in servers if s.process.poll() is None} <= sockets


def test_a_server_refuses_to_start_on_postgresql_without_a_secret_key(servers, tmp_path):
    env = {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/registry", "DATA_DIR": str(tmp_path)}
    server = Server(env, tmp_path / "server.log")
    servers.append(server)
    assert server.process.wait(timeout=60) != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set when DATABASE_URL is not SQLite" in server.output()
    assert not (tmp_path / "secret_key").exists()


@pytest.fixture
def static_collection(settings, tmp_path) -> Path:
    """Static files collected as a server collects them (hashed, compressed) into tmp_path/static, from the
    project's sources and one more folder, tmp_path/src, that the test may change."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "extra.css").write_text("body { color: black }")
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STATIC_ROOT.mkdir()
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, tmp_path / "src"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    return settings.STATIC_ROOT


def written(root: Path) -> dict[str, int]:
    """Each collected file and when it was last written."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_a_server_collects_static_files_once_and_again_only_when_their_sources_change(static_collection):
    from registry.management.commands.prepare_server import collect_static

    assert collect_static() is True
    first = written(static_collection)
    assert "staticfiles.json" in first and any(name.startswith("extra.") for name in first)

    # A second server on the same DATA_DIR rewrites nothing: collecting again would delete and rewrite every
    # hashed CSS and JS file under the feet of a server whose worker is starting.
    assert collect_static() is False
    assert written(static_collection) == first

    # A changed source is collected again, even of the same size and with its old times (as a deploy that
    # keeps them leaves it).
    source = static_collection.parent / "src" / "extra.css"
    times = source.stat()
    source.write_text("body { color: white }")
    os.utime(source, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert source.stat().st_size == times.st_size
    assert collect_static() is True
    again = written(static_collection)
    assert {name for name in again if name.startswith("extra.")} - set(first)

    # So is a STATIC_ROOT that lost its manifest, or was emptied.
    (static_collection / "staticfiles.json").unlink()
    assert collect_static() is True
    for path in sorted(static_collection.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    assert collect_static() is True
    assert "staticfiles.json" in written(static_collection)
