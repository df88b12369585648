"""Unlink version in the registry's version panel, and the confirmation that replaced hx-confirm."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from pytest_django.asserts import assertContains, assertNotContains

from artifacts.models import ArtifactVersion
from registry import services
from registry.models import Link, LinkAlias, RegisteredModel
from tests.factories import link, snapshot

HX = {"HX-Request": "true"}
RAC = "/registry/model/reviewco/Fine-Tuned-Review-Autocompletion"
MNIST = "/registry/model/reviewco/MNIST-dev"


def _latest(name: str = "Fine-Tuned-Review-Autocompletion") -> int:
    return LinkAlias.objects.get(registered_model__name=name, name="latest").link.index


@pytest.fixture
def member(client, demo):
    client.force_login(demo.member)
    return client


def test_the_registry_panel_offers_unlink_version_in_its_menu(member):
    r = member.get(f"{RAC}/v2")
    assertContains(r, 'aria-label="More actions for reviewco/model-registry/Fine-Tuned-Review-Autocompletion:v2"')
    assertContains(r, f'hx-get="{RAC}/v2/unlink"')
    # Deleting is the source version's business, in the Artifact browser.
    assertNotContains(r, ">Delete</a>")


def test_a_member_is_not_offered_unlink_on_a_protected_version_and_is_refused(member):
    r = member.get(f"{RAC}/v1")
    assertNotContains(r, f"{RAC}/v1/unlink")
    r = member.get(f"{RAC}/v1/unlink", headers=HX)
    assertContains(r, "only admins of reviewco may unlink it")
    assertNotContains(r, "Unlink version</button>")
    before = snapshot()
    assert member.post(f"{RAC}/v1/unlink", headers=HX).status_code == 403
    assert snapshot() == before


def test_unlinking_closes_the_panel_moves_latest_and_keeps_the_source(member):
    r = member.get(f"{RAC}/v2/unlink", headers=HX)
    assertContains(r, '<dialog id="confirm-dialog"')
    assertContains(r, "The source version reviewco/review-autocompletion/review-autocompletion-model:v2 stays")
    assertContains(r, "latest moves to the newest version left.")
    r = member.post(f"{RAC}/v2/unlink", headers=HX)
    assert r.status_code == 200
    assert (r["HX-Retarget"], r["HX-Reswap"], r["HX-Push-Url"]) == ("#detail-panel", "outerHTML", RAC)
    assert "Unlinked Fine-Tuned-Review-Autocompletion:v2" in json.loads(r["HX-Trigger"])["showMessage"]["message"]
    assert {"closeModal", "registryChanged"} <= set(json.loads(r["HX-Trigger-After-Settle"]))
    assertContains(r, '<aside id="detail-panel"')
    assert sorted(Link.objects.filter(registered_model__name__startswith="Fine").values_list("index", flat=True)) == [
        0,
        1,
    ]
    assert _latest() == 1
    assert ArtifactVersion.committed.filter(artifact__name="review-autocompletion-model", index=2).exists()


def test_the_versions_table_refreshes_from_the_model_and_keeps_the_open_row(member):
    r = member.get(f"{RAC}/v2")
    assertContains(r, f'hx-get="{RAC}?v=2&amp;page=1" hx-trigger="registryChanged from:body"')
    r = member.get(RAC, {"v": "2"}, headers={**HX, "HX-Target": "versions-table"})
    assertContains(r, '<tr data-selectable class="selected">')
    assertNotContains(r, "<html")


def test_an_unlinked_index_is_never_reused(member, demo):
    member.post(f"{RAC}/v2/unlink")
    source = ArtifactVersion.committed.get(artifact__name="review-autocompletion-model", index=3)
    assert link(source, "Fine-Tuned-Review-Autocompletion").index == 3
    assert _latest() == 3


def test_without_javascript_unlink_is_a_page_and_redirects_with_a_message(member):
    assertContains(member.get(f"{RAC}/v2/unlink"), "<html")
    r = member.post(f"{RAC}/v2/unlink")
    assert r.status_code == 302 and r["Location"] == RAC
    assertContains(member.get(RAC), "Unlinked Fine-Tuned-Review-Autocompletion:v2")


def test_admins_unlink_protected_versions(client, demo):
    client.force_login(demo.admin)
    assertContains(client.get(f"{RAC}/v1"), f"{RAC}/v1/unlink")
    assert client.post(f"{RAC}/v1/unlink", headers=HX).status_code == 200
    assert not LinkAlias.objects.filter(name="production").exists()


def test_viewers_get_403_and_outsiders_404_and_nothing_is_written(client, demo):
    before = snapshot()
    client.force_login(demo.viewer)
    assertNotContains(client.get(f"{RAC}/v2"), "/unlink")
    assert client.get(f"{RAC}/v2/unlink").status_code == 403
    assert client.post(f"{RAC}/v2/unlink").status_code == 403
    client.force_login(demo.outsider)
    assert client.get(f"{RAC}/v2/unlink").status_code == 404
    assert client.post(f"{RAC}/v2/unlink").status_code == 404
    assert snapshot() == before


def test_the_service_refuses_a_member_on_a_protected_version(demo):
    rm = RegisteredModel.objects.get(name="Fine-Tuned-Review-Autocompletion")
    before = snapshot()
    with pytest.raises(PermissionDenied):
        services.link_delete(link=rm.links.get(index=1), user=demo.member)
    assert snapshot() == before


def test_deleting_a_registered_model_asks_in_the_apps_own_dialog(client, demo):
    client.force_login(demo.admin)
    for page in ["/registry/model", MNIST]:
        r = client.get(page)
        assertNotContains(r, "hx-confirm")
        assertContains(r, f'hx-get="{MNIST}/delete" hx-target="#modal-root"')
    r = client.get(f"{MNIST}/delete", headers=HX)
    assertContains(r, '<dialog id="confirm-dialog"')
    assertContains(r, "its 1 version link, with their aliases. The source artifact versions stay")
    assertContains(r, "Delete registered model</button>")
    assert RegisteredModel.objects.filter(name="MNIST-dev").exists()
    assertContains(client.get(f"{MNIST}/delete"), "<html")


def test_members_are_not_shown_the_delete_confirmation(member):
    assert member.get(f"{MNIST}/delete", headers=HX).status_code == 403


def test_the_unlink_confirmation_names_the_aliases_that_go_with_it(client, demo):
    client.force_login(demo.admin)
    r = client.get(f"{RAC}/v1/unlink", headers=HX)
    assertContains(r, "Its aliases go with it: production.")
    assertNotContains(r, "latest moves")
