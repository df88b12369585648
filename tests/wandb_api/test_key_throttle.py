"""Wrong API keys per client address: 401 up to the limit, then 429 with Retry-After; right keys always pass."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.wandb_api.helpers import api_key, basic_auth
from wandb_api.models import WrongKeys

VIEWER = "{ viewer { username } }"
WRONG = "0" * 40


def _post(client, key: str | None, address: str = "10.0.0.1", **extra):
    headers = {"Authorization": basic_auth(key)} if key is not None else {}
    return client.post(
        "/graphql",
        data=json.dumps({"query": VIEWER}),
        content_type="application/json",
        headers=headers,
        REMOTE_ADDR=address,
        **extra,
    )


def _block(client, settings, address: str = "10.0.0.1"):
    for _ in range(settings.API_KEY_FAILURE_LIMIT):
        assert _post(client, WRONG, address).status_code == 401
    return _post(client, WRONG, address)


def test_too_many_wrong_keys_from_one_address_get_429_with_retry_after(client, team, settings):
    r = _block(client, settings)
    assert r.status_code == 429
    assert 0 < int(r["Retry-After"]) <= settings.API_KEY_COOLOFF_SECONDS
    assert r.json() == {
        "errors": [{"message": f"Too many wrong API keys from your address: try again in {r['Retry-After']} seconds."}]
    }
    assert b"\n" not in r.content


def test_a_right_key_still_works_from_another_address_and_from_the_blocked_one(client, team, settings):
    _block(client, settings, address="10.0.0.1")
    key = api_key(team.member)
    r = _post(client, key, address="10.0.0.2")
    assert r.status_code == 200
    assert r.json()["data"]["viewer"]["username"] == "bob"
    # A team behind one NAT shares an address: a right key is accepted there too.
    assert _post(client, key, address="10.0.0.1").status_code == 200
    assert _post(client, WRONG, address="10.0.0.1").status_code == 429


def test_a_right_key_never_reads_or_writes_the_count(client, team, settings):
    _block(client, settings, address="10.0.0.1")
    key = api_key(team.member)
    with CaptureQueriesContext(connection) as queries:
        assert _post(client, key, address="10.0.0.1").status_code == 200
    assert not [q for q in queries.captured_queries if WrongKeys._meta.db_table in q["sql"]]


def test_other_addresses_are_not_blocked(client, team, settings):
    _block(client, settings, address="10.0.0.1")
    assert _post(client, WRONG, address="10.0.0.2").status_code == 401


def test_the_block_ends_with_its_window(client, team, settings):
    _block(client, settings)
    WrongKeys.objects.update(window_start=timezone.now() - timedelta(seconds=settings.API_KEY_COOLOFF_SECONDS))
    assert _post(client, WRONG).status_code == 401
    assert WrongKeys.objects.get().count == 1


def test_a_request_without_a_key_is_not_counted(client, team, settings):
    for _ in range(settings.API_KEY_FAILURE_LIMIT + 2):
        assert _post(client, None).status_code == 401
    assert not WrongKeys.objects.exists()


def test_file_stream_counts_wrong_keys_too(client, team, settings):
    settings.API_KEY_FAILURE_LIMIT = 1
    url = "/files/reviewco/mnist/abc/file_stream"
    headers = {"Authorization": basic_auth(WRONG)}
    assert client.post(url, "{}", content_type="application/json", headers=headers).status_code == 401
    assert client.post(url, "{}", content_type="application/json", headers=headers).status_code == 429


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "6.6.6.6", "10.0.0.1"),
        (1, "6.6.6.6", "6.6.6.6"),
        (1, "1.1.1.1, 6.6.6.6", "6.6.6.6"),
        (2, "1.1.1.1, 6.6.6.6, 10.1.1.1", "6.6.6.6"),
        (1, "", "10.0.0.1"),
    ],
)
def test_behind_proxies_the_address_is_the_one_the_outermost_proxy_saw(
    client, team, settings, proxies, forwarded, expected
):
    settings.PROXY_COUNT = proxies
    settings.API_KEY_FAILURE_LIMIT = 0
    _post(client, WRONG, HTTP_X_FORWARDED_FOR=forwarded)
    assert WrongKeys.objects.get().address == expected
