"""Reference entries (issue 16): an artifact may hold pointers to bytes stored elsewhere (`file://`, `s3://`,
`http(s)://`, `gs://`) and to entries of other artifacts (`wandb-artifact://`). The server keeps them as sent,
counts them in the digest and the manifest, and never fetches them; the SDK resolves them."""

import json

import pytest

from artifacts.models import ArtifactReference, ArtifactVersion
from tests.conftest import S3_TEST_BUCKET as BUCKET
from tests.wandb_api.helpers import api_key

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sdk_logs_references_and_an_entry_of_another_artifact_and_reads_them_back(
    run_sdk, team, project, tmp_path, client, s3, s3_endpoint
):
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    # An object in a bucket (moto's, on 127.0.0.1) that only the SDK reads.
    s3.put_object(Bucket=BUCKET, Key="images/cat.png", Body=b"a cat")
    process = run_sdk(
        f"""
        import json, wandb
        run = wandb.init(entity="reviewco", project="mnist")
        raw = wandb.Artifact("raw-data", type="dataset")
        raw.add_reference("file://{tmp_path}/data.csv")
        raw.add_reference("s3://registry-test/images/cat.png")
        raw.add_reference("https://example.invalid/weights.bin", checksum=False)
        raw = run.log_artifact(raw).wait()
        derived = wandb.Artifact("derived", type="dataset")
        derived.add_reference(raw.get_entry("data.csv").ref_url(), name="from-raw.csv")
        derived = run.log_artifact(derived).wait()
        run.finish()
        api = wandb.Api()
        out = {{}}
        with open(api.artifact("reviewco/mnist/raw-data:v0").get_entry("data.csv").download(root="raw")) as f:
            out["raw"] = f.read()
        with open(api.artifact("reviewco/mnist/derived:v0").get_entry("from-raw.csv").download(root="derived")) as f:
            out["derived"] = f.read()
        with open(api.artifact("reviewco/mnist/raw-data:v0").get_entry("cat.png").download(root="cat"), "rb") as f:
            out["cat"] = f.read().decode()
        out["refs"] = sorted(e.ref for e in api.artifact("reviewco/mnist/raw-data:v0").manifest.entries.values())
        print(json.dumps(out))
        """,
        key=api_key(team.member),
        env={"AWS_ENDPOINT_URL_S3": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )
    assert process.returncode == 0, process.stdout + process.stderr
    out = json.loads(process.stdout.strip().splitlines()[-1])
    assert out["raw"] == out["derived"] == "x,y\n1,2\n" and out["cat"] == "a cat"
    assert out["refs"] == sorted(
        [f"file://{tmp_path}/data.csv", "s3://registry-test/images/cat.png", "https://example.invalid/weights.bin"]
    )
    raw = ArtifactVersion.committed.get(artifact__name="raw-data")
    assert (raw.num_files, raw.files.count(), raw.references.count()) == (3, 0, 3)
    derived = ArtifactReference.objects.get(version__artifact__name="derived")
    assert derived.ref.startswith("wandb-artifact://") and derived.ref.endswith("/data.csv")
    client.force_login(team.viewer)
    page = client.get("/reviewco/mnist/artifacts/dataset/raw-data/v0/files").content.decode()
    assert "s3://registry-test/images/cat.png" in page and 'href="https://example.invalid' not in page


def test_a_reference_the_server_does_not_accept_is_refused_and_nothing_is_written(run_sdk, team, project):
    process = run_sdk(
        """
        import wandb
        run = wandb.init(entity="reviewco", project="mnist")
        bad = wandb.Artifact("bad-refs", type="dataset")
        bad.add_reference("https://example.invalid/ok.bin", checksum=False)
        bad.manifest.entries["ok.bin"].ref = "ftp://example.invalid/no.bin"
        run.log_artifact(bad).wait()
        """,
        key=api_key(team.member),
    )
    assert process.returncode != 0
    assert "Invalid reference 'ftp://example.invalid/no.bin'" in process.stdout + process.stderr
    assert not ArtifactVersion.committed.filter(artifact__name="bad-refs").exists()
    assert not ArtifactReference.objects.exists()


def test_a_whole_download_fetches_references_listed_among_the_files(run_sdk, team, project, tmp_path):
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    (tmp_path / "model.pt").write_bytes(b"weights")
    process = run_sdk(
        f"""
        import json, os, wandb
        with wandb.init(entity="reviewco", project="mnist") as run:
            raw = wandb.Artifact("raw-data", type="dataset")
            raw.add_file("{tmp_path}/model.pt", name="b/model.pt")
            raw.add_reference("file://{tmp_path}/data.csv", name="a/data.csv")
            raw = run.log_artifact(raw).wait()
            derived = wandb.Artifact("derived", type="dataset")
            derived.add_reference(raw.get_entry("a/data.csv").ref_url(), name="c/from-raw.csv")
            run.log_artifact(derived).wait()
        api = wandb.Api()
        out = {{}}
        for name in ("raw-data", "derived"):
            artifact = api.artifact(f"reviewco/mnist/{{name}}:v0")
            out[name] = [[f.name for f in artifact.files()], [f.name for f in artifact.files(per_page=1)]]
            root = artifact.download(root=name)
            out[name].append(sorted(
                [os.path.relpath(os.path.join(d, f), root), open(os.path.join(d, f)).read()]
                for d, _, files in os.walk(root) for f in files
            ))
        print(json.dumps(out))
        """,
        key=api_key(team.member),
    )
    assert process.returncode == 0, process.stdout + process.stderr
    out = json.loads(process.stdout.strip().splitlines()[-1])
    assert out["raw-data"] == [
        ["data.csv", "model.pt"],
        ["data.csv", "model.pt"],
        [["a/data.csv", "x,y\n1,2\n"], ["b/model.pt", "weights"]],
    ]
    assert out["derived"] == [["from-raw.csv"], ["from-raw.csv"], [["c/from-raw.csv", "x,y\n1,2\n"]]]
