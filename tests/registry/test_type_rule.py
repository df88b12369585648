"""A registered model accepts one artifact type, fixed at creation; every way in refuses a mismatch."""

import io
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from registry import services
from registry.models import Link, RegisteredModel
from tests.factories import link, log_version, make_user, snapshot
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key
from wandb_api import ids

HX = {"HX-Request": "true"}


@pytest.fixture
def keras_model(team):
    """A registered model that accepts `keras-model` versions only."""
    return services.registered_model_create(entity=team.entity, name="Keras-dev", user=team.member, type="keras-model")


def test_a_registered_model_takes_its_first_versions_type(team, project):
    version = log_version(project, "tuned", type="sklearn-model")
    lk = link(version, "Tuned")
    assert lk.registered_model.type == "sklearn-model"


def test_a_version_of_another_type_is_refused_and_nothing_is_written(team, project, keras_model):
    version = log_version(project, "mnist_model", type="model")
    before = snapshot()
    for target in ({"registered_model": keras_model}, {"entity": team.entity, "registered_model_name": "Keras-dev"}):
        with pytest.raises(ValidationError, match="'Keras-dev' accepts versions of type 'keras-model'"):
            services.link_version(version=version, user=team.member, **target)
    assert snapshot() == before


def test_the_model_registry_holds_models_only(team):
    before = snapshot()
    with pytest.raises(ValidationError, match="type must contain 'model', not 'dataset'"):
        services.registered_model_create(entity=team.entity, name="Data", user=team.member, type="dataset")
    assert snapshot() == before


def test_the_sdk_is_refused_with_the_reason(gql, team, project, keras_model):
    version = log_version(project, "mnist_model", type="model")
    key = api_key(team.member)
    before = snapshot()
    variables = {
        "artifactId": ids.encode("Artifact", version.pk),
        "artifactPortfolioName": "Keras-dev",
        "entityName": "reviewco",
        "projectName": "model-registry",
        "aliases": [],
    }
    body = gql(documents.LINK_ARTIFACT, variables, key=key)
    assert "'Keras-dev' accepts versions of type 'keras-model'" in body["errors"][0]["message"]
    assert snapshot() == before


def test_the_link_model_command_is_refused_with_the_reason(team, project, keras_model, tmp_path: Path):
    model = tmp_path / "model.pt"
    model.write_bytes(b"weights")
    before = snapshot()
    with pytest.raises(CommandError, match="accepts versions of type 'keras-model'"):
        call_command(
            "link_model",
            "--entity=reviewco",
            "--project=mnist",
            f"--path={model}",
            "--registered-model-name=Keras-dev",
            f"--user={team.admin.username}",
            stdout=io.StringIO(),
        )
    assert snapshot() == before


def test_the_admin_refuses_a_mismatch_as_a_form_error(client, team, project, keras_model):
    version = log_version(project, "mnist_model", type="model")
    client.force_login(make_user("root", superuser=True))
    r = client.post(reverse("admin:registry_link_add"), {"registered_model": keras_model.pk, "source": version.pk})
    assert r.status_code == 200
    assert "accepts versions of type" in r.content.decode()
    assert not Link.objects.exists()


def test_link_to_registry_offers_only_models_that_accept_the_versions_type(client, team, project, keras_model):
    version = log_version(project, "mnist_model", type="model")
    link(version, "MNIST-dev")
    client.force_login(team.member)
    r = client.get(f"/reviewco/mnist/artifacts/model/mnist_model/v{version.index}/link", headers=HX)
    html = r.content.decode()
    assert '<option value="MNIST-dev">MNIST-dev</option>' in html
    assert "Keras-dev" not in html


def test_link_new_version_offers_only_artifacts_of_the_models_type(client, team, project, keras_model):
    log_version(project, "mnist_model", type="model")
    keras = log_version(project, "keras_net", type="keras-model")
    client.force_login(team.member)
    r = client.get("/registry/model/reviewco/Keras-dev/link", {"project": "mnist"}, headers=HX)
    html = r.content.decode()
    assert "keras_net" in html
    assert "mnist_model" not in html
    r = client.post(
        "/registry/model/reviewco/Keras-dev/link",
        {"project": "mnist", "artifact": "keras_net", "version": str(keras.index)},
        headers=HX,
    )
    assert r.status_code == 204
    assert RegisteredModel.objects.get(name="Keras-dev").links.get().source == keras


def test_the_registered_models_type_cannot_change_in_the_admin(client, team, keras_model):
    client.force_login(make_user("root", superuser=True))
    client.post(
        reverse("admin:registry_registeredmodel_change", args=[keras_model.pk]),
        {"type": "model", "description": "", "tags_text": ""},
    )
    keras_model.refresh_from_db()
    assert keras_model.type == "keras-model"
