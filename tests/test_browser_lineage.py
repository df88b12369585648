"""A person following lineage and W&B's URLs in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser import settled, sign_in
from tests.factories import PASSWORD, make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
V0 = "/reviewco/mnist/artifacts/model/mnist_model/v0"


def test_changing_depth_swaps_the_panel_and_clicking_nodes_follows_the_lineage(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto(f"{V0}/lineage")
    graph = page.get_by_role("group", name="Lineage of reviewco/mnist/mnist_model:v0,")
    expect(graph.get_by_role("link", name="Artifact version reviewco/mnist/mnist-dataset:v0")).to_be_visible()
    expect(graph.get_by_role("link", name=re.compile("^Run prepare-mnist"))).to_have_count(0)
    expect(page.get_by_role("link", name="Depth 2", exact=False)).to_have_attribute("aria-current", "true")
    # Wider than the panel, the graph opens scrolled to its center version.
    center = graph.get_by_role("link", name="Artifact version reviewco/mnist/mnist_model:v0")
    expect(center).to_have_attribute("aria-current", "page")
    expect(center).to_be_in_viewport(ratio=1)

    page.evaluate("window.noReload = true")
    page.get_by_role("link", name=re.compile("^Depth 3")).click()
    expect(page).to_have_url(re.compile(r"/mnist_model/v0/lineage\?depth=3$"))
    expect(graph.get_by_role("link", name=re.compile("^Run prepare-mnist"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Depth 3"))).to_have_attribute("aria-current", "true")
    expect(center).to_be_in_viewport(ratio=1)
    assert page.evaluate("window.noReload") is True
    settled(page)

    # Following a version node opens its own lineage, at the same depth.
    graph.get_by_role("link", name="Artifact version reviewco/mnist/mnist-dataset:v0").click()
    expect(page).to_have_url(re.compile(r"/artifacts/dataset/mnist-dataset/v0/lineage\?depth=3$"))
    graph = page.get_by_role("group", name="Lineage of reviewco/mnist/mnist-dataset:v0,")
    expect(graph.get_by_role("link", name="Registry version MNIST-dev:v0")).to_have_count(0)
    expect(graph.get_by_role("link", name=re.compile("^Run evaluate-cnn"))).to_be_visible()

    # A run node opens the run.
    graph.get_by_role("link", name=re.compile("^Run train-cnn")).click()
    expect(page).to_have_url(re.compile("/reviewco/mnist/runs/8adpd2kp$"))
    expect(page.get_by_role("heading", name="train-cnn")).to_be_visible()

    # A registry node opens the registry version.
    page.goto(f"{V0}/lineage")
    page.get_by_role("link", name="Registry version MNIST-dev:v0").click()
    expect(page).to_have_url(re.compile("/registry/model/reviewco/MNIST-dev/v0$"))


def test_depth_links_work_without_javascript(browser, live_server, demo):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, "bob", PASSWORD)
    page.goto(f"{V0}/lineage")
    page.get_by_role("link", name=re.compile("^Depth 3")).click()
    expect(page).to_have_url(re.compile(r"\?depth=3$"))
    expect(page.get_by_role("link", name=re.compile("^Run prepare-mnist"))).to_be_visible()
    context.close()


def test_an_alias_url_opens_that_version(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto("/reviewco/mnist/artifacts/model/mnist_model/latest")
    expect(page).to_have_url(re.compile("/mnist_model/v1$"))
    expect(page.locator("#detail-panel h2.full-name")).to_have_text("reviewco/mnist/mnist_model:v1")
    page.goto("/reviewco/mnist/artifacts/model/mnist_model/latest/overview")
    expect(page).to_have_url(re.compile("/mnist_model/v1$"))
    expect(page.get_by_role("heading", name="Version overview")).to_be_visible()


def test_the_entity_page_and_the_runs_page(page, demo):
    project = demo.entity.projects.get(name="mnist")
    for i in range(50):
        make_run(project, f"bulk{i:04}")
    sign_in(page, "bob", PASSWORD)
    page.goto("/reviewco")
    expect(page.get_by_role("heading", name="reviewco")).to_be_visible()
    projects = page.get_by_role("table")
    expect(projects.get_by_role("link", name="review-autocompletion")).to_be_visible()
    projects.get_by_role("link", name="mnist", exact=True).click()
    expect(page).to_have_url(re.compile("/reviewco/mnist$"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()
    expect(page).to_have_url(re.compile("/reviewco/mnist/runs$"))
    rows = page.locator("#run-table tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("bulk0049")
    page.evaluate("window.noReload = true")
    page.get_by_role("link", name="Next ›").click()
    expect(page).to_have_url(re.compile(r"/reviewco/mnist/runs\?page=2$"))
    expect(rows).to_have_count(3)
    assert page.evaluate("window.noReload") is True
    page.get_by_role("link", name="8adpd2kp").click()
    expect(page).to_have_url(re.compile("/reviewco/mnist/runs/8adpd2kp$"))
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="reviewco").click()
    expect(page).to_have_url(re.compile("/reviewco$"))
