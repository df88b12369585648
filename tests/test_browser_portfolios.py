"""A person clicking through a project's collection of linked versions (what W&B's `link_artifact` makes in an
ordinary project) in Chromium: found from the Artifact browser, linked into with Link new version, and followed
back to the source."""

import re

import pytest
from playwright.sync_api import expect

from artifacts.models import ArtifactVersion, Project
from registry import services as registry_services
from registry.models import RegisteredModel
from tests.browser import settled, sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_projects_collection_is_found_linked_into_and_followed_back(page, demo):
    project = Project.objects.get(entity__name="reviewco", name="mnist")
    v0 = ArtifactVersion.committed.get(artifact__project=project, artifact__name="mnist_model", index=0)
    registry_services.link_version(
        version=v0, user=demo.admin, project=project, registered_model_name="curated", aliases=["candidate"]
    )
    sign_in(page, "bob", PASSWORD)
    page.goto("/reviewco/mnist/artifacts")
    page.get_by_role("link", name="curated", exact=True).click()
    expect(page).to_have_url(re.compile(r"/reviewco/mnist/portfolios/curated$"))
    expect(page.get_by_role("heading", name=re.compile("curated"))).to_be_visible()
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text("reviewco / mnist / Artifacts / curated")

    page.get_by_role("link", name="Link new version").first.click()
    dialog = page.get_by_role("dialog", name="Link new version")
    expect(dialog).to_be_visible()
    project_select, artifact, version = (dialog.get_by_label(n) for n in ("Project", "Model Artifact", "Version"))
    settled(page)
    project_select.select_option("mnist")
    settled(page)
    artifact.select_option("mnist_model")
    expect(version).to_be_enabled()
    settled(page)
    version.select_option(label="v1 (latest)")
    dialog.get_by_role("button", name="Link version").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Linked")).to_contain_text("curated:v1")
    assert list(RegisteredModel.objects.get(name="curated").links.values_list("index", flat=True)) == [1, 0]

    # The new version's panel points back at its source; the source points at the collection.
    page.get_by_role("link", name="v1", exact=True).first.click()
    expect(page.get_by_text("Source Version")).to_be_visible()
    # The panel's Source Version (the Versions table names the source of each row too).
    page.get_by_role("complementary", name="Version details").get_by_role("link", name="mnist_model:v1").click()
    expect(page).to_have_url(re.compile(r"/reviewco/mnist/artifacts/model/mnist_model/v1"))
    expect(page.get_by_role("link", name="mnist/curated:v1")).to_be_visible()
