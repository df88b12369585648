import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from artifacts import services
from artifacts.models import ArtifactAlias, ArtifactVersion, Entity
from tests.factories import bulk_versions, link, log_version, make_project, make_run, snapshot

HX = {"HX-Request": "true"}
V0 = "/reviewco/mnist/artifacts/model/mnist_model/v0"


@pytest.fixture
def member(client, demo):
    client.force_login(demo.member)
    return client


def test_the_project_page_has_an_artifacts_icon_with_a_label(member):
    r = member.get("/reviewco/mnist")
    assertContains(r, 'href="/reviewco/mnist/artifacts"')
    assertContains(r, "<span>Artifacts</span>", html=True)
    for label in ("Projects", "Model Registry", "Overview", "Runs"):
        assertContains(r, f"<span>{label}</span>", html=True)
    assertContains(r, 'aria-current="page"')


def test_the_browser_lists_types_with_model_open(member):
    r = member.get("/reviewco/mnist/artifacts")
    sections = {s["type"]: s for s in r.context["sections"]}
    assert list(sections) == ["model", "dataset"]
    assert sections["model"]["open"] and not sections["dataset"]["open"]
    assertContains(r, "mnist_model")
    assertContains(r, "mnist-dataset")


def test_the_artifact_page_has_a_versions_table_with_linked_to(member):
    r = member.get("/reviewco/mnist/artifacts/model/mnist_model")
    for column in ["Version", "Aliases", "Created At", "Size", "Num Files", "Linked To"]:
        assertContains(r, f"<th>{column}</th>", html=True)
    assertContains(r, '<a href="/registry/model/reviewco/MNIST-dev/v0">MNIST-dev:v0</a>', html=True)
    assert [v.label for v in r.context["versions_page"]] == ["v1", "v0"]


def test_the_artifact_page_shows_its_collection_tags(member, demo):
    artifact = ArtifactVersion.committed.get(artifact__name="mnist_model", index=0).artifact
    assertNotContains(member.get(artifact.get_absolute_url()), 'aria-label="Tags"')
    services.artifact_tags_change(artifact=artifact, user=demo.member, add=["baseline", "small net"])
    r = member.get(artifact.get_absolute_url())
    assertContains(r, '<span class="tag">baseline</span>', html=True)
    assertContains(r, '<span class="tag">small net</span>', html=True)


def test_a_version_page_and_its_fragment_share_one_url(member):
    full = member.get(V0)
    assertContains(full, "<html")
    assertContains(full, "Version overview")
    fragment = member.get(V0, headers={**HX, "HX-Target": "detail-panel"})
    assertNotContains(fragment, "<html")
    assertNotContains(fragment, "artifacts-panel")
    assertContains(fragment, 'id="detail-panel"')
    browser = member.get(V0, headers={**HX, "HX-Target": "artifact-browser"})
    assertNotContains(browser, "<html")
    assertContains(browser, "artifacts-panel")
    assert "HX-Request" in full["Vary"]


def test_the_version_overview_shows_every_field(member):
    r = member.get(V0)
    for label in ["Full Name", "Aliases", "Digest", "Created By", "Created At", "Num Consumers", "Num Files", "Size"]:
        assertContains(r, f"<dt>{label}</dt>", html=True)
    assertContains(r, "reviewco/mnist/mnist_model:v0")
    version = r.context["panel"].version
    assertContains(r, version.digest)
    assert r.context["num_consumers"] == 1
    assertContains(r, "<dt>Linked To</dt>", html=True)
    assertContains(r, '<a href="/registry/model/reviewco/MNIST-dev/v0">MNIST-dev:v0</a>', html=True)
    assertContains(r, "Link to registry")


def test_linked_to_is_absent_without_links(member):
    r = member.get("/reviewco/mnist/artifacts/model/mnist_model/v1")
    assertNotContains(r, "<dt>Linked To</dt>", html=True)


def test_viewers_see_no_change_controls(client, demo):
    client.force_login(demo.viewer)
    r = client.get(V0)
    assert r.status_code == 200
    assertNotContains(r, "Link to registry")
    assertNotContains(r, "Add an alias")
    assertNotContains(r, "Edit description")


def test_datasets_of_a_team_outside_every_organization_have_no_link_to_registry_button(member):
    # A dataset can go only to a registry of the team's organization (the Model Registry holds models).
    Entity.objects.filter(name="reviewco").update(organization=None)
    r = member.get("/reviewco/mnist/artifacts/dataset/mnist-dataset/v0")
    assert r.status_code == 200
    assertNotContains(r, "Link to registry")
    assert member.get("/reviewco/mnist/artifacts/dataset/mnist-dataset/v0/link").status_code == 404


def test_datasets_of_an_organizations_team_may_go_to_its_dataset_registry(member):
    r = member.get("/reviewco/mnist/artifacts/dataset/mnist-dataset/v0")
    assertContains(r, "Link to registry")


@pytest.mark.parametrize("tab", ["version", "metadata", "usage", "files", "lineage"])
def test_every_tab_has_its_own_url(member, tab):
    r = member.get(f"{V0}/{tab}")
    assert r.status_code == 200
    assert r.context["panel"].tab == tab
    assertContains(r, f'href="{V0}/{tab}"')


def test_an_unknown_tab_or_version_is_404(member):
    assert member.get(f"{V0}/bogus").status_code == 404
    assert member.get("/reviewco/mnist/artifacts/model/mnist_model/v9").status_code == 404
    assert member.get("/reviewco/mnist/artifacts/dataset/mnist_model/v0").status_code == 404


def test_outsiders_get_404_everywhere(client, demo):
    client.force_login(demo.outsider)
    for url in ["/reviewco/mnist/artifacts", "/reviewco/mnist/artifacts/model/mnist_model", V0, f"{V0}/files"]:
        assert client.get(url).status_code == 404


def test_pending_versions_are_invisible(member, demo, project):
    v = ArtifactVersion.committed.get(artifact__name="mnist_model", index=1)
    ArtifactVersion.objects.create(artifact=v.artifact, digest="f" * 32)
    r = member.get("/reviewco/mnist/artifacts/model/mnist_model")
    assert [x.label for x in r.context["versions_page"]] == ["v1", "v0"]
    assertNotContains(r, "pending")


def test_metadata_is_a_table_with_nested_values_folded(member, demo):
    project = demo.entity.projects.get(name="review-autocompletion")
    r = member.get("/reviewco/review-autocompletion/artifacts/model/review-autocompletion-model/v1/metadata")
    assert project
    assertContains(r, '<th scope="row">epoch</th>', html=True)
    assertContains(r, "<summary>2 keys</summary>", html=True)
    assertContains(r, '<th scope="row">perplexity</th>', html=True)


def test_usage_shows_code_for_this_exact_version_and_its_consumers(member):
    r = member.get(f"{V0}/usage")
    assertContains(r, "export WANDB_BASE_URL=http://testserver")
    assertContains(r, "run.use_artifact(&quot;reviewco/mnist/mnist_model:v0&quot;, type=&quot;model&quot;)")
    assertContains(r, "wandb.Api().artifact(&quot;reviewco/mnist/mnist_model:v0&quot;)")
    assert [run.run_id for run in r.context["consumers"]] == ["3v4lm0d1"]


def test_files_show_a_folder_tree_with_size_and_digest(member):
    r = member.get("/reviewco/mnist/artifacts/dataset/mnist-dataset/v0/files")
    tree = r.context["tree"]
    assert [n["name"] for n in tree] == ["test", "train", "README.md"]
    assert [n["name"] for n in tree[0]["children"]] == ["labels.csv"]
    file = tree[2]["file"]
    assertContains(r, file.blob.md5)
    assertContains(r, "/reviewco/mnist/artifacts/dataset/mnist-dataset/v0/files/test/labels.csv")


def _download(client, path, **headers):
    return client.get(f"/reviewco/mnist/artifacts/dataset/mnist-dataset/v0/files/{path}", headers=headers)


def test_a_download_streams_the_bytes_with_its_name(member):
    r = _download(member, "train/labels.csv")
    assert r.status_code == 200
    assert r.streaming
    body = b"".join(r.streaming_content)
    assert body == b"index,label\n0,5\n1,0\n2,4\n3,1\n4,9\n"
    assert r["Content-Disposition"] == 'attachment; filename="labels.csv"'
    assert r["Content-Length"] == str(len(body))
    assert r["Accept-Ranges"] == "bytes"


def test_a_range_request_gets_those_bytes(member):
    r = _download(member, "train/labels.csv", Range="bytes=6-10")
    assert r.status_code == 206
    assert b"".join(r.streaming_content) == b"label"
    assert r["Content-Range"] == "bytes 6-10/32"
    r = _download(member, "train/labels.csv", Range="bytes=-3")
    assert b"".join(r.streaming_content) == b",9\n"
    assert _download(member, "train/labels.csv", Range="bytes=500-").status_code == 416


@pytest.mark.parametrize("path", ["labels.csv", "../mnist_model/v0/files/model.pt", "train/../README.md", "model.pt"])
def test_no_other_file_is_reachable_by_editing_the_url(member, path):
    assert _download(member, path).status_code == 404


def test_downloads_are_permission_checked(client, demo):
    client.force_login(demo.outsider)
    assert _download(client, "README.md").status_code == 404
    client.logout()
    r = _download(client, "README.md", Accept="text/html")
    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/login/?next=")


def test_a_member_adds_and_removes_an_alias(member):
    r = member.post(f"{V0}/aliases", {"alias": "best"}, headers={**HX, "HX-Target": "version-aliases"})
    assertContains(r, 'id="version-aliases"')
    assertContains(r, "best")
    assertNotContains(r, "<html")
    assert ArtifactAlias.objects.filter(version__index=0, artifact__name="mnist_model", name="best").exists()
    r = member.post(f"{V0}/aliases/best/delete", headers=HX)
    assert not ArtifactAlias.objects.filter(name="best").exists()


@pytest.mark.parametrize("alias", ["latest", "v2", "has space"])
def test_a_bad_alias_shows_the_reason_and_writes_nothing(member, alias):
    before = snapshot()
    r = member.post(f"{V0}/aliases", {"alias": alias}, headers=HX)
    assert r.status_code == 200
    assertContains(r, 'role="alert"')
    assert snapshot() == before


def test_without_javascript_an_alias_post_redirects_back(member):
    r = member.post(f"{V0}/aliases", {"alias": "best"})
    assert r.status_code == 302
    assert r["Location"] == V0


def test_a_viewer_cannot_change_aliases_or_description(client, demo):
    client.force_login(demo.viewer)
    before = snapshot()
    assert client.post(f"{V0}/aliases", {"alias": "best"}).status_code == 403
    assert client.post(f"{V0}/description", {"description": "x"}).status_code == 403
    assert snapshot() == before


def test_posts_need_a_csrf_token(demo):
    client = Client(enforce_csrf_checks=True)
    client.force_login(demo.member)
    before = snapshot()
    assert client.post(f"{V0}/aliases", {"alias": "best"}).status_code == 403
    assert snapshot() == before


def test_a_member_edits_the_description(member):
    r = member.post(f"{V0}/description", {"description": "Trained **longer**"}, headers=HX)
    assertContains(r, "<strong>longer</strong>")
    assert ArtifactVersion.committed.get(artifact__name="mnist_model", index=0).description == "Trained **longer**"


def _grow(project, n):
    run = make_run(project)
    consumer = make_run(project)
    from artifacts import services

    for i in range(n):
        v = log_version(project, f"model-{i:03}", run=run, content=f"{i}".encode(), aliases=["best"])
        log_version(project, f"model-{i:03}", run=run, content=f"{i}-b".encode())
        services.version_use(run=consumer, version=v, user=project.entity.memberships.first().user)
        if i % 2:
            link(v, "Grown")


@pytest.mark.parametrize(
    "url",
    [
        "/reviewco/mnist/artifacts",
        "/reviewco/mnist/artifacts/model/model-000",
        "/reviewco/mnist/artifacts/model/model-001/v0",
        "/reviewco/mnist/artifacts/model/model-001/v0/usage",
        "/reviewco/mnist/artifacts/model/model-001/v0/files",
        "/reviewco/mnist/artifacts/model/model-001/v0/lineage",
        "/reviewco/mnist/artifacts/model/model-001/v0/metadata",
    ],
)
def test_browser_pages_use_the_same_number_of_queries_at_5_and_at_500(
    client, team, project, url, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(team.member)
    _grow(project, 5)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    _grow_more(project)
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(url)


def _grow_more(project):
    bulk_versions(project, "model-000", 495, start=2)
    for i in range(5, 60):
        bulk_versions(project, f"model-{i:03}", 1)


def test_artifacts_page_past_50(member, demo, project):
    run = make_run(project)
    for i in range(52):
        log_version(project, f"m-{i:02}", run=run, content=f"{i}".encode())
    r = member.get("/reviewco/mnist/artifacts")
    model = next(s for s in r.context["sections"] if s["type"] == "model")
    assert len(model["page"].object_list) == 50
    assertContains(r, "?type=model&page=2")
    r = member.get("/reviewco/mnist/artifacts?type=model&page=2")
    model = next(s for s in r.context["sections"] if s["type"] == "model")
    assert [a.name for a in model["page"]] == ["m-50", "m-51", "mnist_model"]


def test_the_link_to_registry_url_exists_only_for_model_versions(member):
    url = reverse("registry:link_to_registry", args=["reviewco", "mnist", "dataset", "mnist-dataset", 0])
    assert member.get(url).status_code == 404


def test_a_large_download_streams_with_flat_memory(member, demo, project):
    import tracemalloc

    from artifacts.storage import CHUNK_SIZE

    size = 64 * 1024 * 1024
    version = log_version(project, "big-model", files={"weights.bin": b"\x01" * size})
    url = version.file_url("weights.bin")
    response = member.get(url)
    assert response.streaming
    tracemalloc.start()
    total = 0
    for chunk in response.streaming_content:
        assert len(chunk) <= CHUNK_SIZE
        total += len(chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == size
    assert peak < 8 * CHUNK_SIZE


def test_a_selected_artifact_on_a_later_page_opens_that_page(member, demo, project):
    run = make_run(project)
    for i in range(55):
        log_version(project, f"m-{i:02}", run=run, content=f"{i}".encode())
    r = member.get("/reviewco/mnist/artifacts/model/m-54/v0")
    model = next(s for s in r.context["sections"] if s["type"] == "model")
    assert model["page"].number == 2
    assertContains(r, 'aria-current="page">v0</a>')


def test_more_than_50_versions_link_to_the_older_ones(member, demo, project):
    bulk_versions(project, "many", 55)
    r = member.get("/reviewco/mnist/artifacts/model/many/v54")
    assertContains(r, "Older versions (55 in all)")
    r = member.get("/reviewco/mnist/artifacts/model/many?vpage=2")
    assert [v.label for v in r.context["versions_page"]] == ["v4", "v3", "v2", "v1", "v0"]


def test_a_viewer_removing_latest_gets_403(client, demo):
    client.force_login(demo.viewer)
    assert client.post(f"{V0.replace('v0', 'v1')}/aliases/latest/delete").status_code == 403


def test_downloads_are_octet_streams(member):
    r = member.get(f"{V0}/files/model.pt")
    assert r["Content-Type"] == "application/octet-stream"


def test_a_versions_row_shows_three_links_then_more(client, team, project):
    version = log_version(project)
    for name in ("A1", "A2", "A3", "A4", "A5"):
        link(version, name)
    client.force_login(team.admin)
    r = client.get(version.artifact.get_absolute_url())
    (row,) = r.context["versions_page"]
    assert [lk.registered_model.name for lk in row.visible_links] == ["A1", "A2", "A3"] and row.more_links
    assertContains(
        r, f'<a href="{version.get_absolute_url()}" class="muted" aria-label="All links of v0">more</a>', html=True
    )
    assertNotContains(r, "A4:v0")
    # The version's panel lists them all.
    assertContains(client.get(version.get_absolute_url()), "A5:v0")


def test_a_versions_row_costs_the_same_queries_however_many_links(client, team, project):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    few, many = log_version(project, "few"), log_version(project, "many")
    link(few, "A1")
    for i in range(12):
        link(many, f"M{i:02d}")
    client.force_login(team.admin)
    counts = []
    for version in (few, many):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(version.artifact.get_absolute_url()).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_links_a_reader_may_not_see_never_hide_one_they_may(client, team):
    from registry import services as registry_services

    public = make_project(team.entity, "open", public=True)
    version = log_version(public)
    for name in ("A1", "A2", "A3", "A4"):  # the team's Model Registry: not for outsiders
        link(version, name)
    registry_services.link_version_into_project(
        version=version, user=team.admin, entity=team.entity, project_name="open", registered_model_name="Zoo"
    )
    client.force_login(team.outsider)
    r = client.get(version.artifact.get_absolute_url())
    (row,) = r.context["versions_page"]
    assert [lk.registered_model.name for lk in row.visible_links] == ["Zoo"] and not row.more_links
    assertNotContains(r, "A1:v0")
    assertNotContains(r, ">more<")
