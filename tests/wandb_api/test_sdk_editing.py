"""Editing fetched versions with the real SDK: `Artifact.save()` (aliases, description), `logged_by`, `used_by`."""

import json

import pytest
from pytest_django.asserts import assertContains

from artifacts import queries, services
from artifacts.models import ArtifactAlias, ArtifactVersion
from registry.models import LinkAlias
from tests.factories import link, log_version, make_run, snapshot
from tests.wandb_api.helpers import api_key

pytestmark = pytest.mark.django_db(transaction=True)

# Every SDK call gets a hard limit well under the fixture's.
TIMEOUT = 90


def _result(process) -> dict:
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


@pytest.fixture
def logged(team, project):
    """mnist_model:v0 logged by run `trainer`, used by run `evaluator`, linked as MNIST-dev:v0."""
    version = log_version(project, run=make_run(project, "trainer"))
    services.version_use(run=make_run(project, "evaluator"), version=version, user=team.admin)
    link(version)
    return version


def _artifact_aliases(version: ArtifactVersion) -> set[str]:
    return set(ArtifactAlias.objects.filter(version=version).values_list("name", flat=True))


def _registry_aliases() -> set[str]:
    return set(LinkAlias.objects.filter(registered_model__name="MNIST-dev").values_list("name", flat=True))


def test_a_member_promotes_and_demotes_a_fetched_version_with_save(run_sdk, team, logged):
    process = run_sdk(
        """
        import json, wandb
        out = {}
        api = wandb.Api()
        art = api.artifact("reviewco/mnist/mnist_model:v0")
        art.aliases.append("production")
        art.description = "promoted"
        art.save()
        out["saved"] = [sorted(art.aliases), art.description]
        out["refetched"] = sorted(wandb.Api().artifact("reviewco/mnist/mnist_model:v0").aliases)
        art.aliases.remove("production")
        art.save()
        out["removed"] = sorted(wandb.Api().artifact("reviewco/mnist/mnist_model:v0").aliases)
        # `latest` is already listed, so the SDK can only send its removal (W&B accepts it; `latest` stays where
        # the system puts it); `v7` is an addition.
        for alias in ("latest", "v7"):
            art = wandb.Api().artifact("reviewco/mnist/mnist_model:v0")
            art.aliases.remove(alias) if alias == "latest" else art.aliases.append(alias)
            try:
                art.save()
                out[alias] = ["saved", sorted(wandb.Api().artifact("reviewco/mnist/mnist_model:v0").aliases)]
            except Exception as exc:
                out[alias] = repr(exc) + repr(exc.__cause__)

        reg = api.artifact("reviewco/model-registry/MNIST-dev:v0")
        reg.aliases.append("staging")
        reg.save()
        out["registry"] = sorted(wandb.Api().artifact("reviewco/model-registry/MNIST-dev:v0").aliases)
        reg.aliases.append("production")
        try:
            reg.save()
            out["protected"] = "saved"
        except Exception as exc:
            out["protected"] = repr(exc) + repr(exc.__cause__)
        reg.aliases.remove("production")
        reg.aliases.remove("staging")
        reg.save()
        out["registry_removed"] = sorted(wandb.Api().artifact("reviewco/model-registry/MNIST-dev:v0").aliases)
        print(json.dumps(out))
        """,
        key=api_key(team.member),
        timeout=TIMEOUT,
    )
    out = _result(process)
    assert out["saved"] == [["latest", "production"], "promoted"]
    assert out["refetched"] == ["latest", "production"]
    assert out["removed"] == ["latest"]
    assert out["latest"] == ["saved", ["latest"]]
    assert "names like v3 are version numbers, not aliases" in out["v7"]
    assert out["registry"] == ["latest", "staging"]
    assert "The alias 'production' is protected: only admins of 'reviewco' may set or remove it." in out["protected"]
    assert out["registry_removed"] == ["latest"]
    logged.refresh_from_db()
    assert logged.description == "promoted"
    assert _artifact_aliases(logged) == {"latest"}
    assert _registry_aliases() == {"latest"}


def test_an_admin_sets_a_protected_registry_alias_with_save(run_sdk, team, logged):
    process = run_sdk(
        """
        import json, wandb
        reg = wandb.Api().artifact("reviewco/model-registry/MNIST-dev:v0")
        reg.aliases.append("production")
        reg.save()
        print(json.dumps(sorted(wandb.Api().artifact("reviewco/model-registry/MNIST-dev:v0").aliases)))
        """,
        key=api_key(team.admin),
        timeout=TIMEOUT,
    )
    assert _result(process) == ["latest", "production"]
    assert _registry_aliases() == {"latest", "production"}
    # The source version's own aliases are another collection's: untouched.
    assert _artifact_aliases(logged) == {"latest"}


def test_a_viewers_save_fails_and_writes_nothing(run_sdk, team, logged):
    key = api_key(team.viewer)
    before = snapshot()
    process = run_sdk(
        """
        import wandb
        art = wandb.Api().artifact("reviewco/mnist/mnist_model:v0")
        art.aliases.append("candidate")
        art.save()
        """,
        key=key,
        timeout=TIMEOUT,
    )
    assert process.returncode != 0
    assert "You need the member or admin role in 'reviewco' to do this." in process.stderr
    assert snapshot() == before
    assert _artifact_aliases(logged) == {"latest"}


def test_logged_by_and_used_by_name_the_runs(run_sdk, team, logged):
    process = run_sdk(
        """
        import json, wandb
        out = {}
        for path in ("reviewco/mnist/mnist_model:v0", "reviewco/model-registry/MNIST-dev:v0"):
            art = wandb.Api().artifact(path)
            creator = art.logged_by()
            out[path] = [creator.entity, creator.project, creator.id, sorted(r.id for r in art.used_by())]
        print(json.dumps(out))
        """,
        key=api_key(team.viewer),
        timeout=TIMEOUT,
    )
    expected = ["reviewco", "mnist", "trainer", ["evaluator"]]
    assert _result(process) == {
        "reviewco/mnist/mnist_model:v0": expected,
        "reviewco/model-registry/MNIST-dev:v0": expected,
    }


def test_a_runs_used_and_logged_artifacts_are_listed(run_sdk, team, logged):
    process = run_sdk(
        """
        import json, wandb
        api = wandb.Api()
        out = {}
        for name in ("trainer", "evaluator"):
            run = api.run(f"reviewco/mnist/{name}")
            out[name] = [[a.name for a in run.logged_artifacts()], [a.name for a in run.used_artifacts()]]
        print(json.dumps(out))
        """,
        key=api_key(team.viewer),
        timeout=TIMEOUT,
    )
    assert _result(process) == {"trainer": [["mnist_model:v0"], []], "evaluator": [[], ["mnist_model:v0"]]}


def test_a_fetched_run_logs_a_fetched_version_again(run_sdk, team, logged, client):
    process = run_sdk(
        """
        import json, wandb
        api = wandb.Api()
        run = api.run("reviewco/mnist/evaluator")
        logged = run.log_artifact(api.artifact("reviewco/mnist/mnist_model:v0"), aliases=["relogged"])
        print(json.dumps([
            logged.name,
            sorted(api.artifact("reviewco/mnist/mnist_model:v0").aliases),
            [a.name for a in run.logged_artifacts()],
            [a.name for a in api.run("reviewco/mnist/trainer").logged_artifacts()],
            api.artifact("reviewco/mnist/mnist_model:v0").logged_by().id,
        ]))
        """,
        key=api_key(team.member),
        timeout=TIMEOUT,
    )
    # Both runs list it as logged; it stays the trainer's (its lineage).
    assert _result(process) == [
        "mnist_model:v0",
        ["latest", "relogged"],
        ["mnist_model:v0"],
        ["mnist_model:v0"],
        "trainer",
    ]
    assert ArtifactVersion.objects.count() == 1
    assert ArtifactVersion.objects.get().created_by_run.run_id == "trainer"
    client.force_login(team.viewer)
    assertContains(client.get("/reviewco/mnist/runs/evaluator"), "mnist_model")
    assert [r.num_logged for r in queries.runs_of(logged.artifact.project)] == [1, 1]


def test_a_viewer_cannot_log_a_version_again_from_a_fetched_run(run_sdk, team, logged):
    key = api_key(team.viewer)
    before = snapshot()
    process = run_sdk(
        """
        import wandb
        api = wandb.Api()
        api.run("reviewco/mnist/evaluator").log_artifact(api.artifact("reviewco/mnist/mnist_model:v0"))
        """,
        key=key,
        timeout=TIMEOUT,
    )
    assert process.returncode != 0 and "ermission" in process.stderr
    assert snapshot() == before


def test_a_collection_is_renamed_described_and_retyped_with_save(run_sdk, team, project):
    log_version(project, "images", type="dataset")
    process = run_sdk(
        """
        import json, wandb
        api = wandb.Api()
        collection = api.artifact_collection("dataset", "reviewco/mnist/images")
        collection.name = "pictures"
        collection.description = "Labelled pictures."
        collection.type = "pictures"
        collection.save()
        fetched = api.artifact("reviewco/mnist/pictures:latest")
        out = [fetched.type, fetched.collection.name, fetched.collection.description]
        fetched.collection.change_type("photos")
        out.append(api.artifact("reviewco/mnist/pictures:v0").type)
        print(json.dumps(out))
        """,
        key=api_key(team.member),
        timeout=TIMEOUT,
    )
    assert _result(process) == ["pictures", "pictures", "Labelled pictures.", "photos"]


def test_a_collections_tags_are_set_and_replaced_with_save_and_read_back(run_sdk, team, project):
    log_version(project, "images", type="dataset")
    process = run_sdk(
        """
        import json, wandb
        api = wandb.Api()
        collection = api.artifact_collection("dataset", "reviewco/mnist/images")
        collection.tags = ["raw", "needs review"]
        collection.save()
        out = [sorted(api.artifact_collection("dataset", "reviewco/mnist/images").tags)]
        collection.tags = ["reviewed"]
        collection.save()
        out.append(wandb.Api().artifact("reviewco/mnist/images:latest").collection.tags)
        print(json.dumps(out))
        """,
        key=api_key(team.member),
        timeout=TIMEOUT,
    )
    assert _result(process) == [["needs review", "raw"], ["reviewed"]]


def test_tags_metadata_and_description_are_edited_after_commit_and_kept_from_creation(run_sdk, team, project, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"tagged weights")
    process = run_sdk(
        f"""
        import json, wandb
        run = wandb.init(entity="reviewco", project="mnist")
        artifact = wandb.Artifact("tagged-model", type="model", metadata={{"acc": 0.9}})
        artifact.add_file("{tmp_path}/model.pt")
        run.log_artifact(artifact, tags=["candidate"]).wait()
        run.link_artifact(artifact, "reviewco/model-registry/Tagged")
        run.finish()
        api = wandb.Api()
        out = {{"created": api.artifact("reviewco/mnist/tagged-model:v0").tags}}
        # Edited as a project version ...
        fetched = api.artifact("reviewco/mnist/tagged-model:v0")
        fetched.metadata = {{"acc": 0.93, "eval": "full test set"}}
        fetched.description = "Re-evaluated on the full test set."
        fetched.tags = ["candidate", "best model"]
        fetched.save()
        # ... and as the registry version that points at it.
        linked = api.artifact("reviewco/model-registry/Tagged:v0")
        linked.tags = [tag for tag in linked.tags if tag != "candidate"] + ["reviewed"]
        linked.save()
        again = wandb.Api().artifact("reviewco/mnist/tagged-model:v0")
        out["edited"] = [sorted(again.tags), again.metadata, again.description]
        out["registry"] = sorted(wandb.Api().artifact("reviewco/model-registry/Tagged:v0").tags)
        print(json.dumps(out))
        """,
        key=api_key(team.member),
        timeout=TIMEOUT,
    )
    out = _result(process)
    assert out["created"] == ["candidate"]
    edited = [["best model", "reviewed"], {"acc": 0.93, "eval": "full test set"}, "Re-evaluated on the full test set."]
    assert out["edited"] == edited
    assert out["registry"] == ["best model", "reviewed"]
    version = ArtifactVersion.committed.get(artifact__name="tagged-model")
    assert (version.index, version.num_files) == (0, 1), "an edit made a new version or changed its files"


def test_delete_and_unlink_follow_the_pages_rules(run_sdk, team, project, logged):
    """Deleting a linked version is refused until it is unlinked; `delete()` of a registry version unlinks
    it; a version with aliases needs delete_aliases=True; a viewer can do neither."""
    other = log_version(project, "other_model", run=make_run(project, "trainer2"))
    services.alias_set(version=other, name="staging", user=team.admin)
    viewer = run_sdk(
        """
        import json, wandb
        api = wandb.Api()
        out = {}
        calls = [("reviewco/model-registry/MNIST-dev:v0", "unlink"), ("reviewco/mnist/other_model:v0", "delete")]
        for path, call in calls:
            try:
                getattr(api.artifact(path), call)()
            except Exception as exc:
                out[call] = str(exc)
        print(json.dumps(out))
        """,
        key=api_key(team.viewer),
        timeout=TIMEOUT,
    )
    before = snapshot()
    refused = _result(viewer)
    assert "permission" in refused["unlink"].lower() and "permission" in refused["delete"].lower(), refused
    assert snapshot() == before
    process = run_sdk(
        """
        import json, wandb
        api = wandb.Api()
        out = {}
        try:
            api.artifact("reviewco/mnist/mnist_model:v0").delete()
        except Exception as exc:
            out["linked"] = str(exc)
        try:
            api.artifact("reviewco/mnist/other_model:v0").delete()
        except Exception as exc:
            out["aliased"] = str(exc)
        api.artifact("reviewco/model-registry/MNIST-dev:v0").delete()  # a link: only unlinked
        api.artifact("reviewco/mnist/mnist_model:v0").delete()
        api.artifact("reviewco/mnist/other_model:v0").delete(delete_aliases=True)
        out["left"] = [api.artifact_exists(f"reviewco/mnist/{name}:v0") for name in ("mnist_model", "other_model")]
        print(json.dumps(out))
        """,
        key=api_key(team.member),
        timeout=TIMEOUT,
    )
    out = _result(process)
    assert "unlink it there first" in out["linked"], out
    assert "confirm removing them" in out["aliased"], out
    assert out["left"] == [False, False]
    assert not ArtifactVersion.objects.filter(artifact__name__in=["mnist_model", "other_model"]).exists()
    assert not LinkAlias.objects.exists()
