import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from registry.models import Link
from tests.factories import link, log_version, make_user, snapshot


def run_link_model(*args: str) -> str:
    out = StringIO()
    call_command("link_model", *args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x00weights" * 100)
    return path


def base_args(model_file: Path, user: str = "bob") -> list[str]:
    return [
        "--entity=reviewco",
        "--project=mnist",
        f"--path={model_file}",
        "--registered-model-name=MNIST-dev",
        f"--user={user}",
    ]


def test_it_logs_links_and_prints_the_result(team, project, model_file):
    out = run_link_model(*base_args(model_file))
    lk = Link.objects.select_related("source__artifact", "source__created_by_run").get()
    run = lk.source.created_by_run
    assert lk.source.artifact.name == f"run-{run.run_id}-model.pt"
    assert lk.source.artifact.type == "model"
    assert out == f"reviewco/model-registry/MNIST-dev:v0 -> reviewco/mnist/run-{run.run_id}-model.pt:v0"


def test_the_next_link_of_an_existing_registered_model_is_the_next_version(team, project, model_file):
    for i in range(3):
        link(log_version(project, "review-model", content=f"{i}".encode()), "MNIST-dev")
    out = run_link_model(*base_args(model_file), "--alias=staging")
    assert out.startswith("reviewco/model-registry/MNIST-dev:v3 -> ")
    assert set(Link.objects.get(index=3).aliases.values_list("name", flat=True)) == {"latest", "staging"}


def test_same_name_and_content_reuses_the_version_and_the_link(team, project, model_file):
    first = run_link_model(*base_args(model_file), "--name=my-model")
    again = run_link_model(*base_args(model_file), "--name=my-model")
    assert first == again == "reviewco/model-registry/MNIST-dev:v0 -> reviewco/mnist/my-model:v0"
    assert Link.objects.count() == 1


def test_a_directory_is_logged_as_one_version(team, project, tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "a.bin").write_bytes(b"a")
    (tmp_path / "ckpt" / "b.bin").write_bytes(b"b")
    out = run_link_model(*base_args(tmp_path / "ckpt"), "--name=ckpt")
    assert out.endswith("reviewco/mnist/ckpt:v0")
    assert Link.objects.get().source.num_files == 2


def test_without_user_it_acts_as_the_first_superuser(team, project, model_file):
    root = make_user("root", superuser=True)
    args = [a for a in base_args(model_file) if not a.startswith("--user")]
    run_link_model(*args)
    assert Link.objects.get().created_by == root


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--entity": "nope"}, "Unknown entity 'nope'."),
        ({"--project": "nope"}, "Unknown project 'nope' in entity 'reviewco'."),
        ({"--path": "/does/not/exist.pt"}, "does not exist"),
        ({"--registered-model-name": "bad name"}, "Invalid registered model name 'bad name'"),
        ({"--name": "bad/name"}, "Invalid artifact name 'bad/name'"),
        ({"--alias": "latest"}, "'latest' is managed automatically"),
        ({"--alias": "v3"}, "version numbers, not aliases"),
        ({"--alias": "production"}, "protected"),
        ({"--user": "vera"}, "member or admin role"),
        ({"--user": "oscar"}, "Unknown project 'mnist'"),
        ({"--user": "ghost"}, "Unknown user 'ghost'"),
    ],
)
def test_bad_input_fails_with_one_line_and_writes_nothing(team, project, model_file, change, message):
    args = dict(a[2:].split("=", 1) for a in base_args(model_file))
    args = {f"--{k}": v for k, v in args.items()} | change
    before = snapshot()
    with pytest.raises(CommandError) as exc:
        run_link_model(*(f"{k}={v}" for k, v in args.items()))
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)
    assert snapshot() == before


def test_linking_a_non_model_artifact_name_fails(team, project, model_file):
    log_version(project, "mnist-dataset", type="dataset")
    before = snapshot()
    with pytest.raises(CommandError, match="has type 'dataset'"):
        run_link_model(*base_args(model_file), "--name=mnist-dataset")
    assert snapshot()["Link"] == before["Link"]
    assert snapshot()["ArtifactVersion"] == before["ArtifactVersion"]
    assert snapshot()["Run"] == before["Run"]


@pytest.mark.django_db(transaction=True)
def test_from_the_shell_it_exits_non_zero_with_one_line_and_no_traceback(team, project, tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["DATABASE_URL"] = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    cmd = [sys.executable, "manage.py", "link_model", "--entity=reviewco", "--project=mnist"]
    cmd += ["--path=/does/not/exist.pt", "--registered-model-name=MNIST-dev", "--user=bob"]
    proc = subprocess.run(cmd, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0
    assert "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
