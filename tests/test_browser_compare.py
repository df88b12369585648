"""A person picking two versions in a Versions table and reading what changed, in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser import settled, sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACT = "/reviewco/review-autocompletion/artifacts/model/review-autocompletion-model"
RAC = "/registry/model/reviewco/Fine-Tuned-Review-Autocompletion"


def test_pick_two_versions_in_the_artifact_browser_and_read_the_compare_page(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto(ARTIFACT)
    versions = page.get_by_role("table", name="Versions")
    versions.get_by_role("checkbox", name="Compare v2").check()
    page.get_by_role("button", name="Compare selected").click()
    # One version is not enough: the form says so in place (htmx), the page stays.
    expect(page.get_by_role("alert")).to_have_text("Tick two different versions to compare.")
    expect(page).to_have_url(re.compile(f"{ARTIFACT}$"))
    versions.get_by_role("checkbox", name="Compare v0").check()
    page.get_by_role("button", name="Compare selected").click()

    expect(page).to_have_url(re.compile(rf"{ARTIFACT}/compare/v0\.\.\.v2$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("review-autocompletion-model: v0 → v2")
    facts = page.get_by_role("table", name="Versions")
    expect(facts.get_by_role("row", name=re.compile("^Version"))).to_contain_text(
        "reviewco/review-autocompletion/review-autocompletion-model:v2"
    )
    expect(facts.get_by_role("row", name=re.compile("^Files"))).to_contain_text("2")
    expect(facts.get_by_role("row", name=re.compile("^Linked To"))).to_contain_text(
        "reviewco/model-registry/Fine-Tuned-Review-Autocompletion:v2"
    )
    metadata = page.get_by_role("table", name="Metadata")
    expect(metadata.get_by_role("row", name=re.compile("^epoch"))).to_contain_text("changed")
    expect(metadata.get_by_role("row", name=re.compile("^eval"))).to_contain_text('{"loss": 2.04, "perplexity": 9}')
    files = page.get_by_role("table", name="Files")
    expect(files.get_by_role("row")).to_have_count(3)
    expect(files.get_by_role("row", name=re.compile("config.json"))).to_contain_text("changed")

    page.get_by_role("link", name=re.compile("^Unchanged")).click()
    expect(page).to_have_url(re.compile(r"/compare/v0\.\.\.v2\?status=unchanged$"))
    expect(page.locator("#compare-files")).to_contain_text("No unchanged files.")
    settled(page)
    page.get_by_role("link", name=re.compile("^Changed")).click()
    expect(page.get_by_role("table", name="Files").get_by_role("row")).to_have_count(3)
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?status=unchanged$"))
    expect(page.locator("#compare-files")).to_contain_text("No unchanged files.")

    page.get_by_role("link", name="Swap sides").click()
    expect(page).to_have_url(re.compile(rf"{ARTIFACT}/compare/v2\.\.\.v0$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("review-autocompletion-model: v2 → v0")


def test_pick_two_versions_of_a_registered_model(page, demo):
    sign_in(page, "vera", PASSWORD)
    page.goto(RAC)
    page.get_by_role("checkbox", name="Compare v1").check()
    page.get_by_role("checkbox", name="Compare v0").check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page).to_have_url(re.compile(rf"{RAC}/compare/v0\.\.\.v1$"))
    facts = page.get_by_role("table", name="Versions")
    expect(facts.get_by_role("row", name=re.compile("^Aliases"))).to_contain_text("production")
    expect(facts.get_by_role("row", name=re.compile("^Source Version"))).to_contain_text(
        "review-autocompletion-model:v1"
    )
    expect(page.get_by_role("table", name="Files")).to_contain_text("model.safetensors")
    page.get_by_role("link", name="Fine-Tuned-Review-Autocompletion", exact=True).click()
    expect(page).to_have_url(re.compile(f"{RAC}$"))
