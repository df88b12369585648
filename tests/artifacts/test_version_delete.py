"""Delete on an artifact version: the service's rules and the Artifact browser's confirmation."""

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from pytest_django.asserts import assertContains, assertNotContains

from artifacts import services
from artifacts.models import ArtifactAlias, ArtifactVersion, Blob
from registry import services as registry_services
from tests.factories import link, log_version, snapshot

HX = {"HX-Request": "true"}
ARTIFACT = "/reviewco/mnist/artifacts/model/mnist_model"
V0, V1 = f"{ARTIFACT}/v0", f"{ARTIFACT}/v1"


def _aliases(version) -> set[str]:
    return set(ArtifactAlias.objects.filter(version=version).values_list("name", flat=True))


def test_a_linked_version_is_refused_and_nothing_is_written(project, team):
    version = log_version(project)
    link(version)
    before = snapshot()
    with pytest.raises(ValidationError, match="is linked as MNIST-dev:v0: unlink it there first"):
        services.version_delete(version=version, user=team.admin, delete_aliases=True)
    assert snapshot() == before


def test_a_version_holding_aliases_is_refused_unless_they_go_with_it(project, team):
    v0 = log_version(project, content=b"0")
    log_version(project, content=b"1")
    services.alias_set(version=v0, name="best", user=team.member)
    before = snapshot()
    with pytest.raises(ValidationError, match="holds the alias best: confirm removing them"):
        services.version_delete(version=v0, user=team.member)
    assert snapshot() == before
    services.version_delete(version=v0, user=team.member, delete_aliases=True)
    assert not ArtifactVersion.objects.filter(pk=v0.pk).exists()
    assert not ArtifactAlias.objects.filter(name="best").exists()


def test_latest_needs_no_confirmation_and_moves_to_the_newest_version_left(project, team):
    v0 = log_version(project, content=b"0")
    v1 = log_version(project, content=b"1")
    services.version_delete(version=v1, user=team.member)
    assert _aliases(v0) == {"latest"}


def test_indexes_are_never_reused_after_a_delete(project, team):
    log_version(project, content=b"0")
    v1 = log_version(project, content=b"1")
    services.version_delete(version=v1, user=team.member)
    assert log_version(project, content=b"2").index == 2


def test_the_bytes_stay_until_collect_garbage(project, team):
    log_version(project, content=b"0")
    v1 = log_version(project, content=b"only here")
    sha = v1.files.get().blob_id
    services.version_delete(version=v1, user=team.member)
    assert Blob.objects.filter(pk=sha).exists()


def test_viewers_get_403_and_outsiders_404_and_nothing_is_written(project, team):
    version = log_version(project)
    before = snapshot()
    with pytest.raises(PermissionDenied):
        services.version_delete(version=version, user=team.viewer)
    with pytest.raises(Http404):
        services.version_delete(version=version, user=team.outsider)
    assert snapshot() == before


@pytest.fixture
def member(client, demo):
    client.force_login(demo.member)
    return client


def test_the_panel_has_a_delete_item_in_a_menu_next_to_link_to_registry(member, client, demo):
    r = member.get(V1)
    assertContains(r, 'aria-label="More actions for reviewco/mnist/mnist_model:v1"')
    assertContains(r, f'hx-get="{V1}/delete"')
    client.force_login(demo.viewer)
    assertNotContains(client.get(V1), f"{V1}/delete")


def test_the_confirmation_of_a_linked_version_says_why_and_offers_no_delete(member):
    r = member.get(f"{V0}/delete", headers=HX)
    assertContains(r, '<dialog id="confirm-dialog"')
    assertContains(r, "cannot be deleted: it is linked as the versions below")
    assertContains(r, '<a href="/registry/model/reviewco/MNIST-dev/v0">MNIST-dev:v0</a>', html=True)
    assertNotContains(r, "Delete version")
    before = snapshot()
    r = member.post(f"{V0}/delete", {"delete_aliases": "1"}, headers=HX)
    assert r.status_code == 200
    assertContains(r, "unlink it there first")
    assert snapshot() == before


def test_deleting_a_version_with_aliases_needs_the_box_ticked(member, demo):
    version = ArtifactVersion.objects.get(artifact__name="mnist_model", index=1)
    services.alias_set(version=version, name="best", user=demo.member)
    r = member.get(f"{V1}/delete", headers=HX)
    assertContains(r, "holds the alias best")
    assertContains(r, "Also remove best")
    assertContains(r, "collect_garbage")
    before = snapshot()
    r = member.post(f"{V1}/delete", headers=HX)
    assert r.status_code == 200
    assertContains(r, 'role="alert"')
    assertContains(r, "confirm removing them to delete it")
    assertNotContains(r, "<dialog")
    assert snapshot() == before

    r = member.post(f"{V1}/delete", {"delete_aliases": "1"}, headers=HX)
    assert r.status_code == 200
    assert r["HX-Retarget"] == "#artifact-browser"
    assert r["HX-Push-Url"] == ARTIFACT
    assert json.loads(r["HX-Trigger"])["showMessage"]["message"] == "Deleted mnist_model:v1."
    assert "closeModal" in json.loads(r["HX-Trigger-After-Settle"])
    assertContains(r, 'id="artifact-browser"')
    assertContains(r, f'<a href="{V0}"')
    assertNotContains(r, f'<a href="{V1}"')
    assert not ArtifactVersion.objects.filter(pk=version.pk).exists()
    assert _aliases(ArtifactVersion.objects.get(artifact__name="mnist_model", index=0)) == {"latest"}


def test_without_javascript_the_confirmation_is_a_page_and_delete_redirects(member, demo):
    r = member.get(f"{V1}/delete")
    assertContains(r, "<html")
    assertContains(r, f'<form id="confirm-form" method="post" action="{V1}/delete"')
    r = member.post(f"{V1}/delete")
    assert r.status_code == 302 and r["Location"] == ARTIFACT
    assertContains(member.get(ARTIFACT), "Deleted mnist_model:v1.")


def test_deleting_the_last_version_returns_to_the_projects_artifacts(member, demo):
    registry_services.link_delete(
        link=ArtifactVersion.objects.get(artifact__name="mnist_model", index=0).links.get(), user=demo.admin
    )
    member.post(f"{V1}/delete")
    r = member.post(f"{V0}/delete", headers=HX)
    assert r["HX-Push-Url"] == "/reviewco/mnist/artifacts"
    assertNotContains(r, "mnist_model")


def test_viewers_get_403_and_outsiders_404_on_the_page(client, demo):
    before = snapshot()
    client.force_login(demo.viewer)
    assert client.get(f"{V1}/delete", headers=HX).status_code == 403
    assert client.post(f"{V1}/delete", {"delete_aliases": "1"}).status_code == 403
    client.force_login(demo.outsider)
    assert client.get(f"{V1}/delete").status_code == 404
    assert client.post(f"{V1}/delete", {"delete_aliases": "1"}).status_code == 404
    assert snapshot() == before


def test_a_version_linked_into_a_registry_or_a_project_names_where(demo, member):
    from artifacts.models import Organization

    version = ArtifactVersion.committed.get(artifact__name="mnist_model", index=1)
    registry = Organization.objects.get(name="reviewco-org").registries.get(name="model")
    registry_services.link_version(
        version=version, user=demo.admin, registry=registry, registered_model_name="mnist-classifier"
    )
    registry_services.link_version(
        version=version, user=demo.admin, project=version.artifact.project, registered_model_name="candidates"
    )
    before = snapshot()
    expected = "is linked as mnist/candidates:v0, wandb-registry-model/mnist-classifier:v0: unlink it there first"
    with pytest.raises(ValidationError, match=expected):
        services.version_delete(version=version, user=demo.admin, delete_aliases=True)
    assert snapshot() == before
    r = member.get(f"{V1}/delete", headers=HX)
    assertContains(r, "cannot be deleted: it is linked as the versions below")
    assertContains(r, ">wandb-registry-model/mnist-classifier:v0</a>")
    assertContains(r, ">mnist/candidates:v0</a>")

    # A writer of the project who may not see the registry is not told its name.
    from registry.models import Registry, Visibility

    Registry.objects.filter(pk=registry.pk).update(visibility=Visibility.RESTRICTED)
    expected = "is linked as mnist/candidates:v0, 1 more you cannot see: unlink it there first"
    with pytest.raises(ValidationError, match=expected):
        services.version_delete(version=version, user=demo.member, delete_aliases=True)
    assert snapshot() == before
    r = member.get(f"{V1}/delete", headers=HX)
    assertNotContains(r, "mnist-classifier")
