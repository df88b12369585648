"""The Artifact browser's Link to registry dialog: Select a register model -> Next step -> Aliases -> Link."""

import json

import pytest
from pytest_django.asserts import assertContains, assertNotContains

from registry import services
from registry.models import Link, RegisteredModel
from tests.factories import snapshot

HX = {"HX-Request": "true"}
V1 = "/reviewco/mnist/artifacts/model/mnist_model/v1"
URL = f"{V1}/link"


@pytest.fixture
def member(client, demo):
    client.force_login(demo.member)
    return client


def test_htmx_gets_a_dialog_whose_first_control_is_labelled_with_the_step(member):
    r = member.get(URL, headers={**HX, "HX-Target": "modal-root"})
    assertContains(r, "<dialog")
    assertContains(r, "data-modal")
    assertContains(r, '<label for="link-model">Select a register model</label>', html=True)
    assertContains(r, '<option value="MNIST-dev">MNIST-dev</option>', html=True)
    assertContains(r, "Next step")
    assertNotContains(r, "<html")


def test_without_javascript_it_is_a_page(member):
    r = member.get(URL)
    assertContains(r, "<html")
    assertContains(r, "Select a register model")


def test_next_step_asks_for_aliases_offering_the_models_own(member, demo):
    services.link_alias_set(
        link=Link.objects.get(registered_model__name="Fine-Tuned-Review-Autocompletion", index=0),
        name="staging",
        user=demo.member,
    )
    r = member.post(URL, {"step": "1", "registered_model": "Fine-Tuned-Review-Autocompletion"}, headers=HX)
    assertContains(r, '<label for="link-aliases">Aliases</label>', html=True)
    assertContains(r, 'value="staging"')
    # A protected alias is offered only to those who may set it.
    assertNotContains(r, 'value="production"')
    assertContains(r, "Link to registry")
    assertNotContains(r, "<dialog")


def test_admins_are_offered_protected_aliases(client, demo):
    client.force_login(demo.admin)
    r = client.post(URL, {"step": "1", "registered_model": "Fine-Tuned-Review-Autocompletion"}, headers=HX)
    assertContains(r, 'value="production"')


def test_linking_closes_the_dialog_and_announces_the_new_version(member):
    before = snapshot()
    r = member.post(URL, {"step": "2", "registered_model": "MNIST-dev", "aliases": "staging, candidate"}, headers=HX)
    assert r.status_code == 204
    events = json.loads(r["HX-Trigger"])
    assert set(events) == {"closeModal", "showMessage", "linksChanged"}
    assert events["showMessage"]["message"] == "Linked mnist_model:v1 as MNIST-dev:v1"
    link = Link.objects.get(registered_model__name="MNIST-dev", index=1)
    assert link.source.label == "v1"
    assert set(link.aliases.values_list("name", flat=True)) == {"latest", "staging", "candidate"}
    assert snapshot()["Link"] == before["Link"] + 1


def test_linked_to_refreshes_as_a_fragment(member):
    member.post(URL, {"step": "2", "registered_model": "MNIST-dev"}, headers=HX)
    r = member.get(f"{V1}/version", headers={**HX, "HX-Target": "linked-to"})
    assertNotContains(r, "<html")
    assertContains(r, 'id="linked-to"')
    assertContains(r, '<a href="/registry/model/reviewco/MNIST-dev/v1">MNIST-dev:v1</a>', html=True)


def test_linking_an_already_linked_version_says_so(member):
    url = "/reviewco/mnist/artifacts/model/mnist_model/v0/link"
    before = snapshot()
    r = member.post(url, {"step": "2", "registered_model": "MNIST-dev"}, headers=HX)
    assert r.status_code == 200
    assertContains(r, "already linked as")
    assertContains(r, "MNIST-dev:v0")
    assert snapshot() == before


def test_step_one_says_that_a_model_is_already_linked_there(member):
    url = "/reviewco/mnist/artifacts/model/mnist_model/v0/link"
    r = member.post(url, {"step": "1", "registered_model": "MNIST-dev"}, headers=HX)
    assertContains(r, "Already linked here as")


def test_a_new_registered_model_can_be_named(member):
    r = member.post(URL, {"step": "2", "new_name": "MNIST-prod"}, headers=HX)
    assert r.status_code == 204
    assert Link.objects.get(registered_model__name="MNIST-prod").index == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"step": "1"}, "Select a registered model, or name a new one."),
        ({"step": "1", "new_name": "bad name"}, "Invalid registered model name"),
        ({"step": "1", "registered_model": "MNIST-dev", "new_name": "Other"}, "not both"),
        ({"step": "1", "registered_model": "Nope"}, "Select a valid choice"),
        ({"step": "2", "registered_model": "MNIST-dev", "aliases": "latest"}, "managed automatically"),
        ({"step": "2", "registered_model": "MNIST-dev", "aliases": "v7"}, "version numbers"),
        ({"step": "2", "registered_model": "MNIST-dev", "aliases": "production"}, "protected"),
    ],
)
def test_bad_input_is_shown_in_the_dialog_and_writes_nothing(member, data, message):
    before = snapshot()
    r = member.post(URL, data, headers=HX)
    assert r.status_code == 200
    assertContains(r, message)
    assert snapshot() == before


def test_an_admin_may_set_a_protected_alias(client, demo):
    client.force_login(demo.admin)
    r = client.post(URL, {"step": "2", "registered_model": "MNIST-dev", "aliases": "production"}, headers=HX)
    assert r.status_code == 204
    assert Link.objects.get(registered_model__name="MNIST-dev", index=1).aliases.filter(name="production").exists()


def test_a_viewer_gets_403_and_an_outsider_404(client, demo):
    before = snapshot()
    client.force_login(demo.viewer)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"step": "2", "registered_model": "MNIST-dev"}).status_code == 403
    client.force_login(demo.outsider)
    assert client.get(URL).status_code == 404
    assert snapshot() == before


def test_without_javascript_linking_redirects_to_the_version(member):
    r = member.post(URL, {"step": "2", "registered_model": "MNIST-dev"})
    assert r.status_code == 302
    assert r["Location"] == V1
    assert RegisteredModel.objects.get(name="MNIST-dev").links.count() == 2


def test_an_invalid_new_name_shows_only_its_own_error(member):
    r = member.post(URL, {"step": "1", "new_name": "bad name"}, headers=HX)
    assertContains(r, "Invalid registered model name")
    assertNotContains(r, "Select a registered model, or name a new one.")
