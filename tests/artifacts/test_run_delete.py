import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from artifacts import services
from artifacts.models import Artifact, ArtifactVersion, DeletedRun, HistoryRow, Run
from tests.factories import link, log_version, make_run, snapshot


def _run_with_history(team, project):
    run = make_run(project, "doomed", tags=["baseline"], config={"lr": 0.1})
    services.run_history_write(run=run, user=team.member, offset=0, rows=[{"_step": 0, "loss": 1}])
    return run


def test_deleting_a_run_removes_its_history_tags_and_uses_but_keeps_what_it_logged(team, project):
    run = _run_with_history(team, project)
    logged = log_version(project, "cnn", run=run)
    used = log_version(project, "data", type="dataset")
    services.version_use(run=run, version=used, user=team.member)

    services.run_delete(run=run, user=team.member)

    assert not Run.objects.filter(run_id="doomed").exists()
    assert not HistoryRow.objects.exists()
    assert not used.usages.exists()
    logged.refresh_from_db()
    assert logged.created_by_run is None
    assert [a.name for a in logged.aliases.all()] == ["latest"]


def test_deleting_a_run_with_its_artifacts_deletes_what_it_logged_and_moves_latest_back(team, project):
    earlier = log_version(project, "cnn", content=b"v0")
    run = make_run(project, "doomed")
    log_version(project, "cnn", content=b"v1", run=run, aliases=["candidate"])
    log_version(project, "only-mine", content=b"m0", run=run)

    services.run_delete(run=run, user=team.member, delete_artifacts=True)

    assert not Run.objects.filter(run_id="doomed").exists()
    assert list(ArtifactVersion.objects.all()) == [earlier]
    assert [a.name for a in earlier.aliases.all()] == ["latest"]
    cnn, only_mine = Artifact.objects.get(name="cnn"), Artifact.objects.get(name="only-mine")
    assert (cnn.num_versions, only_mine.num_versions) == (1, 0)
    # Indexes are never reused.
    assert log_version(project, "cnn", content=b"v2").index == 2


def test_deleting_a_run_with_its_artifacts_is_refused_while_one_is_linked(team, project):
    run = make_run(project, "doomed")
    log_version(project, "cnn", content=b"v0", run=run)
    linked = log_version(project, "cnn", content=b"v1", run=run)
    link(linked, "MNIST-dev")
    before = snapshot()

    with pytest.raises(ValidationError) as exc:
        services.run_delete(run=run, user=team.member, delete_artifacts=True)

    assert exc.value.code == "linked"
    assert "cnn:v1" in exc.value.messages[0]
    assert snapshot() == before


def test_deleting_a_run_without_its_artifacts_keeps_its_linked_versions_linked(team, project):
    run = make_run(project, "doomed")
    linked = log_version(project, "cnn", run=run)
    link(linked, "MNIST-dev")

    services.run_delete(run=run, user=team.member)

    assert not Run.objects.filter(run_id="doomed").exists()
    assert linked.links.count() == 1


def test_viewers_cannot_delete_a_run_and_outsiders_cannot_see_it(team, project):
    run = _run_with_history(team, project)
    log_version(project, "cnn", run=run)
    before = snapshot()

    with pytest.raises(PermissionDenied):
        services.run_delete(run=run, user=team.viewer, delete_artifacts=True)
    with pytest.raises(Http404):
        services.run_delete(run=run, user=team.outsider, delete_artifacts=True)

    assert snapshot() == before


def test_admins_may_delete_a_run(team, project):
    run = make_run(project, "doomed")
    services.run_delete(run=run, user=team.admin)
    assert not Run.objects.filter(run_id="doomed").exists()


def test_a_deleted_run_may_be_deleted_again_and_then_its_kept_versions_go_too(team, project):
    run = make_run(project, "doomed")
    kept = log_version(project, "cnn", content=b"v0", run=run)
    pk = run.pk
    services.run_delete(run=run, user=team.member)
    tombstone = DeletedRun.objects.get(run_pk=pk)
    assert (tombstone.run_id, tombstone.kept_versions, tombstone.deleted_by) == ("doomed", [kept.pk], team.member)

    services.run_delete(run=tombstone, user=team.member)
    assert ArtifactVersion.objects.filter(pk=kept.pk).exists()
    services.run_delete(run=tombstone, user=team.member, delete_artifacts=True)

    assert not ArtifactVersion.objects.exists()
    assert DeletedRun.objects.get(run_pk=pk).kept_versions == []


def test_deleting_a_deleted_run_again_checks_rights_and_links_as_the_first_time(team, project):
    run = make_run(project, "doomed")
    link(log_version(project, "cnn", run=run))
    pk = run.pk
    services.run_delete(run=run, user=team.member)
    tombstone = DeletedRun.objects.get(run_pk=pk)
    before = snapshot()

    with pytest.raises(PermissionDenied):
        services.run_delete(run=tombstone, user=team.viewer)
    with pytest.raises(Http404):
        services.run_delete(run=tombstone, user=team.outsider)
    with pytest.raises(ValidationError):
        services.run_delete(run=tombstone, user=team.member, delete_artifacts=True)

    assert snapshot() == before
