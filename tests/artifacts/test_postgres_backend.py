"""registry_site/postgresql: parameters bound by the server, statements run often prepared there, bulk writes
batched to the protocol's limit; DATABASE_PREPARED=false turns it off. Run by `make test`'s PostgreSQL pass."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from artifacts.models import ApiKey, RunTag
from artifacts.services import api_key_authenticate, api_key_create
from tests.factories import make_run

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend")


@on_postgres
def test_a_lookup_every_request_makes_is_prepared_by_postgresql(team):
    secret = api_key_create(user=team.member, name="ci")[1]
    for _ in range(8):
        assert api_key_authenticate(secret) == team.member
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(ApiKey._meta.db_table in sql for sql in prepared), prepared


@on_postgres
def test_bulk_writes_over_the_protocols_parameter_limit_are_batched(project):
    run = make_run(project)
    count = 25_000  # bulk_update sends three parameters a row: 75,000 in one statement would be refused.
    tags = RunTag.objects.bulk_create(RunTag(run=run, name=f"t{i}") for i in range(count))
    for tag in tags:
        tag.name = f"u{tag.name[1:]}"
    assert RunTag.objects.bulk_update(tags, ["name"]) == count
    assert RunTag.objects.filter(run=run, name__startswith="u").count() == count
    assert connection.ops.bulk_batch_size(["pk", "pk", "name"], tags) == (2**16 - 1) // 3


def _database_settings(**env: str) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "d = settings.DATABASES['default']; print(json.dumps([d['ENGINE'], d.get('OPTIONS', {})]))"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "registry_site.settings", "SECRET_KEY": "k" * 50, **env}
    out = subprocess.run(
        [sys.executable, "-c", code], env=environment, cwd=settings.BASE_DIR, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_database_prepared_turns_server_side_binding_on_and_off(tmp_path):
    url = "postgres://someone@127.0.0.1:5/registry"
    assert _database_settings(DATABASE_URL=url, DATA_DIR=str(tmp_path)) == [
        "registry_site.postgresql",
        {"server_side_binding": True, "prepare_threshold": 5},
    ]
    assert _database_settings(DATABASE_URL=url, DATA_DIR=str(tmp_path), DATABASE_PREPARED="false") == [
        "registry_site.postgresql",
        {},
    ]
