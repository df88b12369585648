"""Error pages live in the app's layout; signed-out people are sent to sign in, whatever the URL."""

import pytest
from django.test import Client
from pytest_django.asserts import assertContains

from artifacts import views as artifact_views
from tests.factories import log_version, make_project

pytestmark = pytest.mark.django_db
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    "path",
    [
        "/reviewco/mnist",
        "/reviewco/mnist/artifacts/model/mnist_model/v0",
        "/reviewco/no-such-project",
        "/no-such-entity/x/artifacts",
        "/registry/model/reviewco/MNIST-dev",
        "/registry/model/reviewco/No-Such-Model",
        "/no/such/page/at/all",
    ],
)
def test_a_signed_out_request_for_a_hidden_page_goes_to_sign_in_alike(client, project, path):
    log_version(project)
    r = client.get(path, {"tab": "x"}, headers=BROWSER)
    assert r.status_code == 302
    assert r["Location"] == "/accounts/login/?next=" + path.replace("/", "%2F") + "%3Ftab%3Dx"


@pytest.mark.parametrize("path", ["/reviewco/mnist", "/artifactsV2/default/reviewco/x/y/z/file.bin", "/nope"])
def test_programs_get_the_404_itself_not_a_sign_in_page(client, project, path):
    """The SDK saves what a download URL answers: a sign-in page must never be that."""
    assert client.get(path, headers={"Accept": "*/*"}).status_code == 404


def test_htmx_requests_are_redirected_by_htmx(client, project):
    r = client.get("/reviewco/mnist", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r["HX-Redirect"] == "/accounts/login/?next=%2Freviewco%2Fmnist"


def test_public_pages_stay_readable_signed_out(client, team):
    public = make_project(team.entity, "open", public=True)
    log_version(public)
    assert client.get("/reviewco/open", headers=BROWSER).status_code == 200


def test_the_api_and_files_answer_for_themselves(client, team):
    assert client.get("/files/download/not-a-token").status_code == 403
    assert client.get("/graphql").status_code == 405


def test_after_signing_in_a_hidden_page_is_a_styled_404(client, team, project):
    r = client.post(
        "/accounts/login/?next=/reviewco/mnist",
        {"username": "oscar", "password": "correct horse battery staple", "next": "/reviewco/mnist"},
        follow=True,
    )
    assert r.status_code == 404
    assertContains(r, "Not found", status_code=404)
    assertContains(r, 'href="/registry/model"', status_code=404)
    assertContains(r, "oscar", status_code=404)  # the user menu: the page is in the app's layout


def test_a_403_page_says_why_in_the_layout(client, team, project):
    client.force_login(team.viewer)
    r = client.get("/registry/model/new")
    assertContains(r, "You need the member or admin role in an entity to register a model.", status_code=403)
    assertContains(r, "data-error-message", status_code=403)
    assertContains(r, 'class="topbar"', status_code=403)


def test_a_500_is_a_page_in_the_layout(team, project, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(artifact_views.queries, "project_for_user", broken)
    client = Client(raise_request_exception=False)
    client.force_login(team.member)
    r = client.get("/reviewco/mnist")
    assertContains(r, "Something went wrong", status_code=500)
    assertContains(r, 'class="topbar"', status_code=500)
    assert "boom" not in r.content.decode()
