"""A person reading who moved which alias when, in a registered model's History tab, in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser import settled, sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RAC = "/registry/model/reviewco/Fine-Tuned-Review-Autocompletion"


def test_open_the_history_tab_and_filter_it_by_alias_and_kind(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto(RAC)
    page.get_by_role("link", name="History").click()
    expect(page).to_have_url(re.compile(f"{RAC}/history$"))
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    timeline = page.locator("#history-list li")
    expect(timeline.first).to_be_visible()
    settled(page)

    page.get_by_label("Alias").select_option("latest")
    expect(page).to_have_url(re.compile(r"/history\?alias=latest"))
    expect(page.locator("#history-list li").first).to_contain_text("latest")
    for text in page.locator("#history-list li").all_inner_texts():
        assert "latest" in text
    settled(page)

    page.get_by_label("Event").select_option("link.created")
    expect(page).to_have_url(re.compile(r"alias=latest&kind=link\.created"))
    expect(page.locator("#history-list")).to_contain_text("No matching events yet.")
    settled(page)

    page.get_by_label("Alias").select_option("")
    expect(page.locator("#history-list li").first).to_contain_text("linked")
    page.go_back()
    expect(page).to_have_url(re.compile(r"alias=latest&kind=link\.created"))


def test_a_version_panel_lists_its_events_and_leads_to_the_full_history(page, demo):
    sign_in(page, "bob", PASSWORD)
    page.goto(f"{RAC}/v0/version")
    events = page.locator("#version-events li")
    expect(events.first).to_be_visible()
    expect(page.locator("#version-events")).to_contain_text("linked")
    page.get_by_role("link", name="Full history").click()
    expect(page).to_have_url(re.compile(f"{RAC}/history$"))
    expect(page.get_by_role("heading", name="History")).to_be_visible()


def test_an_artifact_version_panel_lists_who_created_it(page, demo):
    from artifacts.models import ArtifactVersion

    version = ArtifactVersion.committed.select_related("artifact__project__entity").order_by("pk").first()
    sign_in(page, "bob", PASSWORD)
    page.goto(version.get_absolute_url())
    expect(page.locator("#version-events")).to_contain_text(f"created {version.artifact.name}:{version.label}")
