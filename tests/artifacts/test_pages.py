import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from artifacts import services
from tests.factories import PASSWORD, log_version, make_project, make_run


@pytest.fixture
def trained(team, project):
    """A training run that used a dataset and logged a model, as in the demo."""
    prep = make_run(project, "prep0001", display_name="prepare")
    dataset = log_version(project, "mnist-dataset", type="dataset", run=prep, content=b"rows")
    train = make_run(project, "8adpd2kp", display_name="train-cnn", config={"learning_rate": 0.001, "epochs": 5})
    model = log_version(project, "mnist_model", run=train, content=b"weights", aliases=["best"])
    services.version_use(run=train, version=dataset, user=team.member)
    return train, model, dataset


def test_the_sign_in_page_signs_in(client, team):
    r = client.get(reverse("login"))
    assertContains(r, "Sign in")
    r = client.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    assert r.status_code == 302
    assert client.get(reverse("home")).context["user"].username == "bob"


def test_a_wrong_password_shows_an_error(client, team):
    r = client.post(reverse("login"), {"username": "bob", "password": "nope"})
    assertContains(r, "Please enter a correct username and password")


def test_signing_out_needs_a_post(client, team):
    client.force_login(team.member)
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert not client.get(reverse("home")).context["user"].is_authenticated


def test_home_lists_only_projects_the_user_may_see(client, team, project):
    make_project(team.entity, "open-data", public=True)
    client.force_login(team.outsider)
    r = client.get(reverse("home"))
    assertContains(r, "reviewco/open-data")
    assertNotContains(r, "reviewco/mnist")


def test_the_project_page_lists_runs_and_artifacts(client, team, trained):
    train, model, dataset = trained
    client.force_login(team.viewer)
    r = client.get("/reviewco/mnist")
    assertContains(r, "8adpd2kp")
    assertContains(r, "train-cnn")
    assertContains(r, "mnist_model")
    assertContains(r, "mnist-dataset")
    assertContains(r, train.get_absolute_url())


def test_the_run_page_shows_config_logged_and_used_versions(client, team, trained):
    client.force_login(team.viewer)
    r = client.get("/reviewco/mnist/runs/8adpd2kp")
    assertContains(r, "learning_rate")
    assertContains(r, "0.001")
    logged = r.context["logged"]
    used = r.context["used"]
    assert [v.full_name for v in logged] == ["reviewco/mnist/mnist_model:v0"]
    assert [v.full_name for v in used] == ["reviewco/mnist/mnist-dataset:v0"]
    assertContains(r, "reviewco/mnist/mnist_model:v0")
    assertContains(r, '<span class="alias">best</span>', html=True)


@pytest.mark.parametrize("url", ["/reviewco/mnist", "/reviewco/mnist/runs/8adpd2kp", "/reviewco/nope", "/nope/x"])
def test_private_pages_are_404_for_outsiders_and_send_anonymous_users_to_sign_in(client, team, trained, url):
    r = client.get(url, headers={"Accept": "text/html"})
    assert (r.status_code, r["Location"]) == (302, "/accounts/login/?next=" + url.replace("/", "%2F"))
    client.force_login(team.outsider)
    assert client.get(url).status_code == 404


def test_a_public_project_is_readable_without_signing_in(client, team):
    public = make_project(team.entity, "open-data", public=True)
    make_run(public, "pub00001")
    assert client.get("/reviewco/open-data").status_code == 200
    assert client.get("/reviewco/open-data/runs/pub00001").status_code == 200


def _grow(project, n: int) -> None:
    for i in range(n):
        run = make_run(project)
        log_version(project, f"model-{i}", run=run, content=f"{i}".encode(), aliases=["best"])


@pytest.mark.parametrize("url", ["/reviewco/mnist", "/"])
def test_pages_use_the_same_number_of_queries_whatever_the_size(client, team, project, django_assert_num_queries, url):
    client.force_login(team.member)
    _grow(project, 5)
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    _grow(project, 45)
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(url)


def test_the_run_page_uses_the_same_number_of_queries_whatever_the_size(
    client, team, project, django_assert_num_queries
):
    client.force_login(team.member)
    run = make_run(project, "bigrun01")
    consumer = make_run(project, "consumer")
    for i in range(5):
        v = log_version(project, f"model-{i}", run=run, content=f"{i}".encode())
        services.version_use(run=consumer, version=v, user=team.member)
    client.get("/reviewco/mnist/runs/bigrun01")
    with CaptureQueriesContext(connection) as small:
        client.get("/reviewco/mnist/runs/bigrun01")
        client.get("/reviewco/mnist/runs/consumer")
    for i in range(5, 40):
        v = log_version(project, f"model-{i}", run=run, content=f"{i}".encode())
        services.version_use(run=consumer, version=v, user=team.member)
    with django_assert_num_queries(len(small.captured_queries)):
        client.get("/reviewco/mnist/runs/bigrun01")
        client.get("/reviewco/mnist/runs/consumer")


def test_the_run_page_shows_values_as_json_and_hides_bookkeeping(client, team, project):
    make_run(project, "jsonrun1", config={"opt": {"name": "adam", "amsgrad": True}})
    run = project.runs.get(run_id="jsonrun1")
    services.run_update(run=run, user=team.member, summary={"loss": 0.1, "_step": 9, "_runtime": 3.2})
    client.force_login(team.viewer)
    r = client.get("/reviewco/mnist/runs/jsonrun1")
    assertContains(r, "{&quot;amsgrad&quot;: true, &quot;name&quot;: &quot;adam&quot;}")
    assertContains(r, "loss")
    assertNotContains(r, "_runtime")


def test_a_run_without_a_name_shows_its_id_once_and_says_when_there_is_no_summary(client, team, project):
    make_run(project, "noname01")
    client.force_login(team.viewer)
    r = client.get("/reviewco/mnist/runs/noname01")
    assert r.content.decode().count("noname01</") == 1
    assertContains(r, "No summary.")


def test_the_overview_shows_the_newest_ten_runs_and_artifacts_and_links_to_all(client, team, project):
    client.force_login(team.member)
    _grow(project, 12)
    r = client.get("/reviewco/mnist")
    assert len(r.context["runs"]) == 10 and len(r.context["artifacts"]) == 10
    assertContains(r, 'href="/reviewco/mnist/runs">All 12 runs</a>')
    assertContains(r, "All 12 artifacts in the Artifact browser")
