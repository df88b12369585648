"""Automations of an organization's registry (W&B's current Registry): its admins make them; links and aliases
in its collections fire them."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from artifacts.models import ArtifactVersion, Organization
from registry import services
from registry.models import Automation, AutomationEvent, Delivery, Webhook
from tests.webhooks import SECRET, Receiver, run_tasks

REGISTRY = "/orgs/reviewco-org/registry/model"


@pytest.fixture
def org(demo):
    """The demo's organization (alice, the team's admin, is its admin; bob and vera its members) with the
    collection mnist-classifier in its Model registry and mnist in its Dataset registry."""
    organization = Organization.objects.get(name="reviewco-org")
    demo.model = organization.registries.get(name="model")
    demo.dataset = organization.registries.get(name="dataset")
    demo.mnist = ArtifactVersion.committed.get(artifact__name="mnist_model", index=1)
    first = ArtifactVersion.committed.get(artifact__name="mnist_model", index=0)
    services.link_version(version=first, user=demo.admin, registry=demo.model, registered_model_name="mnist-classifier")
    dataset = ArtifactVersion.committed.get(artifact__name="mnist-dataset")
    services.link_version(version=dataset, user=demo.admin, registry=demo.dataset, registered_model_name="mnist")
    return demo


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def registry_hook(org, receiver):
    return services.webhook_create(registry=org.model, name="ci", url=receiver.url, secret=SECRET, user=org.admin)


def test_a_link_and_an_alias_in_a_collection_fire_the_registrys_automations(org, receiver, registry_hook):
    collection = org.model.collections.get(name="mnist-classifier")
    services.automation_create(
        registry=org.model,
        name="on-link",
        event=AutomationEvent.LINK_CREATED,
        webhook=registry_hook,
        payload_template='{"v": "${artifact_version_string}", "e": "${entity_name}", "p": "${project_name}"}',
        user=org.admin,
    )
    services.automation_create(
        registry=org.model,
        name="on-prod",
        event=AutomationEvent.ALIAS_ADDED,
        alias_pattern="production",
        registered_model=collection,
        webhook=registry_hook,
        payload_template='{"alias": "${alias}", "c": "${artifact_collection_name}"}',
        user=org.admin,
    )
    # The team's Model Registry is another scope: its links fire none of these.
    link = services.link_version(
        version=org.mnist, user=org.admin, registry=org.model, registered_model_name="mnist-classifier"
    ).link
    services.link_version(version=org.mnist, user=org.admin, entity=org.entity, registered_model_name="Team-Model")
    services.link_alias_set(link=link, name="production", user=org.admin)
    run_tasks()
    assert [r.json for r in receiver.requests] == [
        {"v": "wandb-registry-model/mnist-classifier:v1", "e": "reviewco-org", "p": "wandb-registry-model"},
        {"alias": "production", "c": "mnist-classifier"},
    ]
    assert all(r.signed_with(SECRET) for r in receiver.requests)


def test_the_registrys_admins_make_automations_on_its_pages(client, org, receiver):
    client.force_login(org.admin)
    r = client.get(f"{REGISTRY}/settings")
    assertContains(r, "Webhooks")
    r = client.post(
        f"{REGISTRY}/settings/webhooks/new", {"name": "ci", "url": receiver.url}, headers={"HX-Request": "true"}
    )
    assert r.status_code == 204 and Webhook.objects.get().registry == org.model
    r = client.get(f"{REGISTRY}/c/mnist-classifier")
    assertContains(r, f"{REGISTRY}/automations/new?model=mnist-classifier")
    r = client.post(
        f"{REGISTRY}/automations/new",
        {
            "name": "deploy",
            "event": AutomationEvent.LINK_CREATED,
            "webhook": "ci",
            "registered_model": "mnist-classifier",
            "payload_template": "{}",
        },
        headers={"HX-Request": "true"},
    )
    automation = Automation.objects.get()
    assert r["HX-Redirect"] == automation.get_absolute_url() == f"{REGISTRY}/automations/{automation.pk}"
    assertContains(client.get(f"{REGISTRY}/automations"), "deploy")
    r = client.post(f"{REGISTRY}/automations/{automation.pk}/test", headers={"HX-Request": "true"})
    assert r.status_code == 204
    run_tasks()
    assert len(receiver.requests) == 1 and Delivery.objects.get().is_test


@pytest.mark.parametrize("persona", ["member", "viewer", "outsider"])
def test_only_the_registrys_admins_see_its_automations(client, org, registry_hook, persona):
    automation = services.automation_create(
        registry=org.model,
        name="a",
        event=AutomationEvent.LINK_CREATED,
        webhook=registry_hook,
        payload_template="{}",
        user=org.admin,
    )
    services.registry_member_set(registry=org.model, user=org.member, role="member", actor=org.admin)
    client.force_login(getattr(org, persona))
    expected = 404 if persona == "outsider" else 403
    for url in [
        f"{REGISTRY}/automations",
        f"{REGISTRY}/automations/new",
        f"{REGISTRY}/settings/webhooks/new",
        automation.get_absolute_url(),
    ]:
        assert client.get(url).status_code == expected, url
    assert client.post(f"{REGISTRY}/automations/{automation.pk}/delete").status_code == expected
    assert Automation.objects.count() == 1
    if persona != "outsider":
        assertNotContains(client.get(f"{REGISTRY}/settings"), "Webhooks")
        assertNotContains(client.get(f"{REGISTRY}/c/mnist-classifier"), "Create automation")


def test_a_registry_automation_takes_only_the_registrys_webhooks_and_collections(org, registry_hook, receiver):
    team_hook = services.webhook_create(entity=org.entity, name="team", url=receiver.url, user=org.admin)
    with pytest.raises(Exception, match="not one of"):
        services.automation_create(
            registry=org.model,
            name="x",
            event=AutomationEvent.LINK_CREATED,
            webhook=team_hook,
            payload_template="{}",
            user=org.admin,
        )
    dataset = org.dataset.collections.get()
    with pytest.raises(Exception, match="is not in"):
        services.automation_create(
            registry=org.model,
            name="x",
            event=AutomationEvent.LINK_CREATED,
            webhook=registry_hook,
            registered_model=dataset,
            payload_template="{}",
            user=org.admin,
        )
    assert not Automation.objects.exists()
    assert reverse("registry:registry_automation_list", args=["reviewco-org", "model"]) == f"{REGISTRY}/automations"
