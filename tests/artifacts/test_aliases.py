import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from artifacts import services
from artifacts.models import ArtifactAlias
from tests.factories import log_version, snapshot


def test_setting_an_alias_takes_it_off_the_other_version(team, project):
    v0 = log_version(project, "cnn", content=b"a")
    v1 = log_version(project, "cnn", content=b"b")
    services.alias_set(version=v0, name="best", user=team.member)
    services.alias_set(version=v1, name="best", user=team.member)
    assert list(ArtifactAlias.objects.filter(artifact=v0.artifact, name="best").values_list("version", flat=True)) == [
        v1.pk
    ]


def test_the_database_allows_one_alias_name_per_artifact(team, project):
    v0 = log_version(project, "cnn", content=b"a")
    v1 = log_version(project, "cnn", content=b"b")
    with pytest.raises(IntegrityError), transaction.atomic():
        ArtifactAlias.objects.create(artifact=v0.artifact, version=v0, name="latest")
    assert ArtifactAlias.objects.get(artifact=v1.artifact, name="latest").version == v1


@pytest.mark.parametrize("name", ["latest", "v3", "bad name"])
def test_a_reserved_or_malformed_alias_is_rejected_and_nothing_changes(team, project, name):
    v0 = log_version(project, "cnn", content=b"a")
    before = snapshot()
    with pytest.raises(ValidationError):
        services.alias_set(version=v0, name=name, user=team.member)
    assert snapshot() == before


def test_latest_cannot_be_removed(team, project):
    v0 = log_version(project, "cnn", content=b"a")
    with pytest.raises(ValidationError, match="managed automatically"):
        services.alias_remove(version=v0, name="latest", user=team.admin)
    assert v0.aliases.filter(name="latest").exists()


def test_a_viewer_cannot_set_an_alias(team, project):
    v0 = log_version(project, "cnn", content=b"a")
    with pytest.raises(PermissionDenied):
        services.alias_set(version=v0, name="best", user=team.viewer)
    assert not v0.aliases.filter(name="best").exists()


def test_removing_an_alias(team, project):
    v0 = log_version(project, "cnn", content=b"a", aliases=["best"])
    services.alias_remove(version=v0, name="best", user=team.member)
    assert list(v0.aliases.values_list("name", flat=True)) == ["latest"]
