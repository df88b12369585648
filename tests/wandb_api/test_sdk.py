"""The official `wandb` SDK (0.31.0, unmodified) against this server, in subprocesses: the seed's snippet and more."""

import json
import time
from pathlib import Path

import pytest
from django.conf import settings

from artifacts.models import Artifact, ArtifactUsage, ArtifactVersion, Blob, Run
from registry.models import Link, LinkAlias, RegisteredModel
from tests.factories import snapshot
from tests.wandb_api.helpers import api_key

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "Fine-Tuned-Review-Autocompletion"
SEED_SNIPPET = """
import wandb
run = wandb.init(entity="reviewco", project="mnist")
run.link_model(path="{path}", registered_model_name="{name}")
run.finish()
"""


def _result(process) -> dict:
    """The JSON a script printed on its last stdout line (and its logs on failure)."""
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


def _links() -> dict[int, Link]:
    return {lk.index: lk for lk in Link.objects.filter(registered_model__name=NAME).select_related("source__artifact")}


def _aliases() -> dict[str, int]:
    return dict(LinkAlias.objects.filter(registered_model__name=NAME).values_list("name", "link__index"))


def test_logging_linking_using_and_downloading_models(run_sdk, team, project, tmp_path, client):
    files = tmp_path / "files"
    (files / "model-dir" / "sub").mkdir(parents=True)
    (files / "model.pt").write_bytes(b"first weights" * 500)
    (files / "better.pt").write_bytes(b"better weights" * 500)
    (files / "model-dir" / "weights.bin").write_bytes(bytes(range(256)) * 40)
    (files / "model-dir" / "sub" / "config.json").write_bytes(b'{"layers": 3}')
    key = api_key(team.member)

    first = run_sdk(
        f"""
        import json, wandb
        out = {{}}
        # The seed's snippet, with a config and a metric for the run page.
        run = wandb.init(entity="reviewco", project="mnist", config={{"lr": 0.01}})
        run.log({{"loss": 0.5}})
        linked = run.link_model(path="{files}/model.pt", registered_model_name="{NAME}")
        out["seed"] = [run.id, linked.qualified_name, linked.source_qualified_name, linked.is_link]
        # New content under a chosen name, with an alias on the link.
        linked = run.link_model(
            path="{files}/better.pt", registered_model_name="{NAME}", name="my-model", aliases=["staging"]
        )
        out["second"] = [linked.qualified_name, sorted(linked.aliases)]
        run.log_model("{files}/model-dir", name="dir-model", aliases=["prod"])
        run.finish()

        run = wandb.init(entity="reviewco", project="mnist")
        # The same content under the same name: nothing new. Without a name, W&B's default differs per run.
        same = run.link_model(path="{files}/better.pt", registered_model_name="{NAME}", name="my-model")
        out["same"] = same.qualified_name
        out["default"] = run.link_model(path="{files}/model.pt", registered_model_name="{NAME}").qualified_name
        out["second_run"] = run.id
        run.finish()
        print(json.dumps(out))
        """,
        key=key,
    )
    out = _result(first)
    run_id = out["seed"][0]

    assert out["seed"] == [
        run_id,
        f"reviewco/model-registry/{NAME}:v0",
        f"reviewco/mnist/run-{run_id}-model.pt:v0",
        True,
    ]
    links = _links()
    seed_source = ArtifactVersion.objects.get(artifact__name=f"run-{run_id}-model.pt")
    assert links[0].source == seed_source
    assert seed_source.created_by_run.run_id == run_id and seed_source.created_by == team.member
    assert RegisteredModel.objects.get(name=NAME).created_by == team.member

    assert out["second"] == [f"reviewco/model-registry/{NAME}:v1", ["latest", "staging"]]
    assert links[1].source.artifact.name == "my-model" and links[1].source.index == 0

    assert out["same"] == f"reviewco/model-registry/{NAME}:v1"
    assert ArtifactVersion.objects.filter(artifact__name="my-model").count() == 1
    assert out["default"] == f"reviewco/model-registry/{NAME}:v2"
    assert links[2].source.artifact.name == f"run-{out['second_run']}-model.pt"
    assert len(links) == 3
    assert _aliases() == {"latest": 2, "staging": 1}
    # model.pt's bytes were stored once, for both runs' artifacts.
    assert Blob.objects.filter(md5=seed_source.files.get().blob.md5).count() == 1

    run = Run.objects.get(run_id=run_id)
    # The SDK's own `_wandb` entry is kept beside the config, as W&B keeps it.
    assert run.config.pop("_wandb")["cli_version"]
    assert run.config == {"lr": 0.01}
    assert run.summary["loss"] == 0.5
    dir_model = ArtifactVersion.objects.get(artifact__name="dir-model")
    assert sorted(dir_model.files.values_list("path", flat=True)) == ["sub/config.json", "weights.bin"]
    assert set(dir_model.aliases.values_list("name", flat=True)) == {"latest", "prod"}

    # A fresh process (empty cache) downloads through the server.
    second = run_sdk(
        f"""
        import json, os, wandb
        out = {{}}
        run = wandb.init(entity="reviewco", project="mnist", job_type="evaluate")
        path = run.use_model("reviewco/mnist/dir-model:prod")
        names = ["weights.bin", "sub/config.json"]
        out["used"] = {{name: open(os.path.join(path, name), "rb").read().hex() for name in names}}
        out["run"] = run.id
        run.finish()
        artifact = wandb.Api().artifact("reviewco/model-registry/{NAME}:v0")
        root = artifact.download(root="downloaded")
        out["downloaded"] = {{name: open(os.path.join(root, name), "rb").read().hex() for name in os.listdir(root)}}
        out["artifact"] = [artifact.qualified_name, artifact.type, artifact.digest]
        print(json.dumps(out))
        """,
        key=key,
    )
    out = _result(second)
    assert out["used"] == {
        "weights.bin": (files / "model-dir" / "weights.bin").read_bytes().hex(),
        "sub/config.json": (files / "model-dir" / "sub" / "config.json").read_bytes().hex(),
    }
    assert ArtifactUsage.objects.get(run__run_id=out["run"]).version == dir_model
    assert out["downloaded"] == {"model.pt": (files / "model.pt").read_bytes().hex()}
    assert out["artifact"] == [f"reviewco/model-registry/{NAME}:v0", "model", seed_source.digest]

    # The pages show both ends of the pointer.
    client.force_login(team.viewer)
    page = client.get(f"/registry/model/reviewco/{NAME}/v0").content.decode()
    assert "<dt>Source Version</dt>" in page
    assert f'<a href="{seed_source.get_absolute_url()}">run-{run_id}-model.pt:v0</a>' in page
    page = client.get(seed_source.get_absolute_url()).content.decode()
    assert "<dt>Linked To</dt>" in page
    assert f'<a href="/registry/model/reviewco/{NAME}/v0">{NAME}:v0</a>' in page
    page = client.get(f"/reviewco/mnist/runs/{run_id}").content.decode()
    assert "lr" in page and "0.01" in page and "loss" in page


def test_console_output_shows_on_the_run_page(run_sdk, team, project, client):
    process = run_sdk(
        """
        import wandb
        run = wandb.init(entity="reviewco", project="mnist")
        print("hello from training")
        run.finish()
        print(run.id)
        """,
        key=api_key(team.member),
        env={"WANDB_CONSOLE": "wrap"},
    )
    assert process.returncode == 0, process.stdout + process.stderr
    run_id = process.stdout.strip().splitlines()[-1]
    assert "hello from training" in Run.objects.get(run_id=run_id).output_log
    client.force_login(team.viewer)
    assert "hello from training" in client.get(f"/reviewco/mnist/runs/{run_id}").content.decode()


def test_a_wrong_key_fails_within_seconds(run_sdk, team, project, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"weights")
    start = time.monotonic()
    process = run_sdk(SEED_SNIPPET.format(path=tmp_path / "model.pt", name=NAME), key="0" * 40)
    assert time.monotonic() - start < 30
    assert process.returncode != 0
    assert "API key" in process.stderr
    assert not Run.objects.exists()


def test_a_viewers_link_model_fails_with_a_permission_error_and_writes_nothing(run_sdk, team, project, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"weights")
    key = api_key(team.viewer)
    before = snapshot()
    # A viewer may not even start a run there, so the snippet stops at wandb.init.
    process = run_sdk(SEED_SNIPPET.format(path=tmp_path / "model.pt", name=NAME), key=key)
    assert process.returncode != 0
    assert "permission denied" in process.stderr
    assert snapshot() == before
    assert not Artifact.objects.exists()


def test_a_resumed_run_keeps_its_config_and_summary(run_sdk, team, project):
    process = run_sdk(
        """
        import wandb
        run = wandb.init(entity="reviewco", project="mnist", id="resumable", resume="allow", config={"lr": 0.1})
        run.log({"loss": 0.9})
        run.finish()
        run = wandb.init(entity="reviewco", project="mnist", id="resumable", resume="must")
        run.log({"loss": 0.3})
        run.finish()
        print("{}")
        """,
        key=api_key(team.member),
    )
    _result(process)
    run = Run.objects.get(run_id="resumable")
    assert run.config.pop("_wandb")["cli_version"]
    assert run.config == {"lr": 0.1}
    assert (run.summary["loss"], run.summary["_step"]) == (0.3, 1)


def test_a_draft_of_an_earlier_version_keeps_its_files(run_sdk, team, project, tmp_path):
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"contents of {name}")
    process = run_sdk(
        f"""
        import json, wandb
        run = wandb.init(entity="reviewco", project="mnist")
        art = wandb.Artifact("ds", type="dataset")
        art.add_file("{tmp_path}/a.txt")
        art.add_file("{tmp_path}/b.txt")
        run.log_artifact(art).wait()
        run.finish()
        run = wandb.init(entity="reviewco", project="mnist")
        draft = run.use_artifact("ds:latest").new_draft()
        draft.add_file("{tmp_path}/c.txt")
        logged = run.log_artifact(draft).wait()
        run.finish()
        print(json.dumps([logged.version, sorted(f.name for f in logged.files())]))
        """,
        key=api_key(team.member),
    )
    assert _result(process) == ["v1", ["a.txt", "b.txt", "c.txt"]]
    v1 = ArtifactVersion.committed.get(artifact__name="ds", index=1)
    assert sorted(v1.files.values_list("path", flat=True)) == ["a.txt", "b.txt", "c.txt"]


def test_parallel_runs_logging_the_same_content_all_succeed(live_server, team, project, tmp_path):
    import subprocess
    import sys
    import textwrap

    from tests.wandb_api.helpers import sdk_env

    (tmp_path / "same.bin").write_bytes(b"identical weights" * 1000)
    key = api_key(team.member)
    script = textwrap.dedent(
        f"""
        import wandb
        run = wandb.init(entity="reviewco", project="mnist")
        run.link_model(path="{tmp_path}/same.bin", registered_model_name="Same-Model", name="shared-name")
        run.finish()
        """
    )
    processes = []
    for i in range(4):
        root = tmp_path / f"p{i}"
        root.mkdir()
        (root / "script.py").write_text(script)
        processes.append(
            subprocess.Popen(
                [sys.executable, str(root / "script.py")],
                cwd=root,
                env=sdk_env(live_server.url, key, root),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], outputs
    assert ArtifactVersion.committed.filter(artifact__name="shared-name").count() == 1
    assert Link.objects.filter(registered_model__name="Same-Model").count() == 1


def test_the_sdk_never_gets_a_corrupt_file_and_logging_it_again_repairs_it(
    run_sdk, gunicorn_url, team, project, tmp_path
):
    from artifacts.storage import CHUNK_SIZE
    from tests.factories import log_version

    content = bytes(range(256)) * (CHUNK_SIZE // 128)
    blob = log_version(project, "cnn", content=content).files.get().blob
    stored = Path(settings.STORAGES["default"]["OPTIONS"]["location"]) / blob.storage_key
    stored.write_bytes(b"X" + content[1:])
    (tmp_path / "model.pt").write_bytes(content)
    key = api_key(team.member)
    server = {"WANDB_BASE_URL": gunicorn_url}
    download = """
        import json, os, wandb
        try:
            root = wandb.Api().artifact("reviewco/mnist/cnn:latest").download(root="downloaded")
            print(json.dumps({"sizes": {n: os.path.getsize(os.path.join(root, n)) for n in os.listdir(root)}}))
        except Exception as exc:
            got = os.listdir("downloaded") if os.path.isdir("downloaded") else []
            print(json.dumps({"error": str(exc), "files": got}))
        """
    start = time.monotonic()
    out = _result(run_sdk(download, key=key, env=server))
    assert time.monotonic() - start < 60
    # The first reader finds the corruption while streaming: the response ends before its last chunk.
    assert "IncompleteRead" in out["error"] and out["files"] == []
    # Later readers are refused at once with a 410, which the SDK does not retry (it then tries its unsigned
    # `artifactsV2` path, which this server does not serve, and reports that 404).
    start = time.monotonic()
    out = _result(run_sdk(download, key=key, env=server))
    assert time.monotonic() - start < 60
    assert "Client Error" in out["error"] and out["files"] == []
    blob.refresh_from_db()
    assert blob.status == "bad"

    logged = run_sdk(
        f"""
        import wandb
        run = wandb.init(entity="reviewco", project="mnist")
        artifact = wandb.Artifact("cnn", type="model")
        artifact.add_file("{tmp_path / "model.pt"}")
        run.log_artifact(artifact).wait()
        run.finish()
        print("{{}}")
        """,
        key=key,
        env=server,
    )
    _result(logged)
    blob.refresh_from_db()
    assert blob.status == "ok" and stored.read_bytes() == content
    assert _result(run_sdk(download, key=key, env=server)) == {"sizes": {"model.pt": len(content)}}


def test_an_artifact_without_files_is_logged_read_and_shown(run_sdk, team, project, client):
    process = run_sdk(
        """
        import json, os, wandb
        run = wandb.init(entity="reviewco", project="mnist")
        logged = run.log_artifact(wandb.Artifact("placeholder", type="dataset")).wait()
        run.finish()
        artifact = wandb.Api().artifact("reviewco/mnist/placeholder:v0")
        root = artifact.download(root="empty")
        # The SDK makes no directory for an artifact without files.
        print(json.dumps([logged.version, len(artifact.files()), os.listdir(root) if os.path.exists(root) else []]))
        """,
        key=api_key(team.member),
    )
    assert _result(process) == ["v0", 0, []]
    version = ArtifactVersion.committed.get(artifact__name="placeholder")
    assert (version.index, version.num_files, version.size) == (0, 0, 0)
    client.force_login(team.viewer)
    for tab in ("", "/files"):
        assert client.get(f"/reviewco/mnist/artifacts/dataset/placeholder/v0{tab}").status_code == 200


def test_a_manifest_entrys_extra_comes_back_with_the_version(run_sdk, team, project):
    process = run_sdk(
        """
        import json, wandb
        with wandb.init(entity="reviewco", project="mnist") as run:
            artifact = wandb.Artifact("with-extra", type="dataset")
            with artifact.new_file("test_file.txt") as f:
                f.write("test content\\n")
            artifact.manifest.entries["test_file.txt"].extra["test_key"] = {"x": 1}
            run.log_artifact(artifact).wait()
        entry = wandb.Api().artifact("reviewco/mnist/with-extra:v0").manifest.entries["test_file.txt"]
        print(json.dumps([entry.size, entry.extra]))
        """,
        key=api_key(team.member),
    )
    assert _result(process) == [13, {"test_key": {"x": 1}}]
    assert ArtifactVersion.objects.get().file_extras == {"test_file.txt": {"test_key": {"x": 1}}}


STORAGE_REGION_SCRIPT = """
import json, wandb
out = {{}}
with wandb.init(entity="reviewco", project="mnist") as run:
    for region in ("eu-local", "coreweave-us"):
        artifact = wandb.Artifact(f"data-{{region}}", type="dataset", storage_region=region)
        artifact.add_file("{path}")
        try:
            run.log_artifact(artifact).wait()
        except ValueError as e:
            out[region] = str(e)
fetched = wandb.Api().artifact("reviewco/mnist/data-eu-local:v0")
out["manifest"] = fetched.manifest.to_manifest_json()["storagePolicyConfig"]
out["bytes"] = open(fetched.get_entry("data.txt").download(), "rb").read().decode()
print(json.dumps(out))
"""


def test_a_storage_region_the_server_has_is_kept_and_another_is_refused(run_sdk, team, project, tmp_path, settings):
    settings.STORAGE_REGIONS = ["default", "eu-local"]
    (tmp_path / "data.txt").write_text("regional")
    out = _result(run_sdk(STORAGE_REGION_SCRIPT.format(path=tmp_path / "data.txt"), key=api_key(team.member)))
    assert out["manifest"] == {"storageLayout": "V2", "storageRegion": "eu-local"}
    assert out["bytes"] == "regional"
    assert "Invalid storage region 'coreweave-us': this server stores in default, eu-local" in out["coreweave-us"]
    assert ArtifactVersion.objects.get(artifact__name="data-eu-local").storage_region == "eu-local"
    assert not Artifact.objects.filter(name="data-coreweave-us").exists()


INCREMENTAL_SCRIPT = """
import json, wandb
# Version 0 holds a and b; version 1, incremental, sends b again (other bytes) and c.
logs = ((False, {{"a.txt": "a.txt", "b.txt": "b.txt"}}), (True, {{"b.txt": "b2.txt", "c.txt": "c.txt"}}))
for incremental, files in logs:
    with wandb.init(entity="reviewco", project="mnist") as run:
        artifact = wandb.Artifact("data", type="dataset", incremental=incremental)
        for name, source in files.items():
            artifact.add_file(f"{root}/{{source}}", name=name)
        run.log_artifact(artifact)
latest = wandb.Api().artifact("reviewco/mnist/data:latest")
root = latest.download(root="out")
entries = sorted(latest.manifest.entries)
print(json.dumps([latest.version, entries, latest.digest, {{n: open(f"{{root}}/{{n}}").read() for n in entries}}]))
"""


def test_an_incremental_version_adds_to_the_latest_and_replaces_what_it_sends_again(run_sdk, team, project, tmp_path):
    for name, text in {"a.txt": "a", "b.txt": "b", "b2.txt": "b, again", "c.txt": "c"}.items():
        (tmp_path / name).write_text(text)
    version, paths, digest, contents = _result(
        run_sdk(INCREMENTAL_SCRIPT.format(root=tmp_path), key=api_key(team.member))
    )
    assert (version, paths) == ("v1", ["a.txt", "b.txt", "c.txt"])
    assert contents == {"a.txt": "a", "b.txt": "b, again", "c.txt": "c"}
    v1 = ArtifactVersion.committed.get(artifact__name="data", index=1)
    assert v1.digest == digest and v1.num_files == 3
    assert ArtifactVersion.committed.get(artifact__name="data", index=0).files.count() == 2


DISTRIBUTED_SCRIPT = """
import json, wandb
for part in ("a", "b"):
    with wandb.init(entity="reviewco", project="mnist", group="g") as run:
        artifact = wandb.Artifact("shards", type="dataset")
        artifact.add_file(f"{root}/{{part}}.txt", name=f"{{part}}.txt")
        run.upsert_artifact(artifact, distributed_id="g", aliases=[f"from-{{part}}"])
api = wandb.Api()
out = {{"before": [a.name for a in api.artifact_collection("dataset", "reviewco/mnist/shards").artifacts()]}}
with wandb.init(entity="reviewco", project="mnist", group="g") as run:
    run.finish_artifact(wandb.Artifact("shards", type="dataset"), distributed_id="g")
latest = wandb.Api().artifact("reviewco/mnist/shards:latest")
root = latest.download(root="out")
entries = sorted(latest.manifest.entries)
contents = {{n: open(f"{{root}}/{{n}}").read() for n in entries}}
out["after"] = [latest.version, sorted(latest.aliases), latest.digest, contents]
print(json.dumps(out))
"""


def test_a_distributed_version_gathers_every_runs_part_and_commits_when_finished(run_sdk, team, project, tmp_path):
    (tmp_path / "a.txt").write_text("part a")
    (tmp_path / "b.txt").write_text("part b")
    out = _result(run_sdk(DISTRIBUTED_SCRIPT.format(root=tmp_path), key=api_key(team.member)))
    assert out["before"] == []
    version, aliases, digest, contents = out["after"]
    assert (version, aliases, contents) == (
        "v0",
        ["from-a", "from-b", "latest"],
        {"a.txt": "part a", "b.txt": "part b"},
    )
    committed = ArtifactVersion.committed.get(artifact__name="shards")
    assert committed.digest == digest and ArtifactVersion.objects.filter(artifact__name="shards").count() == 1
