"""W&B's own URLs open the same pages: aliases, tab names, the entity page and a project's runs."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains

from artifacts import services
from tests.factories import log_version, make_project, make_run

MODEL = "/reviewco/mnist/artifacts/model/mnist_model"
HX = {"HX-Request": "true"}


@pytest.fixture
def member(client, demo):
    client.force_login(demo.member)
    return client


@pytest.mark.parametrize(
    ("url", "target"),
    [
        (f"{MODEL}/latest", f"{MODEL}/v1"),
        (f"{MODEL}/latest/files", f"{MODEL}/v1/files"),
        (f"{MODEL}/latest/overview", f"{MODEL}/v1"),
        (f"{MODEL}/latest/lineage?depth=3", f"{MODEL}/v1/lineage?depth=3"),
        (f"{MODEL}/v0/overview", f"{MODEL}/v0/version"),
        (f"{MODEL}/v0/overview?depth=3", f"{MODEL}/v0/version?depth=3"),
    ],
)
def test_an_alias_or_a_wandb_tab_name_redirects_to_the_version_url(member, url, target):
    r = member.get(url)
    assert (r.status_code, r["Location"]) == (302, target)


def test_a_custom_alias_follows_the_version_it_is_on(member, demo):
    v0 = f"{MODEL}/v0"
    member.post(f"{v0}/aliases", {"alias": "staging"})
    assert member.get(f"{MODEL}/staging")["Location"] == v0
    member.post(f"{MODEL}/v1/aliases", {"alias": "staging"})
    assert member.get(f"{MODEL}/staging")["Location"] == f"{MODEL}/v1"


def test_vn_urls_still_open_the_version(member):
    r = member.get(f"{MODEL}/v0")
    assert r.status_code == 200
    assert r.context["panel"].version.label == "v0"


@pytest.mark.parametrize(
    "url",
    [
        f"{MODEL}/production",
        f"{MODEL}/latest/bogus",
        "/reviewco/mnist/artifacts/dataset/mnist_model/latest",
        "/reviewco/mnist/artifacts/model/nope/latest",
    ],
)
def test_an_unknown_alias_tab_or_artifact_is_404(member, url):
    assert member.get(url).status_code == 404


def test_an_alias_of_an_artifact_the_user_may_not_see_is_404(client, demo):
    client.force_login(demo.outsider)
    assert client.get(f"{MODEL}/latest").status_code == 404


def test_the_entity_page_lists_its_projects(member, demo):
    r = member.get("/reviewco")
    assert r.status_code == 200
    assert [p.name for p in r.context["page"]] == ["mnist", "review-autocompletion"]
    assertContains(r, 'href="/reviewco/mnist"')
    assertContains(r, 'href="/reviewco/mnist/runs"')


def test_outsiders_see_only_the_public_projects_of_an_entity(client, demo):
    make_project(demo.entity, "open-data", public=True)
    client.force_login(demo.outsider)
    r = client.get("/reviewco")
    assert [p.name for p in r.context["page"]] == ["open-data"]
    assertNotContains(r, "mnist")


def test_signed_out_visitors_see_only_the_public_projects(client, demo):
    make_project(demo.entity, "open-data", public=True)
    r = client.get("/reviewco")
    assert [p.name for p in r.context["page"]] == ["open-data"]


def test_an_entity_without_public_projects_is_404_for_outsiders(client, demo):
    client.force_login(demo.outsider)
    assert client.get("/reviewco").status_code == 404
    assert client.get("/no-such-team").status_code == 404


def test_reserved_names_are_no_entity_pages(member):
    r = member.get("/admin")
    assert (r.status_code, r["Location"]) == (301, "/admin/")
    r = member.get("/profile")
    assert (r.status_code, r["Location"]) == (301, "/profile/")


def test_the_runs_page_lists_the_runs_newest_first(member, demo):
    r = member.get("/reviewco/mnist/runs")
    assert [run.run_id for run in r.context["page"]] == ["3v4lm0d1", "8adpd2kp", "d4t4pr3p"]
    assertContains(r, 'href="/reviewco/mnist/runs/8adpd2kp"')
    assertContains(r, "<span>Runs</span>", html=True)


def test_the_runs_page_is_404_for_outsiders(client, demo):
    client.force_login(demo.outsider)
    assert client.get("/reviewco/mnist/runs").status_code == 404


def test_the_runs_page_pages_by_fifty_and_its_pager_swaps_only_the_table(client, team, project):
    for i in range(52):
        make_run(project, f"run{i:05}")
    client.force_login(team.member)
    r = client.get("/reviewco/mnist/runs")
    assert len(r.context["page"].object_list) == 50
    assertContains(r, 'href="?page=2" hx-get="?page=2" hx-target="#run-table" hx-swap="outerHTML"')
    r = client.get("/reviewco/mnist/runs?page=2", headers={**HX, "HX-Target": "run-table"})
    assertNotContains(r, "<html")
    assertContains(r, 'id="run-table"')
    assertContains(r, "run00001")
    assertNotContains(r, "run00002")
    assert "HX-Target" in r["Vary"]


@pytest.mark.parametrize("url", ["/reviewco/mnist/runs", "/reviewco"])
def test_the_runs_and_entity_pages_use_the_same_number_of_queries_whatever_the_size(
    client, team, project, url, django_assert_num_queries
):
    def grow(start: int, n: int) -> None:
        for i in range(start, start + n):
            run = make_run(project)
            v = log_version(project, f"model-{i}", run=run, content=f"{i}".encode())
            services.version_use(run=make_run(project), version=v, user=team.member)
            make_project(team.entity, f"p{i}")

    client.force_login(team.member)
    grow(0, 3)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    grow(3, 30)
    with django_assert_num_queries(len(small.captured_queries)):
        r = client.get(url)
    assert len(r.context["page"].object_list) == 50 if url.endswith("runs") else 34
