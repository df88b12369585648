"""registry_site/postgresql: parameters bound by the server, statements run often prepared there, bulk writes
batched to the protocol's limit; DATABASE_PREPARED=false turns it off. Run by `make test`'s PostgreSQL pass."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from artifacts.models import ApiKey, ArtifactReference, ArtifactVersion, RunTag
from artifacts.services import api_key_authenticate, api_key_create
from registry import queries as registry_queries
from tests.factories import log_version, make_run

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
def test_only_the_fixed_lookups_are_prepared_and_other_queries_are_planned_for_each_call(project):
    # Prepared, a statement may get one generic plan after five calls, made for a typical value: the model card of a
    # model with 100,000 links read its page with the plan made for models with ten (a sort of every link). Only
    # `Prepared` lookups (by key, or a version's few links) are prepared; PostgreSQL keeps its default plan choice.
    version = log_version(project)
    for _ in range(8):
        list(ArtifactVersion.objects.filter(artifact_id=version.artifact_id).order_by("-index")[:50])
        registry_queries._LINKS_OF_SOURCE(version.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "auto"
    assert any('FROM "registry_link"' in sql and '"source_id" = $1' in sql for sql in prepared), prepared
    assert not [sql for sql in prepared if '"artifact_id" = $1' in sql and "LIMIT 50" in sql], prepared


@on_postgres
def test_bulk_writes_are_batched_to_the_protocols_parameter_limit(project):
    run = make_run(project)
    tags = RunTag.objects.bulk_create(RunTag(run=run, name=f"t{i}") for i in range(30_000))
    assert RunTag.objects.filter(run=run).count() == 30_000
    # bulk_update counts ["pk", "pk", *fields]; bulk_create its fields.
    assert connection.ops.bulk_batch_size(["pk", "pk", "name"], tags) == (2**16 - 1) // 3
    assert connection.ops.bulk_batch_size([RunTag._meta.get_field("name")], tags) == 2**16 - 1


@on_postgres
def test_a_statement_with_more_parameters_than_the_protocol_carries_is_bound_on_the_client(project):
    version = log_version(project)
    paths = [f"refs/{i}.bin" for i in range(70_000)]
    ArtifactReference.objects.create(version=version, path=paths[-1], ref="s3://b/k", digest="d", size=1)
    assert ArtifactReference.objects.filter(version=version, path__in=paths).count() == 1
    with connection.cursor() as cursor:
        values = ", ".join(["(%s)"] * 70_000)
        cursor.execute(f"SELECT count(*), max(v) FROM (VALUES {values}) AS t(v)", [f"50% {i}" for i in range(70_000)])
        assert cursor.fetchone() == (70_000, "50% 9999")


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
