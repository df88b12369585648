"""Issue 13, single files: `artifact.get_entry(name).download()` and `len(artifact.files())` with the real SDK,
and the `/artifactsV2/...` route the SDK falls back to for an entry without a download URL."""

import base64
import json

import pytest

from tests.factories import link, log_version
from tests.wandb_api.helpers import api_key, basic_auth
from wandb_api import ids

pytestmark = pytest.mark.django_db(transaction=True)

FILES = {"model.pt": b"weights " * 300, "config/params.json": b'{"layers": 4}'}


def test_the_sdk_counts_files_and_downloads_one_entry_of_a_project_or_registry_version(run_sdk, team, project):
    version = log_version(project, "cnn", files=FILES)
    link(version, "CNN-dev")
    process = run_sdk(
        """
        import json, wandb
        api = wandb.Api()
        out = {}
        for path in ("reviewco/mnist/cnn:v0", "reviewco/model-registry/CNN-dev:v0"):
            artifact = api.artifact(path)
            entry = artifact.get_entry("config/params.json")
            # As an entry read from the manifest comes: no download URL, so the SDK builds /artifactsV2/...
            entry._download_url = None
            with open(entry.download(root=path.replace("/", "_"))) as f:
                out[path] = [len(artifact.files()), f.read()]
        print(json.dumps(out))
        """,
        key=api_key(team.viewer),
    )
    assert process.returncode == 0, process.stdout + process.stderr
    out = json.loads(process.stdout.strip().splitlines()[-1])
    assert out == {
        "reviewco/mnist/cnn:v0": [2, '{"layers": 4}'],
        "reviewco/model-registry/CNN-dev:v0": [2, '{"layers": 4}'],
    }


def file_url(version, data: bytes, name: str, *, with_id: bool = False) -> str:
    md5_hex = base64.b64decode(version.files.get(blob__size=len(data)).blob.md5).hex()
    birth = ids.encode("Artifact", version.pk)
    middle = f"{birth}/{birth}" if with_id else birth
    return f"/artifactsV2/default/reviewco/mnist/cnn/{middle}/{md5_hex}/{name}"


def test_the_file_route_serves_only_with_a_key_that_may_read_the_version(client, team, project):
    version = log_version(project, "cnn", files=FILES)
    data = FILES["model.pt"]
    for with_id in (False, True):
        response = client.get(
            file_url(version, data, "model.pt", with_id=with_id),
            headers={"Authorization": basic_auth(api_key(team.viewer))},
        )
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == data
        assert response["Content-Disposition"] == 'attachment; filename="model.pt"'
    url = file_url(version, data, "model.pt")
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": basic_auth("0" * 40)}).status_code == 401
    # Another team's member: the same answer as for a version that does not exist.
    outsider = client.get(url, headers={"Authorization": basic_auth(api_key(team.outsider))})
    assert outsider.status_code == 404
    key = basic_auth(api_key(team.viewer))
    for bad in (
        url.replace(ids.encode("Artifact", version.pk), ids.encode("Artifact", version.pk + 99)),
        url.replace(url.split("/")[-2], "0" * 32),
        url.replace(url.split("/")[-2], "zz" * 16),
        url.replace(url.split("/")[-2], "abc"),
        url.replace(ids.encode("Artifact", version.pk), "not-an-id"),
    ):
        response = client.get(bad, headers={"Authorization": key})
        assert response.status_code == 404, bad
        assert response.json() == {"errors": [{"message": "No such file."}]}
