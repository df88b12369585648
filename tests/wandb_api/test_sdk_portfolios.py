"""Links into ordinary projects with the real SDK (0.31.0, unmodified), as W&B's `link_artifact` makes them outside
the registries: `run.link_artifact(art, "name")` links into the run's project, `artifact.link("project/name")` into
the named one, and the link reads back, lists, renames, unlinks and deletes as on W&B; a viewer's link writes
nothing."""

import json

import pytest

from registry.models import Link, RegisteredModel
from tests.factories import log_version, snapshot
from tests.wandb_api.helpers import api_key

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 120


def _result(process) -> dict:
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_link_into_projects_reads_back_lists_renames_unlinks_and_deletes(run_sdk, team, project):
    log_version(project, "mnist_model", files={"model.pt": b"weights"})
    out = _result(
        run_sdk(
            """
            import json, os, wandb
            api = wandb.Api()
            out = {}
            source = api.artifact("reviewco/mnist/mnist_model:v0")
            linked = source.link("mnist/test-collection", aliases=["candidate"])
            out["linked"] = [linked.entity, linked.project, linked.name, sorted(linked.aliases), linked.is_link]
            art = api.artifact("reviewco/mnist/test-collection:candidate")
            root = art.download(root="dl")
            out["read"] = [art.is_link, art.source_qualified_name, open(os.path.join(root, "model.pt")).read()]
            source = api.artifact("reviewco/mnist/mnist_model:v0")
            out["linked_artifacts"] = [a.qualified_name for a in source.linked_artifacts]
            with wandb.init(entity="reviewco", project="other") as run:
                other = run.link_artifact(api.artifact("reviewco/mnist/mnist_model:v0"), "elsewhere")
                out["run_link"] = [other.entity, other.project, other.name]
            out["types"] = [t.name for t in api.artifact_types("reviewco/mnist")]
            out["collections"] = sorted(c.name for c in api.artifact_collections("reviewco/mnist", "model"))
            col = api.artifact_collection("model", "reviewco/mnist/test-collection")
            out["collection"] = [col.is_sequence(), sorted(col.aliases)]
            col.name = "renamed"
            col.save()
            out["renamed"] = api.artifact("reviewco/mnist/renamed:v0").qualified_name
            try:
                api.artifact_collection("model", "reviewco/mnist/mnist_model").delete()
            except Exception as exc:
                out["refused"] = str(exc)
            api.artifact("reviewco/mnist/renamed:v0").unlink()
            out["exists_after_unlink"] = api.artifact_exists("reviewco/mnist/renamed:v0")
            api.artifact_collection("model", "reviewco/mnist/renamed").delete()
            api.artifact_collection("model", "reviewco/other/elsewhere").delete()
            api.artifact_collection("model", "reviewco/mnist/mnist_model").delete()
            out["exists_after_delete"] = api.artifact_exists("reviewco/mnist/mnist_model:v0")
            print(json.dumps(out))
            """,
            key=api_key(team.admin),
            timeout=TIMEOUT,
        )
    )
    assert out["linked"] == ["reviewco", "mnist", "test-collection:v0", ["candidate", "latest"], True]
    assert out["read"] == [True, "reviewco/mnist/mnist_model:v0", "weights"]
    assert out["linked_artifacts"] == ["reviewco/mnist/test-collection:v0"]
    assert out["run_link"] == ["reviewco", "other", "elsewhere:v0"]
    assert out["types"] == ["model"]
    assert out["collections"] == ["mnist_model", "test-collection"]
    assert out["collection"] == [False, ["candidate", "latest"]]
    assert out["renamed"] == "reviewco/mnist/renamed:v0"
    assert "mnist_model:v0 is linked" in out["refused"]
    assert out["exists_after_unlink"] is False
    assert out["exists_after_delete"] is False
    assert not RegisteredModel.objects.exists() and not Link.objects.exists()


def test_a_viewers_link_into_a_project_is_refused_and_writes_nothing(run_sdk, team, project):
    log_version(project, "mnist_model")
    key = api_key(team.viewer)
    before = snapshot()
    process = run_sdk(
        """
        import wandb
        api = wandb.Api()
        api.artifact("reviewco/mnist/mnist_model:v0").link("test-collection")
        """,
        key=key,
        timeout=TIMEOUT,
    )
    assert process.returncode != 0
    assert "member or admin role" in process.stdout + process.stderr
    assert snapshot() == before
