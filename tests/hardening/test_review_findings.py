"""Defects found by reviewing this round's changes, one test each."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from artifacts import services
from artifacts.models import Membership, Project
from registry import services as registry_services
from registry.models import Link, RegisteredModel
from tests.factories import link, log_version, make_project, snapshot
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key
from wandb_api import ids

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("v", ["\u00b2", "9" * 5000, "abc", "-1"])
def test_the_open_row_parameter_of_a_model_page_never_breaks_it(client, demo, v):
    client.force_login(demo.member)
    assert client.get("/registry/model/reviewco/MNIST-dev", {"v": v}).status_code == 200


@pytest.mark.parametrize(
    "request_args",
    [
        ("get", "/registry/model", {"q": "a\x00b"}),
        ("get", "/registry/model", {"selectionPath": "reviewco/model-registry/MNIST-dev", "version": "a\x00"}),
        ("post", "/registry/settings/reviewco/members", {"username": "a\x00b", "role": "member"}),
        ("post", "/registry/model/new", {"entity": "reviewco", "name": "Nul\x00", "type": "model"}),
    ],
)
def test_a_nul_in_a_query_or_form_value_is_a_400_that_writes_nothing(client, demo, request_args):
    """PostgreSQL refuses NUL in text, even to compare it; one middleware refuses it everywhere first."""
    method, path, data = request_args
    client.force_login(demo.admin)
    before = snapshot()
    response = getattr(client, method)(path, data)
    assert response.status_code == 400
    assert b"not valid text" in response.content
    assert snapshot() == before


def _link(gql, user, version, **target):
    variables = {"artifactId": ids.encode("Artifact", version.pk), "aliases": [], "projectName": "model-registry"}
    variables |= {"entityName": target.get("entity", ""), "artifactPortfolioName": target.get("name", "X")}
    return gql(documents.LINK_ARTIFACT, variables, key=api_key(user))["errors"][0]["message"]


def test_linking_answers_alike_for_a_missing_and_a_private_entity(gql, team):
    own = make_project(Membership.objects.get(user=team.outsider).entity, "theirs")
    version = log_version(own, "their_model")
    before = snapshot()
    private = _link(gql, team.outsider, version, entity="reviewco")
    missing = _link(gql, team.outsider, version, entity="no-such-entity")
    assert private == missing == "not found: No such registered model."
    assert snapshot()["Link"] == before["Link"]


def test_linking_by_id_answers_alike_for_a_missing_and_a_private_registered_model(gql, team, project):
    hidden = link(log_version(project), "Hidden")
    own = make_project(Membership.objects.get(user=team.outsider).entity, "theirs")
    version = log_version(own, "their_model")
    query = (
        "mutation($a: ID!, $p: ID) { linkArtifact(input: {artifactID: $a, artifactPortfolioID: $p}) { versionIndex } }"
    )
    answers = []
    for pk in (hidden.registered_model.pk, 999_999):
        variables = {"a": ids.encode("Artifact", version.pk), "p": ids.encode("ArtifactPortfolio", pk)}
        answers.append(gql(query, variables, key=api_key(team.outsider))["errors"][0]["message"])
    assert answers[0] == answers[1] == "not found: No such registered model."


def _sql_before(queries: list[dict], marker: str) -> list[str]:
    sql = [q["sql"] for q in queries]
    return sql[: next(i for i, s in enumerate(sql) if marker in s)]


def test_unlinking_locks_the_model_before_reading_the_aliases_it_checks(team, project):
    lk = link(log_version(project), "Locked")
    with CaptureQueriesContext(connection) as ctx:
        registry_services.link_delete(link=lk, user=team.admin)
    before_alias_read = _sql_before(ctx.captured_queries, '"registry_linkalias"')
    assert any('FROM "registry_registeredmodel"' in s and "SELECT" in s for s in before_alias_read)


def test_registry_and_artifact_alias_changes_take_their_collections_lock(team, project):
    version = log_version(project)
    lk = link(version, "Locked")
    with CaptureQueriesContext(connection) as ctx:
        registry_services.link_alias_set(link=lk, name="staging", user=team.member)
    # Locked before the aliases are first read (what moves is read, then written, under the lock).
    assert any(
        'FROM "registry_registeredmodel"' in s for s in _sql_before(ctx.captured_queries, '"registry_linkalias"')
    )
    with CaptureQueriesContext(connection) as ctx:
        services.alias_set(version=version, name="best", user=team.member)
    assert any('FROM "artifacts_artifact"' in s for s in _sql_before(ctx.captured_queries, '"artifacts_artifactalias"'))
    with CaptureQueriesContext(connection) as ctx:
        services.alias_remove(version=version, name="best", user=team.member)
    assert any('FROM "artifacts_artifact"' in s for s in _sql_before(ctx.captured_queries, "DELETE"))
    assert RegisteredModel.objects.get(name="Locked").aliases.filter(name="staging").exists()
    assert Link.objects.count() == 1 and Project.objects.count() == 1
