"""Older releases of the official `wandb` SDK against this server: the core scenarios, in one script per release.

Each release runs from its own virtual environment, `.venv-wandb-<version>` in the checkout, made by the first
test run from the pins in sdk_requirements/ and reused after (helpers.sdk_venv). 0.31.0 is test_sdk.py's."""

import hashlib
import json
from pathlib import Path

import pytest

from artifacts.models import ArtifactUsage, ArtifactVersion, Run
from registry.models import Link, LinkAlias
from tests.wandb_api.helpers import api_key, sdk_venv

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "Fine-Tuned-Review-Autocompletion"
# What listing the cnn artifact's versions gives each release. 0.21.4's `version_supported` reads
# `serverInfo.cliVersionInfo["max_cli_version"]` first (it failed while the server answered null).
LISTING = {
    "0.21.4": ["cnn:v0"],
    "0.26.1": ["cnn:v0"],
}

SCENARIOS = """
import hashlib, json, os, wandb

def md5s(root):
    return {{
        os.path.relpath(os.path.join(d, f), root): hashlib.md5(open(os.path.join(d, f), "rb").read()).hexdigest()
        for d, _, names in os.walk(root) for f in names
    }}

out = {{"version": wandb.__version__}}
# The seed's snippet.
run = wandb.init(entity="reviewco", project="mnist")
linked = run.link_model(path="{files}/model.pt", registered_model_name="{name}")
out["seed"] = run.id
run.log_model("{files}/model-dir", name="dir-model", aliases=["prod"])
artifact = wandb.Artifact("cnn", type="model")
artifact.add_file("{files}/better.pt")
run.log_artifact(artifact).wait()
run.link_artifact(artifact, "reviewco/model-registry/{name}", aliases=["staging"])
run.finish()

run = wandb.init(entity="reviewco", project="mnist", job_type="evaluate")
out["used"] = md5s(run.use_model("reviewco/mnist/dir-model:prod"))
out["user"] = run.id
run.finish()

api = wandb.Api()
for number in (0, 1):
    artifact = api.artifact(f"reviewco/model-registry/{name}:v{{number}}")
    root = artifact.download(root=f"downloaded-v{{number}}")
    out[f"v{{number}}"] = [artifact.qualified_name, artifact.type, sorted(artifact.aliases), md5s(root)]
for listing in ("artifact_versions", "artifacts"):
    try:
        out[listing] = sorted(a.name for a in getattr(api, listing)("model", "reviewco/mnist/cnn"))
    except Exception as exc:
        out[listing] = str(exc)
print(json.dumps(out))
"""


@pytest.fixture(scope="module", params=sorted(LISTING))
def sdk_version(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def sdk_python(sdk_version: str) -> Path:
    """The release's Python; never skipped: a venv pip cannot make fails the test."""
    return sdk_venv(sdk_version)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_an_older_sdk_links_logs_uses_and_downloads_models(run_sdk, sdk_version, sdk_python, team, project, tmp_path):
    files = tmp_path / "files"
    (files / "model-dir" / "sub").mkdir(parents=True)
    (files / "model.pt").write_bytes(b"first weights" * 500)
    (files / "better.pt").write_bytes(b"better weights" * 500)
    (files / "model-dir" / "weights.bin").write_bytes(bytes(range(256)) * 40)
    (files / "model-dir" / "sub" / "config.json").write_bytes(b'{"layers": 3}')

    process = run_sdk(SCENARIOS.format(files=files, name=NAME), key=api_key(team.member), python=sdk_python)
    assert process.returncode == 0, process.stdout + process.stderr
    out = json.loads(process.stdout.strip().splitlines()[-1])

    assert out["version"] == sdk_version
    seed = ArtifactVersion.objects.get(artifact__name=f"run-{out['seed']}-model.pt")
    assert seed.created_by_run.run_id == out["seed"] and seed.created_by == team.member
    links = {lk.index: lk for lk in Link.objects.filter(registered_model__name=NAME).select_related("source__artifact")}
    assert {index: link.source for index, link in links.items()} == {
        0: seed,
        1: ArtifactVersion.objects.get(artifact__name="cnn", index=0),
    }
    assert dict(LinkAlias.objects.filter(registered_model__name=NAME).values_list("name", "link__index")) == {
        "latest": 1,
        "staging": 1,
    }
    dir_model = ArtifactVersion.objects.get(artifact__name="dir-model")
    assert set(dir_model.aliases.values_list("name", flat=True)) == {"latest", "prod"}
    assert Run.objects.get(run_id=out["seed"]).project == project

    assert out["used"] == {
        "weights.bin": _md5(files / "model-dir" / "weights.bin"),
        "sub/config.json": _md5(files / "model-dir" / "sub" / "config.json"),
    }
    assert ArtifactUsage.objects.get(run__run_id=out["user"]).version == dir_model
    assert out["v0"] == [f"reviewco/model-registry/{NAME}:v0", "model", [], {"model.pt": _md5(files / "model.pt")}]
    assert out["v1"] == [
        f"reviewco/model-registry/{NAME}:v1",
        "model",
        ["latest", "staging"],
        {"better.pt": _md5(files / "better.pt")},
    ]
    for listing in ("artifact_versions", "artifacts"):
        assert out[listing] == LISTING[sdk_version], out[listing]
