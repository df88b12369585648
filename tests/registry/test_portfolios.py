"""Collections of an ordinary project (W&B's portfolios, what `link_artifact` makes outside the registries): the same
linking, numbering, aliases and roles as registered models, readable by the project's readers; their names shared
with the project's artifacts; rename and delete; pages at `/<entity>/<project>/portfolios/<name>`."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from artifacts import services
from artifacts.models import Artifact, ArtifactVersion, Project
from registry import queries
from registry import services as registry_services
from registry.models import Link, RegisteredModel
from tests.factories import log_version, make_entity, make_project, make_user, snapshot

pytestmark = pytest.mark.django_db


def _link(version, user, project, name="test-collection", aliases=()):
    return registry_services.link_version(
        version=version, user=user, project=project, registered_model_name=name, aliases=aliases
    )


def test_linking_into_a_project_numbers_a_collection_of_that_project(team, project):
    v0 = log_version(project, "mnist_model", type="dataset")
    v1 = log_version(project, "mnist_model", type="dataset")
    first = _link(v0, team.member, project, aliases=["candidate"])
    second = _link(v1, team.member, project)
    rm = first.link.registered_model
    assert (rm.project, rm.entity, rm.registry, rm.type, rm.name) == (
        project,
        team.entity,
        None,
        "dataset",
        "test-collection",
    )
    assert [first.link.index, second.link.index] == [0, 1]
    assert rm.scope == project and rm.project_name == "mnist" and rm.is_portfolio and not rm.is_collection
    assert second.link.full_name == "reviewco/mnist/test-collection:v1"
    assert sorted(first.link.aliases.values_list("name", flat=True)) == ["candidate"]
    assert list(second.link.aliases.values_list("name", flat=True)) == ["latest"]
    # Linking the same source again returns its link.
    assert _link(v0, team.member, project).created is False
    # It is not a registered model of the team's Model Registry.
    assert list(queries.registered_models(team.admin)) == []
    assert rm.get_absolute_url() == "/reviewco/mnist/portfolios/test-collection"


def test_a_portfolio_and_a_registered_model_may_share_a_name(team, project):
    version = log_version(project)
    registry_services.link_version(
        version=version, user=team.admin, entity=team.entity, registered_model_name="test-collection"
    )
    _link(version, team.admin, project)
    assert RegisteredModel.objects.filter(name="test-collection").count() == 2


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_viewers_and_outsiders_cannot_link_into_a_project(team, project, who):
    version = log_version(project)
    before = snapshot()
    with pytest.raises(PermissionDenied if who == "viewer" else Http404):
        _link(version, getattr(team, who), project)
    assert snapshot() == before


def test_a_public_projects_collections_are_read_by_anyone_and_changed_by_its_team(team):
    public = make_project(team.entity, "open", public=True)
    link = _link(log_version(public), team.member, public).link
    rm = link.registered_model
    stranger = make_user("stranger")
    assert queries.registered_model_for_user(stranger, "reviewco", "test-collection", project="open") == rm
    assert queries.link_for_user(stranger, "reviewco", "test-collection", 0, project="open") == link
    another = log_version(public)
    before = snapshot()
    with pytest.raises(PermissionDenied):
        _link(another, stranger, public)
    with pytest.raises(PermissionDenied):
        registry_services.link_alias_set(link=link, name="best", user=stranger)
    assert snapshot() == before


def test_a_private_projects_collections_are_hidden_from_outsiders(team, project):
    _link(log_version(project), team.member, project)
    with pytest.raises(Http404):
        queries.registered_model_for_user(team.outsider, "reviewco", "test-collection", project="mnist")


def test_the_teams_protected_aliases_hold_in_its_projects(team, project):
    version = log_version(project)
    before = snapshot()
    with pytest.raises(PermissionDenied, match="protected"):
        _link(version, team.member, project, aliases=["production"])
    assert snapshot() == before
    assert _link(version, team.admin, project, aliases=["production"]).created


def test_a_version_of_another_entity_is_refused(team, project):
    other = make_entity("elsewhere", admin=[team.admin])
    foreign = log_version(make_project(other, "p"))
    before = snapshot()
    with pytest.raises(ValidationError, match="belongs to 'elsewhere'"):
        _link(foreign, team.admin, project)
    assert snapshot() == before


def test_an_artifacts_name_is_taken_for_collections_and_the_other_way_round(team, project):
    version = log_version(project, "mnist_model")
    before = snapshot()
    with pytest.raises(ValidationError, match="is an artifact of project 'reviewco/mnist'"):
        _link(version, team.admin, project, name="mnist_model")
    assert snapshot() == before
    _link(version, team.admin, project, name="best-models")
    before = snapshot()
    with pytest.raises(ValidationError, match="is a collection of linked versions"):
        log_version(project, "best-models")
    assert snapshot()["Artifact"] == before["Artifact"]
    assert snapshot()["ArtifactVersion"] == before["ArtifactVersion"]


def test_linking_into_a_missing_project_creates_it_and_a_refused_link_creates_nothing(team, project):
    version = log_version(project)
    result = registry_services.link_version_into_project(
        version=version, user=team.member, entity=team.entity, project_name="curated", registered_model_name="best"
    )
    assert result.link.registered_model.project.name == "curated"
    other = make_entity("elsewhere", admin=[team.admin])
    foreign = log_version(make_project(other, "p"))
    before = snapshot()
    with pytest.raises(ValidationError, match="belongs to 'elsewhere'"):
        registry_services.link_version_into_project(
            version=foreign, user=team.admin, entity=team.entity, project_name="never", registered_model_name="x"
        )
    with pytest.raises(ValidationError):
        registry_services.link_version_into_project(
            version=version,
            user=team.admin,
            entity=team.entity,
            project_name="model-registry",
            registered_model_name="x",
        )
    assert snapshot() == before
    assert not Project.objects.filter(name="never").exists()


def test_rename_keeps_links_and_refuses_taken_or_bad_names(team, project):
    link = _link(log_version(project, "mnist_model"), team.member, project).link
    _link(log_version(project, "mnist_model"), team.member, project, name="other")
    rm = link.registered_model
    for bad, match in [("other", "already exists"), ("mnist_model", "is an artifact"), ("bad/name", "collection name")]:
        with pytest.raises(ValidationError, match=match):
            registry_services.registered_model_update(registered_model=rm, user=team.member, name=bad)
        rm.refresh_from_db()
        assert rm.name == "test-collection"
    with pytest.raises(PermissionDenied):
        registry_services.registered_model_update(registered_model=rm, user=team.viewer, name="renamed")
    registry_services.registered_model_update(registered_model=rm, user=team.member, name="renamed")
    assert Link.objects.get(pk=link.pk).full_name == "reviewco/mnist/renamed:v0"


def test_deleting_an_artifact_takes_its_versions_unless_one_is_linked(team, project):
    v0 = log_version(project, "mnist_model")
    log_version(project, "mnist_model")
    artifact = v0.artifact
    link = _link(v0, team.admin, project).link
    before = snapshot()
    with pytest.raises(ValidationError, match=r"mnist_model:v0 is linked"):
        services.artifact_delete(artifact=artifact, user=team.admin)
    with pytest.raises(PermissionDenied):
        services.artifact_delete(artifact=artifact, user=team.viewer)
    assert snapshot() == before
    registry_services.link_delete(link=link, user=team.admin)
    services.artifact_delete(artifact=artifact, user=team.member)
    assert not Artifact.objects.filter(pk=artifact.pk).exists()
    assert not ArtifactVersion.objects.filter(artifact_id=artifact.pk).exists()


def test_portfolio_pages(client, team, project):
    link = _link(log_version(project), team.member, project, aliases=["candidate"]).link
    client.force_login(team.viewer)
    page = client.get("/reviewco/mnist/portfolios/test-collection")
    assert page.status_code == 200
    assert b"test-collection" in page.content
    detail = client.get("/reviewco/mnist/portfolios/test-collection/v0")
    assert detail.status_code == 200 and b"candidate" in detail.content
    # The source version's panel points at the link, by project.
    source = client.get(link.source.get_absolute_url())
    assert b"mnist/test-collection:v0" in source.content
    assert b'href="/reviewco/mnist/portfolios/test-collection/v0"' in source.content
    # The project's Artifact browser lists its collections.
    browser = client.get("/reviewco/mnist/artifacts")
    assert b"Linked collections" in browser.content
    assert b'href="/reviewco/mnist/portfolios/test-collection"' in browser.content
    client.force_login(team.outsider)
    assert client.get("/reviewco/mnist/portfolios/test-collection").status_code == 404
    # A viewer may not add aliases.
    client.force_login(team.viewer)
    before = snapshot()
    response = client.post("/reviewco/mnist/portfolios/test-collection/v0/aliases", {"alias": "x"})
    assert response.status_code == 403
    assert snapshot() == before
