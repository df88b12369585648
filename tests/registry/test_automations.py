"""Automations: webhooks fired by links and aliases, delivered by the worker with signatures, retries and a log;
outbound safety; who may see them. A real receiver on 127.0.0.1, the worker's loop run in the test."""

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from artifacts.models import Event, EventKind
from registry import automations, services
from registry.models import (
    Automation,
    AutomationEvent,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Webhook,
)
from tests.factories import link, log_version, snapshot
from tests.webhooks import SECRET, Receiver, make_automation, make_webhook, run_tasks

HX = {"HX-Request": "true"}


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    settings.WEBHOOK_TIMEOUT = 5
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def hook(team, receiver):
    return make_webhook(team.entity, team.admin, receiver.url, headers={"Authorization": "Bearer ci-token"})


def _page(team) -> str:
    return reverse("registry:team_detail", args=[team.entity.name])


def test_a_version_linked_on_the_page_reaches_the_receiver_signed(client, team, project, receiver, hook):
    make_automation(team.entity, team.admin, hook)
    version = log_version(project)
    client.force_login(team.member)
    link(log_version(project, "other_model"), "Other")  # fires too: any registered model of the team
    receiver_count = len(receiver.requests)
    r = client.post(
        reverse("registry:link_new_version", args=["reviewco", "Other"]),
        {"project": "mnist", "artifact": "mnist_model", "version": str(version.index)},
        headers=HX,
    )
    assert r.status_code == 204
    assert receiver.requests == [] and receiver_count == 0, "nothing is sent inside the request"
    assert run_tasks() == 2
    sent = receiver.requests[-1]
    assert sent.signed_with(SECRET) and not sent.signed_with("another secret")
    assert sent.headers["Authorization"] == "Bearer ci-token"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json == {
        "event_type": "LINK_ARTIFACT",
        "event_author": "bob",
        "alias": "",
        "artifact_version": "v1",
        "artifact_version_string": "reviewco/model-registry/Other:v1",
        "artifact_collection_name": "Other",
        "project_name": "model-registry",
        "entity_name": "reviewco",
    }
    delivery = Delivery.objects.get(pk=sent.headers["X-Wandb-Delivery"])
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1 and delivery.response_code == 200
    assert delivery.event_id == Event.objects.get(kind=EventKind.LINK_CREATED, object_label="Other:v1").pk


def test_a_version_linked_by_the_command_reaches_the_receiver(team, project, receiver, hook, tmp_path: Path):
    make_automation(team.entity, team.admin, hook, payload_template='{"v": "${artifact_version_string}"}')
    model = tmp_path / "model.pt"
    model.write_bytes(b"weights")
    call_command(
        "link_model",
        "--entity=reviewco",
        "--project=mnist",
        f"--path={model}",
        "--registered-model-name=MNIST-dev",
        "--user=bob",
        stdout=StringIO(),
    )
    run_tasks()
    [sent] = receiver.requests
    assert sent.json == {"v": "reviewco/model-registry/MNIST-dev:v0"} and sent.signed_with(SECRET)


def test_an_alias_automation_fires_on_a_matching_alias_only(team, project, receiver, hook):
    make_automation(
        team.entity,
        team.admin,
        hook,
        event=AutomationEvent.ALIAS_ADDED,
        alias_pattern="production|prod-.*",
        payload_template='{"alias": "${alias}", "type": "${event_type}", "by": "${event_author}"}',
    )
    first = link(log_version(project))
    second = link(log_version(project))
    run_tasks()
    assert receiver.requests == [], "latest moved, but it does not match"
    services.link_alias_set(link=first, name="staging", user=team.member)
    services.link_alias_set(link=first, name="preprod", user=team.member)
    run_tasks()
    assert receiver.requests == []
    services.link_alias_set(link=first, name="production", user=team.admin)
    services.link_alias_set(link=second, name="production", user=team.admin)  # moved: added to v1
    services.link_alias_set(link=second, name="prod-eu", user=team.member)
    run_tasks()
    assert [r.json["alias"] for r in receiver.requests] == ["production", "production", "prod-eu"]
    assert {r.json["type"] for r in receiver.requests} == {"ADD_ARTIFACT_ALIAS"}
    assert receiver.requests[0].json["by"] == "alice"


def test_an_automation_scoped_to_a_model_ignores_the_others(team, project, receiver, hook):
    mine = link(log_version(project), "Mine").registered_model
    make_automation(
        team.entity, team.admin, hook, registered_model=mine, payload_template='{"m": "${artifact_collection_name}"}'
    )
    link(log_version(project), "Theirs")
    link(log_version(project), "Mine")
    run_tasks()
    assert [r.json for r in receiver.requests] == [{"m": "Mine"}]


def test_a_disabled_automation_sends_nothing(team, project, receiver, hook):
    automation = make_automation(team.entity, team.admin, hook)
    services.automation_enable(automation=automation, enabled=False, user=team.admin)
    link(log_version(project))
    assert Delivery.objects.count() == 0


def test_a_receiver_failing_twice_gets_three_attempts_and_the_log_shows_them(client, team, project, receiver, hook):
    receiver.answers = [500, 503, 200]
    automation = make_automation(team.entity, team.admin, hook)
    link(log_version(project))
    assert run_tasks() == 3
    assert len(receiver.requests) == 3
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 3
    assert list(delivery.attempt_log.values_list("number", "response_code")) == [(1, 500), (2, 503), (3, 200)]
    client.force_login(team.admin)
    r = client.get(automation.get_absolute_url())
    assertContains(r, "Succeeded")
    page = r.content.decode()
    assert page.index(">500 ") < page.index(">503 ") < page.index(">200 ")


def test_retries_wait_longer_each_time_and_stop_after_the_last_attempt(team, project, receiver, hook, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    assert [automations.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 30, 90, 270]
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answers = [500]
    make_automation(team.entity, team.admin, hook)
    link(log_version(project))
    run_tasks()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 2 and len(receiver.requests) == 2
    assert delivery.last_error == "ok" and delivery.response_code == 500


def test_a_retry_waits_for_its_time(team, project, receiver, hook, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60
    receiver.answers = [500, 200]
    make_automation(team.entity, team.admin, hook)
    link(log_version(project))
    run_tasks()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and len(receiver.requests) == 1
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=50)


def test_a_redirect_is_a_failed_attempt_and_never_followed(team, project, receiver, hook):
    elsewhere = Receiver().start()

    def redirect(handler, n):
        handler.send_response(302)
        handler.send_header("Location", elsewhere.url)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    receiver.behave = redirect
    try:
        make_automation(team.entity, team.admin, hook)
        link(log_version(project))
        run_tasks()
        assert elsewhere.requests == []
        attempt = DeliveryAttempt.objects.first()
        assert attempt.response_code == 302 and "not followed" in attempt.error
    finally:
        elsewhere.stop()


def test_a_private_url_is_refused_at_save_and_nothing_is_written(client, team, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    client.force_login(team.admin)
    before = snapshot(), Webhook.objects.count()
    url = reverse("registry:webhook_create", args=["reviewco"])
    for address in ["http://127.0.0.1:9/hook", "http://10.1.2.3/", "http://169.254.169.254/latest", "http://[::1]/"]:
        r = client.post(url, {"name": "ci", "url": address}, headers=HX)
        assert r.status_code == 200
        assertContains(r, "public addresses only")
    r = client.post(url, {"name": "ci", "url": "ftp://example.com/"}, headers=HX)
    assertContains(r, "http:// or https://")
    assert (snapshot(), Webhook.objects.count()) == before


def test_a_private_address_is_refused_at_delivery_too(team, project, receiver, hook, settings):
    make_automation(team.entity, team.admin, hook)
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    link(log_version(project))
    run_tasks()
    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "public addresses only" in delivery.last_error


def test_public_and_private_addresses_are_told_apart():
    assert automations._public("93.184.216.34") and automations._public("2606:4700::1111")
    for address in ["127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"]:
        assert not automations._public(address), address
    for address in ["::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "224.0.0.1", "ff02::1", "240.0.0.1"]:
        assert not automations._public(address), address


def test_a_bad_template_or_pattern_is_a_form_error_and_nothing_is_written(client, team, hook):
    client.force_login(team.admin)
    url = reverse("registry:automation_create", args=["reviewco"])
    data = {
        "name": "bad",
        "event": AutomationEvent.ALIAS_ADDED,
        "alias_pattern": "production",
        "webhook": "ci",
        "payload_template": automations.DEFAULT_TEMPLATE,
    }
    cases = {
        "payload_template": [
            '{"a": ${alias}}',
            '{"a": "${nope}"}',
            '{"a": "${alias}"',
            "not json",
            # Deeper than Python's parser recurses (it answered 500), and deeper than any stored JSON may be.
            "[" * 9_000 + "]" * 9_000,
            "[" * 100 + '"${alias}"' + "]" * 100,
        ],
        "alias_pattern": ["prod(", "", "(a+)+$", "(prod|p)*", "x" * 201],
    }
    messages = {
        '{"a": ${alias}}': "not valid JSON",
        '{"a": "${nope}"}': "Unknown payload variable ${nope}",
        '{"a": "${alias}"': "not valid JSON",
        "not json": "not valid JSON",
        "[" * 9_000 + "]" * 9_000: "nested more than 64 levels deep",
        "[" * 100 + '"${alias}"' + "]" * 100: "nested more than 64 levels deep",
        "prod(": "not a valid regular expression",
        "": "Give the pattern",
        # Patterns that can backtrack without end would run in the request that sets an alias.
        "(a+)+$": "repeats a part that itself repeats",
        "(prod|p)*": "repeats a part that itself repeats or has alternatives",
        "x" * 201: "at most 200 characters",
    }
    for field, values in cases.items():
        for value in values:
            r = client.post(url, {**data, field: value}, headers=HX)
            assert r.status_code == 200
            assertContains(r, messages[value])
    assert Automation.objects.count() == 0
    r = client.post(url, data, headers=HX)
    assert r.status_code == 200 and r["HX-Redirect"] == Automation.objects.get().get_absolute_url()


def test_substituted_values_are_escaped_for_json():
    template = '{"alias": "${alias}", "who": "${event_author}"}'
    rendered = automations.render(template, {"alias": 'a"b\\c\n', "event_author": "</script>"})
    assert json.loads(rendered) == {"alias": 'a"b\\c\n', "who": "</script>"}


def test_the_test_button_queues_a_sample_payload_that_the_worker_sends(client, team, receiver, hook):
    automation = make_automation(team.entity, team.admin, hook, event=AutomationEvent.ALIAS_ADDED, alias_pattern="x")
    client.force_login(team.admin)
    r = client.post(reverse("registry:automation_test", args=["reviewco", automation.pk]), headers=HX)
    assert r.status_code == 204 and "deliveriesChanged" in json.loads(r["HX-Trigger"])
    assert receiver.requests == []
    run_tasks()
    [sent] = receiver.requests
    assert sent.json["event_type"] == "ADD_ARTIFACT_ALIAS" and sent.json["alias"] == "production"
    r = client.get(automation.get_absolute_url(), headers={**HX, "HX-Target": "delivery-log"})
    assertContains(r, "Test")
    assertContains(r, "Succeeded")
    assertNotContains(r, "<html")


def test_the_secret_and_header_values_are_never_shown(client, team, hook):
    client.force_login(team.admin)
    r = client.get(_page(team))
    assertContains(r, hook.url)
    assertContains(r, "Authorization")
    assertNotContains(r, SECRET)
    assertNotContains(r, "ci-token")


def test_the_sweep_gives_back_a_delivery_whose_worker_died(team, project, receiver, hook, settings):
    make_automation(team.entity, team.admin, hook)
    link(log_version(project))
    delivery = Delivery.objects.get()
    # A worker claimed it, then died: its lease runs out.
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, attempts=1, lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert automations.delivery_sweep() == 1
    run_tasks()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2 and len(receiver.requests) == 1
    assert "worker stopped" in delivery.attempt_log.first().error


def test_the_sweep_gives_a_new_task_to_a_delivery_whose_task_was_lost(team, project, receiver, hook):
    from django_tasks_db.models import DBTaskResult

    make_automation(team.entity, team.admin, hook)
    link(log_version(project))
    delivery = Delivery.objects.get()
    long_ago = timezone.now() - timedelta(hours=1)
    # A worker took the task, then died before it claimed the delivery: the task stays RUNNING for ever.
    DBTaskResult.objects.filter(pk=delivery.task_id).update(status="RUNNING", started_at=long_ago)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=long_ago)
    assert run_tasks() == 0
    assert automations.delivery_sweep() == 1
    assert DBTaskResult.objects.get(pk=delivery.task_id).status == "FAILED"
    assert run_tasks() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and len(receiver.requests) == 1
    assert automations.delivery_sweep() == 0


def test_a_link_without_automations_costs_at_most_one_query(team, project):
    version = log_version(project)
    with CaptureQueriesContext(connection) as queries:
        link(version)
    automation_queries = [q["sql"] for q in queries if "registry_automation" in q["sql"]]
    assert len(automation_queries) == 1
    assert not [q for q in queries if "registry_delivery" in q["sql"] or "django_tasks" in q["sql"]]


def test_the_delivery_log_reads_a_constant_number_of_queries(client, team, project, receiver, hook):
    automation = make_automation(team.entity, team.admin, hook)
    client.force_login(team.admin)
    counts = []
    for _ in range(2):
        for _ in range(10):
            link(log_version(project))
        run_tasks()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(automation.get_absolute_url()).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("persona", ["member", "viewer", "outsider"])
def test_only_team_admins_see_or_make_automations_and_webhooks(client, team, project, hook, persona):
    automation = make_automation(team.entity, team.admin, hook)
    rm = link(log_version(project)).registered_model
    before = Automation.objects.count(), Webhook.objects.count(), Delivery.objects.count()
    client.force_login(getattr(team, persona))
    expected = 404 if persona == "outsider" else 403
    urls = [
        reverse("registry:automation_list", args=["reviewco"]),
        reverse("registry:automation_create", args=["reviewco"]),
        reverse("registry:webhook_create", args=["reviewco"]),
        automation.get_absolute_url(),
    ]
    urls.append(reverse("registry:automation_edit", args=["reviewco", automation.pk]))
    urls.append(reverse("registry:webhook_edit", args=["reviewco", hook.pk]))
    for url in urls:
        assert client.get(url).status_code == expected, url
    posts = [
        (reverse("registry:webhook_create", args=["reviewco"]), {"name": "x", "url": "http://127.0.0.1/"}),
        (reverse("registry:automation_test", args=["reviewco", automation.pk]), {}),
        (reverse("registry:automation_edit", args=["reviewco", automation.pk]), {"name": "renamed"}),
        (reverse("registry:webhook_edit", args=["reviewco", hook.pk]), {"name": "x", "url": "http://127.0.0.1/"}),
        (reverse("registry:automation_delete", args=["reviewco", automation.pk]), {}),
        (reverse("registry:webhook_delete", args=["reviewco", hook.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == expected, url
    assert (Automation.objects.count(), Webhook.objects.count(), Delivery.objects.count()) == before
    if persona != "outsider":
        assertNotContains(client.get(_page(team)), "Webhooks")
        assertNotContains(client.get(rm.get_absolute_url()), "Create automation")


def test_an_admin_creates_a_webhook_and_an_automation_from_the_pages(client, team, project, receiver):
    rm = link(log_version(project)).registered_model
    client.force_login(team.admin)
    r = client.get(rm.get_absolute_url())
    assertContains(r, "Create automation")
    r = client.post(
        reverse("registry:webhook_create", args=["reviewco"]),
        {"name": "ci", "url": receiver.url, "secret": SECRET, "headers": "X-Team: reviewco"},
        headers=HX,
    )
    assert r.status_code == 204 and "webhooksChanged" in json.loads(r["HX-Trigger"])
    assert Webhook.objects.get().headers == {"X-Team": "reviewco"}
    r = client.post(
        reverse("registry:automation_create", args=["reviewco"]) + f"?model={rm.name}",
        {
            "name": "deploy",
            "event": AutomationEvent.ALIAS_ADDED,
            "alias_pattern": "production",
            "registered_model": rm.name,
            "webhook": "ci",
            "payload_template": automations.DEFAULT_TEMPLATE,
        },
        headers=HX,
    )
    automation = Automation.objects.get()
    assert r["HX-Redirect"] == automation.get_absolute_url() and automation.registered_model == rm
    assertContains(client.get(reverse("registry:automation_list", args=["reviewco"])), "deploy")
    assertContains(client.get(rm.get_absolute_url()), "deploy")


def test_a_webhook_in_use_cannot_be_deleted(client, team, hook):
    make_automation(team.entity, team.admin, hook)
    client.force_login(team.admin)
    r = client.post(reverse("registry:webhook_delete", args=["reviewco", hook.pk]), headers=HX)
    assertContains(r, "used by notify-ci")
    assert Webhook.objects.count() == 1


@pytest.fixture
def tls_receiver(tmp_path, settings):
    """A receiver on https://localhost (127.0.0.1) with a self-signed certificate for `localhost`."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.fail("the TLS test needs the openssl command")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1"]
        + ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True,
        capture_output=True,
    )
    settings.WEBHOOK_ALLOW_PRIVATE = True
    r = Receiver().start()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    r.server.socket = context.wrap_socket(r.server.socket, server_side=True)
    r.cert = cert
    yield r
    r.stop()


def test_https_is_verified_for_the_urls_host_while_connecting_to_the_checked_address(team, tls_receiver, monkeypatch):
    url = tls_receiver.url.replace("http://127.0.0.1", "https://localhost")
    webhook = make_webhook(team.entity, team.admin, url)
    refused = automations.post(webhook, b"{}")
    assert refused.response_code is None and "CERTIFICATE_VERIFY_FAILED" in refused.error
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_receiver.cert))
    sent = automations.post(webhook, b'{"ok": true}')
    assert sent.ok and tls_receiver.requests[-1].json == {"ok": True}
    assert tls_receiver.requests[-1].headers["Host"].startswith("localhost:")


def test_the_log_pages_by_25_newest_first(client, team, hook):
    automation = make_automation(team.entity, team.admin, hook)
    now = timezone.now()
    Delivery.objects.bulk_create(
        Delivery(
            automation=automation,
            event_type="LINK_ARTIFACT",
            summary=f"M:v{i}",
            payload="{}",
            next_attempt_at=now,
            created_at=now,
        )
        for i in range(30)
    )
    client.force_login(team.admin)
    first = client.get(automation.get_absolute_url())
    assert first.content.decode().count("data-delivery=") == 25
    assertContains(first, "M:v29")
    assertContains(first, "Older")
    second = client.get(automation.get_absolute_url(), {"page": 2}, headers={**HX, "HX-Target": "delivery-log"})
    assert second.content.decode().count("data-delivery=") == 5
    assertContains(second, "M:v0")
    assertNotContains(second, "<html")
    # Pending deliveries on the page: the log polls.
    assertContains(second, "every 2s")


def test_the_pages_fragments_and_dialogs(client, team, hook):
    client.force_login(team.admin)
    r = client.get(_page(team), headers={**HX, "HX-Target": "webhooks"})
    assertContains(r, 'id="webhooks"')
    assertNotContains(r, "<html")
    url = reverse("registry:automation_list", args=["reviewco"])
    assertContains(client.get(url), "<html")
    r = client.get(url, headers={**HX, "HX-Target": "automation-table"})
    assertContains(r, 'id="automation-table"')
    assertNotContains(r, "<html")
    for name, dialog in [("automation_create", "new-automation-dialog"), ("webhook_create", "new-webhook-dialog")]:
        url = reverse(f"registry:{name}", args=["reviewco"])
        assertContains(client.get(url, headers=HX), f'id="{dialog}"')
        assertContains(client.get(url), "<html")
    r = client.post(reverse("registry:webhook_create", args=["reviewco"]), {"name": "ci", "url": hook.url}, headers=HX)
    assertContains(r, "already exists")
    assertContains(r, 'id="new-webhook-form"')
    assertNotContains(r, "<dialog")


def test_alias_patterns_that_backtrack_are_refused_and_plain_ones_accepted():
    from django.core.exceptions import ValidationError

    for pattern in ["production", "prod|staging", r"(prod|staging)-v\d+", "v[0-9]+", "release-.*", "champion?"]:
        automations.validate_alias_pattern(pattern)
    for pattern in ["(a+)+", "(a|ab)*", "(a*)*b", "((ab)*)+", "(?=(a+)+)x"]:
        with pytest.raises(ValidationError, match="repeats a part"):
            automations.validate_alias_pattern(pattern)


def test_an_admin_edits_an_automation_with_the_same_checks_as_creating_it(client, team, project, receiver, hook):
    rm = link(log_version(project)).registered_model
    automation = make_automation(team.entity, team.admin, hook)
    other = make_automation(
        team.entity, team.admin, hook, name="other", event=AutomationEvent.ALIAS_ADDED, alias_pattern="never"
    )
    client.force_login(team.admin)
    url = reverse("registry:automation_edit", args=["reviewco", automation.pk])
    r = client.get(url, headers=HX)
    assertContains(r, "Save automation")
    assertContains(r, f'value="{automation.name}"')
    data = {
        "name": "deploy",
        "event": AutomationEvent.ALIAS_ADDED,
        "alias_pattern": "production|staging",
        "registered_model": rm.name,
        "webhook": hook.name,
        "payload_template": '{"v": "${artifact_version_string}", "a": "${alias}"}',
    }
    before = list(Automation.objects.order_by("pk").values())
    for field, value, error in [
        ("name", other.name, "already exists"),
        ("alias_pattern", "(a+)+", "repeats a part"),
        ("payload_template", '{"v": ${alias}}', "not valid JSON"),
    ]:
        assertContains(client.post(url, {**data, field: value}, headers=HX), error)
    assert list(Automation.objects.order_by("pk").values()) == before
    r = client.post(url, data, headers=HX)
    assert r["HX-Redirect"] == automation.get_absolute_url()
    automation.refresh_from_db()
    assert (automation.name, automation.event, automation.alias_pattern, automation.registered_model) == (
        "deploy",
        AutomationEvent.ALIAS_ADDED,
        "production|staging",
        rm,
    )
    # It now fires on the new rule.
    version = log_version(project)
    link(version, rm.name, aliases=["staging"])
    run_tasks()
    assert [r.json for r in receiver.requests] == [{"v": f"reviewco/model-registry/{rm.name}:v1", "a": "staging"}]


def test_an_admin_edits_a_webhook_keeping_or_removing_its_secret_and_headers(client, team, project, receiver, hook):
    automation = make_automation(team.entity, team.admin, hook)
    other = make_webhook(team.entity, team.admin, receiver.url, name="other")
    client.force_login(team.admin)
    url = reverse("registry:webhook_edit", args=["reviewco", hook.pk])
    r = client.get(url, headers=HX)
    assertContains(r, "Save webhook")
    assertNotContains(r, SECRET)
    assertNotContains(r, "ci-token")
    before = list(Webhook.objects.order_by("pk").values())
    for data, error in [
        ({"name": other.name, "url": receiver.url}, "already exists"),
        ({"name": "ci", "url": "ftp://example.com/"}, "http:// or https://"),
        ({"name": "ci", "url": receiver.url, "headers": "Host: evil"}, "set by the server"),
    ]:
        assertContains(client.post(url, data, headers=HX), error)
    assert list(Webhook.objects.order_by("pk").values()) == before
    # Blank secret and headers keep them.
    r = client.post(url, {"name": "deploy-hook", "url": receiver.url + "/v2"}, headers=HX)
    assert r.status_code == 204 and "webhooksChanged" in json.loads(r["HX-Trigger"])
    hook.refresh_from_db()
    assert (hook.name, hook.url, hook.secret, hook.headers) == (
        "deploy-hook",
        receiver.url + "/v2",
        SECRET,
        {"Authorization": "Bearer ci-token"},
    )
    link(log_version(project))
    run_tasks()
    (request,) = receiver.requests
    assert request.path == "/hook/v2" and request.signed_with(SECRET)
    # Removing both.
    client.post(url, {"name": "deploy-hook", "url": receiver.url, "clear_secret": "on", "clear_headers": "on"})
    hook.refresh_from_db()
    assert (hook.secret, hook.headers) == ("", {})
    assert automation.webhook_id == hook.pk
