from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.http import Http404
from django.utils import timezone

from artifacts import queries, services
from artifacts.models import ArtifactVersion, Run
from tests.factories import log_version, make_entity, make_project, make_run


def test_run_update_replaces_only_what_is_given(team, project):
    run = make_run(project, config={"lr": 0.1})
    services.run_update(run=run, user=team.member, summary={"loss": 0.5})
    run.refresh_from_db()
    assert (run.config, run.summary) == ({"lr": 0.1}, {"loss": 0.5})


def test_a_viewer_cannot_update_a_run(team, project):
    run = make_run(project)
    with pytest.raises(PermissionDenied):
        services.run_update(run=run, user=team.viewer, summary={"x": 1})
    run.refresh_from_db()
    assert run.summary == {}


def test_output_lines_land_at_their_offset_and_may_be_rewritten(team, project):
    run = make_run(project)
    services.run_write_output(run=run, user=team.member, offset=0, lines=["epoch 1", "progress 10%"])
    services.run_write_output(run=run, user=team.member, offset=1, lines=["progress 100%", "done"])
    run.refresh_from_db()
    assert run.output_log == "epoch 1\nprogress 100%\ndone"


def test_output_keeps_the_newest_characters(team, project):
    run = make_run(project)
    services.run_update(run=run, user=team.member, output_log="x" * (Run.MAX_OUTPUT_CHARS + 10) + "END")
    run.refresh_from_db()
    assert len(run.output_log) == Run.MAX_OUTPUT_CHARS
    assert run.output_log.endswith("END")


def test_the_run_page_shows_the_output_log(client, team, project):
    run = make_run(project, "logged01")
    services.run_update(run=run, user=team.member, output_log="hello from training")
    client.force_login(team.viewer)
    r = client.get("/reviewco/mnist/runs/logged01")
    assert "hello from training" in r.content.decode()


def test_the_run_page_hides_the_sdks_own_config_entry(client, team, project):
    make_run(project, "configured", config={"lr": 0.1, "_wandb": {"cli_version": "0.31.0"}})
    client.force_login(team.viewer)
    page = client.get("/reviewco/mnist/runs/configured").content.decode()
    assert ">lr<" in page
    assert "_wandb" not in page and "cli_version" not in page


def test_stored_bytes_are_found_only_within_the_entity(team, project):
    version = log_version(project, "cnn", content=b"weights")
    md5 = version.files.get().blob.md5
    assert queries.stored_blob(team.entity, md5) == version.files.get().blob
    other = make_entity("labco", admin=[team.outsider])
    assert queries.stored_blob(other, md5) is None


def test_missing_and_private_projects_give_one_answer_to_outsiders(team, project):
    messages = []
    for name in ["mnist", "does-not-exist"]:
        with pytest.raises(Http404) as exc:
            services.project_get_or_create(entity=team.entity, name=name, user=team.outsider)
        messages.append(str(exc.value))
    assert messages[0] == messages[1]
    assert not team.entity.projects.filter(name="does-not-exist").exists()


def test_pending_versions_older_than_the_cutoff_are_pruned(team, project):
    committed = log_version(project, "cnn", content=b"a")
    old = ArtifactVersion.objects.create(artifact=committed.artifact, digest="1" * 32)
    blob = committed.files.get().blob
    for path in ["a.pt", "b.pt"]:
        services.version_file_add(version=old, path=path, blob=blob, user=team.member)
    ArtifactVersion.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=30))
    fresh = ArtifactVersion.objects.create(artifact=committed.artifact, digest="2" * 32)
    out = StringIO()
    call_command("prune_pending_versions", "--hours=24", stdout=out)
    # The two file rows deleted with the version are counted as files, not as versions.
    assert out.getvalue().strip() == "Deleted 1 pending version(s) and 2 file entries."
    assert set(ArtifactVersion.objects.values_list("pk", flat=True)) == {committed.pk, fresh.pk}


def test_prune_rejects_a_negative_age(db):
    with pytest.raises(CommandError, match="negative"):
        call_command("prune_pending_versions", "--hours=-1")


def test_a_public_project_does_not_reveal_a_private_registry(client, team):
    public = make_project(team.entity, "open-data", public=True)
    version = log_version(public, "cnn", content=b"w")
    from tests.factories import link

    link(version, "Secret-Model")
    consumer = make_run(public, "consume1")
    services.version_use(run=consumer, version=version, user=team.member)
    client.force_login(team.outsider)
    for url in [version.get_absolute_url(), version.tab_url("lineage"), version.artifact.get_absolute_url()]:
        r = client.get(url)
        assert r.status_code == 200
        assert "Secret-Model" not in r.content.decode()
    r = client.get(version.get_absolute_url())
    assert r.context["num_consumers"] == 1
    client.force_login(team.member)
    assert "Secret-Model:v0" in client.get(version.get_absolute_url()).content.decode()


def test_old_output_lines_are_cut_but_offsets_keep_counting(team, project):
    run = make_run(project)
    line = "x" * 1000
    services.run_write_output(run=run, user=team.member, offset=0, lines=[line] * 1500)
    run.refresh_from_db()
    assert len(run.output_log) <= Run.MAX_OUTPUT_CHARS
    assert run.output_lines_cut > 0
    assert run.output_line_count == 1500
    services.run_write_output(run=run, user=team.member, offset=1500, lines=["last"])
    run.refresh_from_db()
    assert run.output_line_count == 1501
    assert run.output_log.endswith("\nlast")
