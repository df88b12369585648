"""The real `wandb` SDK against the API-key throttle: it waits out Retry-After, then tries again."""

import hashlib
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from artifacts.models import ApiKey
from tests.wandb_api.helpers import sdk_env
from wandb_api.models import WrongKeys

pytestmark = pytest.mark.django_db(transaction=True)

RETRY_AFTER = 6
SCRIPT = """
import wandb
# Signing in checks the key with a GraphQL request.
wandb.Api()
print("signed in")
"""


def test_the_sdk_waits_the_retry_after_of_a_429_before_trying_again(live_server, team, settings, tmp_path):
    # Every wrong key from this address is answered 429 at once; the SDK's key only becomes right afterwards.
    settings.API_KEY_FAILURE_LIMIT = 0
    settings.API_KEY_COOLOFF_SECONDS = RETRY_AFTER
    secret = "5eed" * 10
    (tmp_path / "script.py").write_text(SCRIPT)
    sdk = subprocess.Popen(
        [sys.executable, "script.py"],
        cwd=tmp_path,
        env=sdk_env(live_server.url, secret, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not WrongKeys.objects.exists():
            assert sdk.poll() is None and time.monotonic() < deadline, "the SDK never sent its key"
            time.sleep(0.05)
        ApiKey.objects.create(
            user=team.member, name="late", prefix=secret[:8], key_hash=hashlib.sha256(secret.encode()).hexdigest()
        )
        out, err = sdk.communicate(timeout=120)
    finally:
        sdk.kill()
    assert sdk.returncode == 0, out + err
    assert out.strip().splitlines()[-1] == "signed in"
    refused, accepted = WrongKeys.objects.get(), ApiKey.objects.get(name="late")
    # One 429, then the retry no sooner than Retry-After (the SDK's own first backoff is about a second).
    assert refused.count == 1
    assert accepted.last_used_at - refused.window_start >= timedelta(seconds=RETRY_AFTER - 0.5)
