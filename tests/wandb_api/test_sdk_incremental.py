"""Incremental artifacts with the official `wandb` SDK (0.31.0, unmodified) against this server, in subprocesses."""

import hashlib
import json

import pytest

from artifacts.models import ArtifactVersion
from tests.wandb_api.helpers import api_key

pytestmark = pytest.mark.django_db(transaction=True)


def _result(process) -> dict:
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_an_incremental_artifact_holds_the_files_of_the_latest_version_and_its_own(run_sdk, team, project, tmp_path):
    files = {"a.txt": b"first file", "b.txt": b"second file", "c.txt": b"added later", "b2.txt": b"changed"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    process = run_sdk(
        f"""
        import hashlib, json, os, wandb

        def md5s(root):
            paths = [os.path.join(d, f) for d, _, names in os.walk(root) for f in names]
            return {{os.path.relpath(p, root): hashlib.md5(open(p, "rb").read()).hexdigest() for p in paths}}

        out = {{}}
        with wandb.init(entity="reviewco", project="mnist") as run:
            art = wandb.Artifact("ds", type="dataset")
            art.add_file("{tmp_path}/a.txt")
            art.add_file("{tmp_path}/b.txt")
            run.log_artifact(art).wait()
        with wandb.init(entity="reviewco", project="mnist") as run:
            art = wandb.Artifact("ds", type="dataset", incremental=True)
            art.add_file("{tmp_path}/c.txt")
            art.add_file("{tmp_path}/b2.txt", name="b.txt")
            logged = run.log_artifact(art).wait()
            out["logged"] = [logged.version, logged.digest]
        api = wandb.Api()
        merged = api.artifact("reviewco/mnist/ds:latest")
        out["merged"] = [merged.version, merged.digest, merged.manifest.digest(), merged.file_count]
        out["files"] = md5s(merged.download(root="merged"))
        # The same whole, logged again in full, is the version the increment made.
        with wandb.init(entity="reviewco", project="mnist") as run:
            art = wandb.Artifact("ds", type="dataset")
            art.add_file("{tmp_path}/a.txt")
            art.add_file("{tmp_path}/b2.txt", name="b.txt")
            art.add_file("{tmp_path}/c.txt")
            out["again"] = run.log_artifact(art).wait().version
        # A draft of it without a file (W&B's `remove`) sends its whole manifest: the file is gone.
        with wandb.init(entity="reviewco", project="mnist") as run:
            draft = run.use_artifact("ds:latest").new_draft()
            draft.remove("a.txt")
            out["removed"] = run.log_artifact(draft).wait().version
        out["after_remove"] = md5s(api.artifact("reviewco/mnist/ds:latest").download(root="after-remove"))
        print(json.dumps(out))
        """,
        key=api_key(team.member),
    )
    out = _result(process)

    v1 = ArtifactVersion.committed.get(artifact__name="ds", index=1)
    assert out["logged"] == ["v1", v1.digest]
    # The SDK's own digest of the downloaded manifest is the server's.
    assert out["merged"] == ["v1", v1.digest, v1.digest, 3]
    assert out["files"] == {
        "a.txt": _md5(files["a.txt"]),
        "b.txt": _md5(files["b2.txt"]),
        "c.txt": _md5(files["c.txt"]),
    }
    assert out["again"] == "v1"
    assert out["removed"] == "v2"
    assert out["after_remove"] == {"b.txt": _md5(files["b2.txt"]), "c.txt": _md5(files["c.txt"])}
    assert ArtifactVersion.committed.filter(artifact__name="ds").count() == 3
    assert not ArtifactVersion.objects.filter(base__isnull=False).exists()


def test_an_incremental_table_keeps_every_increment_in_its_latest_version(run_sdk, team, project):
    process = run_sdk(
        """
        import json, wandb
        from wandb.sdk.internal import incremental_table_util

        table = wandb.Table(columns=["a", "b"], log_mode="INCREMENTAL")
        with wandb.init(entity="reviewco", project="mnist") as run:
            table.add_data("1", "first")
            run.log({"table": table})
            table.add_data("2", "second")
            table.add_data("3", "third")
            run.log({"table": table})
            name = incremental_table_util._get_artifact_name(run, "table")
        with wandb.init(entity="reviewco", project="mnist") as run:
            art = run.use_artifact(f"{name}:latest")
            entries = sorted(entry for entry in art.manifest.entries if entry.endswith(".table.json"))
            # The newest increment reads the earlier ones from the same version.
            rows = art.get(entries[-1].removesuffix(".table.json")).data
        print(json.dumps({"version": art.version, "entries": len(entries), "rows": rows}))
        """,
        key=api_key(team.member),
    )
    out = _result(process)
    assert out["version"] == "v1"
    assert out["entries"] == 2
    assert sorted(map(tuple, out["rows"])) == [("1", "first"), ("2", "second"), ("3", "third")]
