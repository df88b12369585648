"""The real SDK where the hardening rules meet it: decomposed (macOS) file names, registry names as projects."""

import json
import unicodedata

import pytest

from artifacts.models import ArtifactVersion, Project
from tests.wandb_api.helpers import api_key

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sdk_logs_a_decomposed_name_and_reads_it_back_in_nfc(run_sdk, team, project, tmp_path):
    decomposed = unicodedata.normalize("NFD", "café.txt")
    source = tmp_path / "src"
    source.mkdir()
    (source / decomposed).write_bytes(b"accented bytes")
    process = run_sdk(
        f"""
        import json, os, wandb
        run = wandb.init(entity="reviewco", project="mnist")
        art = wandb.Artifact("accents", type="dataset")
        art.add_file({str(source / decomposed)!r}, name={decomposed!r})
        run.log_artifact(art).wait()
        run.finish()
        got = wandb.Api().artifact("reviewco/mnist/accents:v0")
        root = got.download(root="out")
        print(json.dumps({{"names": [f.name for f in got.files()], "on_disk": sorted(os.listdir(root))}}))
        """,
        key=api_key(team.member),
    )
    assert process.returncode == 0, process.stdout + process.stderr
    out = json.loads(process.stdout.strip().splitlines()[-1])
    composed = unicodedata.normalize("NFC", "café.txt")
    assert out == {"names": [composed], "on_disk": [composed]}
    version = ArtifactVersion.committed.get(artifact__name="accents")
    assert list(version.files.values_list("path", flat=True)) == [composed]


def test_wandb_init_into_the_registry_name_fails_with_the_reason(run_sdk, team):
    process = run_sdk(
        """
        import wandb
        wandb.init(entity="reviewco", project="model-registry")
        """,
        key=api_key(team.member),
        timeout=90,
    )
    assert process.returncode != 0
    assert "reserved for registries" in process.stdout + process.stderr
    assert not Project.objects.filter(name="model-registry").exists()
