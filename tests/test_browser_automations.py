"""A team admin adds a webhook, creates an automation from a model card, fires it with Test and with a real alias
change, and reads the delivery log, in Chromium; every dialog opens, closes and opens again."""

import re

import pytest
from playwright.sync_api import expect

from registry.models import Automation, Delivery, DeliveryStatus, Webhook
from tests.browser import sign_in
from tests.factories import PASSWORD
from tests.test_browser_dialogs import _close, _open
from tests.webhooks import Receiver, run_tasks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MODEL = "/registry/model/reviewco/MNIST-dev"


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    r = Receiver().start()
    yield r
    r.stop()


def _delivered(receiver: Receiver, count: int) -> None:
    """The worker's turn: in this process, as `manage.py run_worker` would."""
    run_tasks()
    receiver.wait_for(count)


def test_create_a_webhook_and_an_automation_fire_it_and_read_the_log(page, demo, receiver):
    sign_in(page, "alice", PASSWORD)
    page.goto("/registry/settings/reviewco")

    def new_webhook():
        page.get_by_role("link", name="New webhook").click()

    for how in ("cancel", "x", "escape"):
        _close(page, _open(page, new_webhook, "New webhook"), how)
    dialog = _open(page, new_webhook, "New webhook")
    dialog.get_by_role("button", name="Create webhook").click()
    expect(dialog.get_by_role("alert").first).to_contain_text("required")
    _close(page, dialog, "escape")
    dialog = _open(page, new_webhook, "New webhook")
    dialog.get_by_label("Name").fill("ci")
    dialog.get_by_label("URL").fill(receiver.url)
    dialog.get_by_label("Secret").fill("signing-secret")
    dialog.get_by_label("Headers").fill("X-Team: reviewco")
    dialog.get_by_role("button", name="Create webhook").click()
    expect(dialog).to_be_hidden()
    webhooks = page.locator("#webhooks")
    expect(webhooks.get_by_role("row", name=re.compile("ci"))).to_contain_text("Set (signs requests)")
    expect(webhooks).not_to_contain_text("signing-secret")
    assert Webhook.objects.get().secret == "signing-secret"
    _close(page, _open(page, new_webhook, "New webhook"), "cancel")

    page.goto(MODEL)

    def create_automation():
        page.get_by_role("link", name="Create automation").click()

    for how in ("cancel", "x", "escape"):
        _close(page, _open(page, create_automation, "New automation"), how)
    dialog = _open(page, create_automation, "New automation")
    expect(dialog.get_by_label("Registered model")).to_have_value("MNIST-dev")
    dialog.get_by_label("Name").fill("deploy")
    dialog.get_by_label("Event").select_option(label="An alias is added")
    dialog.get_by_label("Alias pattern").fill("prod(")
    dialog.get_by_role("button", name="Create automation").click()
    expect(dialog.get_by_role("alert").first).to_contain_text("not a valid regular expression")
    assert not Automation.objects.exists()
    dialog.get_by_label("Alias pattern").fill("production|staging")
    dialog.get_by_role("button", name="Create automation").click()
    expect(page).to_have_url(re.compile(r"/registry/settings/reviewco/automations/\d+$"))
    expect(page.get_by_role("heading", name="deploy")).to_be_visible()
    expect(page.locator("#delivery-log")).to_contain_text("Nothing sent yet")

    page.get_by_role("button", name="Test").click()
    log = page.locator("#delivery-log")
    expect(log.get_by_role("row", name=re.compile("Test payload"))).to_contain_text("Pending")
    _delivered(receiver, 1)
    # The log refreshes itself while a delivery is under way.
    expect(log.get_by_role("row", name=re.compile("Test payload"))).to_contain_text("Succeeded")
    expect(log).to_contain_text("200")
    assert receiver.requests[0].signed_with("signing-secret")
    assert receiver.requests[0].headers["X-Team"] == "reviewco"

    # A real alias change, made on the version's page.
    page.goto(f"{MODEL}/v0")
    page.get_by_label("Add an alias").click()
    page.get_by_label("New alias").fill("staging")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#version-aliases")).to_contain_text("staging")
    _delivered(receiver, 2)
    assert receiver.requests[1].json["alias"] == "staging"
    assert receiver.requests[1].json["artifact_version_string"] == "reviewco/model-registry/MNIST-dev:v0"

    page.goto("/registry/settings/reviewco/automations")
    page.get_by_role("link", name="deploy").click()
    row = page.locator("#delivery-log").get_by_role("row", name=re.compile("MNIST-dev:v0 staging by alice"))
    expect(row).to_contain_text("Succeeded")
    expect(row).to_contain_text("ADD_ARTIFACT_ALIAS")
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 2

    def delete_automation():
        page.get_by_role("link", name="Delete").click()

    for how in ("cancel", "x", "escape"):
        _close(page, _open(page, delete_automation, "Delete the automation deploy?"), how)
    dialog = _open(page, delete_automation, "Delete the automation deploy?")
    dialog.get_by_role("button", name="Delete automation").click()
    expect(page).to_have_url(re.compile(r"/registry/settings/reviewco/automations$"))
    expect(page.locator("#automation-table")).to_contain_text("No automations yet")

    # The webhook, unused now, goes too, from the team settings.
    page.goto("/registry/settings/reviewco")

    def delete_webhook():
        page.locator("#webhooks").get_by_role("link", name="Delete").click()

    for how in ("cancel", "x", "escape"):
        _close(page, _open(page, delete_webhook, "Delete the webhook ci?"), how)
    dialog = _open(page, delete_webhook, "Delete the webhook ci?")
    dialog.get_by_role("button", name="Delete webhook").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#webhooks")).to_contain_text("No webhooks yet")
    assert not Webhook.objects.exists()
