"""Changes made through the W&B API are recorded with their actor and how they acted: the API key the request
authenticated with, or the run that logged a version (GraphQL as the SDK sends it, and the real SDK)."""

import json

import pytest
from wandb.sdk.artifacts._generated import ADD_ALIASES_GQL, LINK_ARTIFACT_GQL, UPDATE_ARTIFACT_GQL

from artifacts.models import ApiKey, Event, EventKind
from tests.factories import link, log_version, snapshot
from tests.wandb_api.helpers import api_key
from wandb_api import ids


def _artifact_id(version) -> str:
    return ids.encode("Artifact", version.pk)


@pytest.mark.django_db
def test_an_api_keys_edit_of_a_version_names_the_user_and_the_key(gql, team, project):
    version = log_version(project, metadata={"acc": 0.9})
    changes = {"artifactID": _artifact_id(version), "description": "d", "metadata": json.dumps({"acc": 0.95})}
    assert "errors" not in gql(UPDATE_ARTIFACT_GQL, {"input": changes}, key=api_key(team.member))
    edited = Event.objects.get(kind=EventKind.VERSION_EDITED)
    assert (edited.actor, edited.actor_name, edited.via) == (team.member, "bob", "API key sdk test")
    assert edited.before == {"description": "", "metadata": ["acc"]}
    assert edited.after == {"description": "d", "metadata": ["acc"]}


@pytest.mark.django_db
def test_an_api_keys_link_and_registry_aliases_name_the_key(gql, team, project):
    version = log_version(project)
    variables = {
        "input": {
            "artifactID": _artifact_id(version),
            "artifactPortfolioName": "MNIST-dev",
            "entityName": "reviewco",
            "projectName": "model-registry",
            "aliases": [{"alias": "staging", "artifactCollectionName": "MNIST-dev"}],
        }
    }
    assert "errors" not in gql(LINK_ARTIFACT_GQL, variables, key=api_key(team.member))
    recorded = Event.objects.filter(registered_model_id__isnull=False).order_by("id")
    assert [(e.kind, e.alias, e.actor_name, e.via) for e in recorded] == [
        ("model.created", "", "bob", "API key sdk test"),
        ("link.created", "", "bob", "API key sdk test"),
        ("alias.set", "latest", "bob", "API key sdk test"),
        ("alias.set", "staging", "bob", "API key sdk test"),
    ]
    aliases = {
        "input": {
            "artifactID": _artifact_id(version),
            "aliases": [
                {
                    "entityName": "reviewco",
                    "projectName": "model-registry",
                    "artifactCollectionName": "MNIST-dev",
                    "alias": "production",
                }
            ],
        }
    }
    ApiKey.objects.all().delete()
    key = api_key(team.admin)
    ApiKey.objects.filter(user=team.admin).update(name="ci")
    assert "errors" not in gql(ADD_ALIASES_GQL, aliases, key=key)
    production = Event.objects.get(alias="production")
    assert (production.kind, production.actor_name, production.via) == ("alias.set", "alice", "API key ci")


@pytest.mark.django_db
def test_a_refused_api_change_records_nothing(gql, team, project):
    version = log_version(project)
    link(version)
    before = snapshot()
    changes = {"artifactID": _artifact_id(version), "description": "no"}
    assert gql(UPDATE_ARTIFACT_GQL, {"input": changes}, key=api_key(team.viewer))["errors"]
    after = snapshot()
    assert {k: v for k, v in after.items() if k != "ApiKey"} == {k: v for k, v in before.items() if k != "ApiKey"}


@pytest.mark.django_db(transaction=True)
def test_the_sdk_logging_and_linking_records_the_run_and_the_key(run_sdk, team, project, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"weights" * 100)
    done = run_sdk(
        f"""
        import wandb
        run = wandb.init(entity="reviewco", project="mnist")
        run.link_model(path="{tmp_path}/model.pt", registered_model_name="MNIST-dev", aliases=["staging"])
        print(run.id)
        run.finish()
        """,
        key=api_key(team.member),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = done.stdout.strip().splitlines()[-1]
    created = Event.objects.get(kind=EventKind.VERSION_CREATED)
    assert (created.actor_name, created.via) == ("bob", f"run {run_id}")
    linked = Event.objects.get(kind=EventKind.LINK_CREATED)
    assert (linked.actor_name, linked.via, linked.object_label) == ("bob", "API key sdk test", "MNIST-dev:v0")
    assert Event.objects.get(kind=EventKind.ALIAS_SET, alias="staging").via == "API key sdk test"
