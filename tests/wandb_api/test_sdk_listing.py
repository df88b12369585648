"""Listing with the real SDK (0.31.0, unmodified): versions, types and collections of a project and of the Model
Registry, over more than one page, and nothing of what the user may not see."""

import json

import pytest

from artifacts.models import Artifact
from registry import services as registry_services
from tests.factories import link, log_version, make_entity, make_project, make_user
from tests.wandb_api.helpers import api_key

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 90


def _result(process) -> dict:
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_a_projects_versions_types_and_collections_list_over_several_pages(run_sdk, team, project):
    for i in range(5):
        log_version(project, "mnist_model", content=f"weights {i}".encode(), aliases=["best"] if i == 1 else ())
    log_version(project, "cnn", content=b"cnn")
    log_version(project, "digits", type="dataset")
    Artifact.objects.filter(name="cnn").update(description="A small CNN")
    out = _result(
        run_sdk(
            """
            import json, wandb
            api = wandb.Api()
            out = {}
            versions = api.artifacts("model", "reviewco/mnist/mnist_model", per_page=2)
            out["versions"] = [[a.name, a.version, sorted(a.aliases), a.is_link] for a in versions]
            out["len"] = len(versions)
            ascending = api.artifacts("model", "reviewco/mnist/mnist_model", per_page=2, order="+version_index")
            out["ascending"] = [a.version for a in ascending]
            out["deprecated"] = [a.version for a in api.artifact_versions("model", "reviewco/mnist/mnist_model", 2)]
            out["types"] = [t.name for t in api.artifact_types("reviewco/mnist")]
            model = api.artifact_type("model", "reviewco/mnist")
            out["type"] = [model.name, [c.name for c in model.collections(per_page=1)]]
            collections = api.artifact_collections("reviewco/mnist", "model", per_page=1)
            out["collections"] = [[c.name, c.type, c.description, c.tags, c.is_sequence()] for c in collections]
            out["collections_len"] = len(collections)
            cnn = api.artifact_collection("model", "reviewco/mnist/cnn")
            out["cnn"] = [cnn.name, cnn.type, cnn.description, cnn.tags, cnn.entity, cnn.project]
            out["cnn_versions"] = [a.name for a in cnn.artifacts(per_page=1)]
            out["project_collections"] = [c.name for c in api.project("mnist", "reviewco").collections(per_page=2)]
            out["exists"] = [
                api.artifact_collection_exists("reviewco/mnist/cnn", "model"),
                api.artifact_collection_exists("reviewco/mnist/cnn", "dataset"),
                api.artifact_collection_exists("reviewco/mnist/no-such-model", "model"),
                api.artifact_exists("reviewco/mnist/mnist_model:v4"),
                api.artifact_exists("reviewco/mnist/mnist_model:best"),
                api.artifact_exists("reviewco/mnist/mnist_model:v5"),
            ]
            print(json.dumps(out))
            """,
            key=api_key(team.viewer),
            timeout=TIMEOUT,
        )
    )
    assert out["versions"] == [
        ["mnist_model:v4", "v4", ["latest"], False],
        ["mnist_model:v3", "v3", [], False],
        ["mnist_model:v2", "v2", [], False],
        ["mnist_model:v1", "v1", ["best"], False],
        ["mnist_model:v0", "v0", [], False],
    ]
    assert out["len"] == 5
    assert out["ascending"] == ["v0", "v1", "v2", "v3", "v4"]
    assert out["deprecated"] == ["v4", "v3", "v2", "v1", "v0"]
    assert out["types"] == ["dataset", "model"]
    assert out["type"] == ["model", ["cnn", "mnist_model"]]
    assert out["collections"] == [
        ["cnn", "model", "A small CNN", [], True],
        ["mnist_model", "model", None, [], True],
    ]
    assert out["collections_len"] == 2
    assert out["cnn"] == ["cnn", "model", "A small CNN", [], "reviewco", "mnist"]
    assert out["cnn_versions"] == ["cnn:v0"]
    assert out["project_collections"] == ["digits", "cnn", "mnist_model"]
    assert out["exists"] == [True, False, False, True, True, False]


def test_a_registered_models_linked_versions_list_with_their_own_index_and_aliases(run_sdk, team, project):
    registry_services.registered_model_create(
        entity=team.entity, name="MNIST-dev", user=team.admin, description="Digits, the good ones", tags=["vision"]
    )
    log_version(project, "mnist_model", content=b"never linked")
    for i in range(5):
        link(log_version(project, "mnist_model", content=f"linked {i}".encode()), aliases=["staging"] if i == 1 else ())
    out = _result(
        run_sdk(
            """
            import json, wandb
            api = wandb.Api()
            out = {}
            linked = api.artifacts("model", "reviewco/model-registry/MNIST-dev", per_page=2)
            out["linked"] = [[a.name, a.version, sorted(a.aliases), a.source_name, a.is_link] for a in linked]
            out["len"] = len(linked)
            out["types"] = [t.name for t in api.artifact_types("reviewco/model-registry")]
            model = api.artifact_type("model", "reviewco/model-registry")
            out["type"] = [model.name, model.collection("MNIST-dev").name]
            out["collections"] = [
                [c.name, c.type, c.description, c.tags, c.is_sequence(), c.project]
                for c in api.artifact_collections("reviewco/model-registry", "model", per_page=1)
            ]
            registered = api.artifact_collection("model", "reviewco/model-registry/MNIST-dev")
            out["registered"] = [registered.name, registered.description, registered.tags, registered.is_sequence()]
            out["registered_versions"] = [a.version for a in registered.artifacts(per_page=3)]
            out["exists"] = [
                api.artifact_collection_exists("reviewco/model-registry/MNIST-dev", "model"),
                api.artifact_collection_exists("reviewco/model-registry/No-Such-Model", "model"),
                api.artifact_exists("reviewco/model-registry/MNIST-dev:v4"),
                api.artifact_exists("reviewco/model-registry/MNIST-dev:staging"),
                api.artifact_exists("reviewco/model-registry/MNIST-dev:v5"),
            ]
            print(json.dumps(out))
            """,
            key=api_key(team.viewer),
            timeout=TIMEOUT,
        )
    )
    assert out["linked"] == [
        ["MNIST-dev:v4", "v4", ["latest"], "mnist_model:v5", True],
        ["MNIST-dev:v3", "v3", [], "mnist_model:v4", True],
        ["MNIST-dev:v2", "v2", [], "mnist_model:v3", True],
        ["MNIST-dev:v1", "v1", ["staging"], "mnist_model:v2", True],
        ["MNIST-dev:v0", "v0", [], "mnist_model:v1", True],
    ]
    assert out["len"] == 5
    assert out["types"] == ["model"]
    assert out["type"] == ["model", "MNIST-dev"]
    assert out["collections"] == [["MNIST-dev", "model", "Digits, the good ones", ["vision"], False, "model-registry"]]
    assert out["registered"] == ["MNIST-dev", "Digits, the good ones", ["vision"], False]
    assert out["registered_versions"] == ["v4", "v3", "v2", "v1", "v0"]
    assert out["exists"] == [True, False, True, True, False]


LOOK_EVERYWHERE = """
import json, wandb
api = wandb.Api()

def attempt(call):
    try:
        return ["ok", repr(call())]
    except Exception as exc:
        return [type(exc).__name__, str(exc)]

def everything(entity, project, name):
    return {
        "artifacts": attempt(lambda: [a.name for a in api.artifacts("model", f"{entity}/{project}/{name}")]),
        "types": attempt(lambda: [t.name for t in api.artifact_types(f"{entity}/{project}")]),
        "type": attempt(lambda: api.artifact_type("model", f"{entity}/{project}").name),
        "collections": attempt(lambda: [c.name for c in api.artifact_collections(f"{entity}/{project}", "model")]),
        "collection": attempt(lambda: api.artifact_collection("model", f"{entity}/{project}/{name}").name),
        "collection_exists": api.artifact_collection_exists(f"{entity}/{project}/{name}", "model"),
        "exists": api.artifact_exists(f"{entity}/{project}/{name}:v0"),
    }

print(json.dumps({
    "missing": everything("rivalco", "no-such-project", "No-Such-Model"),
    "project": everything("rivalco", "secret", "secret_model"),
    "registry": everything("rivalco", "model-registry", "Secret-Model"),
}))
"""


def test_another_teams_private_project_and_registry_answer_as_if_they_did_not_exist(run_sdk, team):
    rival = make_entity("rivalco", admin=[make_user("rita")])
    secret = make_project(rival, "secret")
    link(log_version(secret, "secret_model", content=b"secret"), "Secret-Model")
    out = _result(run_sdk(LOOK_EVERYWHERE, key=api_key(team.member), timeout=TIMEOUT))

    def named(answers: dict, *names: str) -> str:
        text = json.dumps(answers)
        for name in names:
            text = text.replace(name, "NAME")
        return text

    missing = named(out["missing"], "no-such-project", "No-Such-Model")
    assert named(out["project"], "secret_model", "secret") == missing
    assert named(out["registry"], "model-registry", "Secret-Model") == missing
    assert out["missing"]["collection_exists"] is False and out["missing"]["exists"] is False
    assert all(answer[0] != "ok" for key, answer in out["missing"].items() if isinstance(answer, list))
