"""An automation fired by the official `wandb` SDK's link_model and link_artifact against the live server."""

import pytest

from registry.models import AutomationEvent, Delivery, DeliveryStatus
from tests.wandb_api.helpers import api_key
from tests.webhooks import SECRET, Receiver, make_automation, make_webhook, run_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_version_linked_by_the_sdk_reaches_the_receiver_signed(run_sdk, team, project, tmp_path, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    receiver = Receiver().start()
    try:
        hook = make_webhook(team.entity, team.admin, receiver.url)
        make_automation(team.entity, team.admin, hook, name="on-link")
        make_automation(
            team.entity,
            team.admin,
            hook,
            name="on-staging",
            event=AutomationEvent.ALIAS_ADDED,
            alias_pattern="staging",
            payload_template='{"alias": "${alias}", "version": "${artifact_version_string}"}',
        )
        (tmp_path / "model.pt").write_bytes(b"weights" * 100)
        done = run_sdk(
            f"""
            import wandb
            run = wandb.init(entity="reviewco", project="mnist")
            run.link_model(path="{tmp_path}/model.pt", registered_model_name="SDK-Model", aliases=["staging"])
            run.finish()
            """,
            key=api_key(team.member),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert receiver.requests == [], "the SDK's request never waits for a webhook"
        run_tasks()
        by_type = {r.json.get("event_type", "alias"): r for r in receiver.requests}
        assert len(receiver.requests) == 2 and all(r.signed_with(SECRET) for r in receiver.requests)
        linked = by_type["LINK_ARTIFACT"].json
        assert linked["artifact_version_string"] == "reviewco/model-registry/SDK-Model:v0"
        assert linked["event_author"] == "bob" and linked["entity_name"] == "reviewco"
        assert by_type["alias"].json == {"alias": "staging", "version": "reviewco/model-registry/SDK-Model:v0"}
        assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    finally:
        receiver.stop()
