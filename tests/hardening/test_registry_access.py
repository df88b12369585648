"""A registry's visibility comes from its entity and the user, never from a project that happens to share its name."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from wandb.sdk.artifacts._generated import ARTIFACT_MEMBERSHIP_BY_NAME_GQL, GET_ARTIFACT_MEMBERSHIP_FILE_URLS_GQL

from artifacts import names, permissions, services
from artifacts.models import Membership, Project
from tests.factories import link, log_version, make_project, make_user, snapshot
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key
from wandb_api import ids

RESERVED = ["model-registry", "wandb-registry-model", "wandb-registry-anything"]


@pytest.fixture
def legacy_public_registry_project(team, project):
    """A database from before the names were reserved: a public project literally named `model-registry`."""
    legacy = Project.objects.create(entity=team.entity, name="model-registry", is_public=True)
    log_version(legacy, "decoy", content=b"public bytes")
    version = log_version(project, "mnist_model", content=b"private weights")
    link(version, "MNIST-dev")
    return legacy


@pytest.mark.parametrize("name", RESERVED)
def test_registry_names_are_reserved_for_projects_in_the_domain(team, name):
    before = snapshot()
    with pytest.raises(ValidationError, match="reserved for registries"):
        services.project_get_or_create(entity=team.entity, name=name, user=team.admin)
    assert snapshot() == before


def test_a_project_may_still_contain_the_words(team):
    for name in ("my-model-registry", "model-registry-old", "wandb-registry"):
        assert services.project_get_or_create(entity=team.entity, name=name, user=team.admin).name == name


@pytest.mark.parametrize("name", RESERVED)
def test_wandb_init_into_a_registry_name_is_refused_and_writes_nothing(gql, team, name):
    key = api_key(team.admin)
    before = snapshot()
    body = gql(documents.UPSERT_BUCKET, {"entity": "reviewco", "project": name, "name": "r1"}, key=key)
    assert "reserved for registries" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert snapshot() == before


def test_the_admin_refuses_a_registry_name_for_a_project(client, team):
    root = make_user("root", superuser=True)
    client.force_login(root)
    before = snapshot()
    r = client.post(reverse("admin:artifacts_project_add"), {"entity": team.entity.pk, "name": "model-registry"})
    assert r.status_code == 200
    assert "reserved for registries" in r.content.decode()
    project = make_project(team.entity, "renamed")
    r = client.post(
        reverse("admin:artifacts_project_change", args=[project.pk]),
        {"entity": team.entity.pk, "name": "wandb-registry-model"},
    )
    assert "reserved for registries" in r.content.decode()
    project.refresh_from_db()
    assert project.name == "renamed"
    assert snapshot()["Project"] == before["Project"] + 1


def test_a_public_project_named_like_the_registry_does_not_open_the_registry(gql, team, legacy_public_registry_project):
    key = api_key(team.outsider)
    by_name = {"entity": "reviewco", "project": "model-registry", "name": "MNIST-dev:v0"}
    assert gql(ARTIFACT_MEMBERSHIP_BY_NAME_GQL, by_name, key=key)["data"] == {"project": None}
    files = {
        "entity": "reviewco",
        "project": "model-registry",
        "collection": "MNIST-dev",
        "alias": "v0",
        "cursor": None,
        "perPage": 10,
    }
    assert gql(GET_ARTIFACT_MEMBERSHIP_FILE_URLS_GQL, files, key=key)["data"] == {"project": None}
    # Members of the entity still see their registry through the reserved name.
    member = gql(ARTIFACT_MEMBERSHIP_BY_NAME_GQL, by_name, key=api_key(team.viewer))["data"]["project"]
    assert member["artifactCollectionMembership"]["artifact"]["versionIndex"] == 0


def test_linking_through_the_registry_name_needs_the_registry_not_a_public_project(
    gql, team, legacy_public_registry_project
):
    outsider_project = make_project(Membership.objects.get(user=team.outsider).entity, "theirs")
    version = log_version(outsider_project, "their_model")
    key = api_key(team.outsider)
    before = snapshot()
    variables = {
        "artifactId": ids.encode("Artifact", version.pk),
        "artifactPortfolioName": "MNIST-dev",
        "entityName": "reviewco",
        "projectName": "model-registry",
        "aliases": [],
    }
    body = gql(documents.LINK_ARTIFACT, variables, key=key)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
    assert snapshot() == before


def test_the_registry_permission_depends_on_entity_and_user_only(team, legacy_public_registry_project):
    assert permissions.can_view_project(team.outsider, legacy_public_registry_project)
    assert not permissions.can_view_registry(team.outsider, team.entity)
    assert permissions.can_view_registry(team.viewer, team.entity)


def test_the_migration_renames_projects_with_reserved_names(team):
    for name in ("model-registry", "project-model-registry", "wandb-registry-x"):
        Project.objects.create(entity=team.entity, name=name)
    migration = importlib.import_module("artifacts.migrations.0002_rename_reserved_projects")
    migration.rename_reserved(apps, None)
    names_now = set(Project.objects.filter(entity=team.entity).values_list("name", flat=True))
    assert names_now == {"project-model-registry", "project-model-registry-2", "project-wandb-registry-x"}
    assert not any(names.is_registry_project_name(n) for n in names_now)
