"""The selectors behind the W&B API's lists: each answers nothing to a user who may not see what it lists, whatever
object the caller already holds."""

from artifacts import queries as artifact_queries
from artifacts.models import Artifact
from registry import queries
from registry.models import RegisteredModel
from tests.factories import link, log_version, make_project


def test_an_outsider_gets_no_versions_links_models_or_types_of_a_private_team(team, project):
    version = log_version(project, "mnist_model")
    link(version, "MNIST-dev")
    artifact = Artifact.objects.get(pk=version.artifact_id)
    rm = RegisteredModel.objects.get(name="MNIST-dev")
    for user, expected in ((team.viewer, 1), (team.outsider, 0)):
        versions, total = queries.visible_versions(user, artifact)
        assert (versions.count(), total) == (expected, expected)
        links, total = queries.visible_model_links(user, rm)
        assert (links.count(), total) == (expected, expected)
        assert queries.visible_models(user, team.entity).count() == expected
        assert queries.visible_model_types(user, team.entity).count() == expected
        assert artifact_queries.visible_artifacts(user, project).count() == expected
        assert artifact_queries.visible_artifact_types(user, project).count() == expected


def test_an_outsider_sees_a_public_projects_versions_but_not_their_links(team):
    public = make_project(team.entity, "open-data", public=True)
    version = log_version(public, "open_model")
    link(version, "Open-Model", aliases=["staging"])
    assert queries.visible_versions(team.outsider, Artifact.objects.get(pk=version.artifact_id))[1] == 1
    aliases, links = queries.version_memberships(team.outsider, version)
    assert ([a.name for a in aliases], links) == (["latest"], [])
    aliases, links = queries.version_memberships(team.viewer, version)
    assert [lk.registered_model.name for lk in links] == ["Open-Model"]
    assert {a.name for a in links[0].aliases.all()} == {"latest", "staging"}
