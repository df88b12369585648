"""What one SDK request costs the server, structurally: documents parsed once, reads write nothing, a link takes
the same number of queries however many versions and aliases are involved, and no write lock waits on the store."""

import json

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from wandb.sdk.artifacts._generated import ARTIFACT_MEMBERSHIP_BY_NAME_GQL, LINK_ARTIFACT_GQL
from wandb.sdk.internal._generated import SERVER_FEATURES_QUERY_GQL

from registry.models import Link, LinkAlias
from tests.factories import bulk_versions, link, log_version
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, basic_auth
from wandb_api import ids, schema

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@pytest.fixture
def counted(monkeypatch):
    """How often the schema module parsed and validated a document."""
    schema._prepare_cached.cache_clear()
    calls = {"parse": 0, "validate": 0}

    def counting(name, real):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(schema, "parse", counting("parse", schema.parse))
    monkeypatch.setattr(schema, "validate", counting("validate", schema.validate))
    yield calls
    schema._prepare_cached.cache_clear()


def test_each_document_is_parsed_and_validated_once_however_often_it_is_sent(gql, team, counted):
    key = api_key(team.member)
    for _ in range(5):
        assert gql(documents.VIEWER, key=key)["data"]["viewer"]["username"] == "bob"
        assert gql(SERVER_FEATURES_QUERY_GQL, key=key)["data"]["serverInfo"]["features"]
    assert counted == {"parse": 2, "validate": 2}


def test_a_cached_invalid_document_answers_its_errors_every_time(gql, team, counted):
    key = api_key(team.member)
    first = gql("{ viewer { nosuchfield } }", key=key)
    assert "nosuchfield" in first["errors"][0]["message"]
    assert gql("{ viewer { nosuchfield } }", key=key) == first
    assert counted["parse"] == 1


def test_a_document_longer_than_the_cached_size_is_still_answered_and_not_kept(gql, team, counted):
    key = api_key(team.member)
    query = "{ viewer { username } }" + " " * schema.CACHED_TEXT
    for _ in range(2):
        assert gql(query, key=key)["data"]["viewer"]["username"] == "bob"
    assert counted["parse"] == 2
    assert schema._prepare_cached.cache_info().currsize == 0


def test_reads_write_nothing_once_the_key_was_noted(gql, team, project):
    link(log_version(project, "mnist_model"), "MNIST-dev", aliases=["staging"])
    key = api_key(team.member)
    gql(documents.VIEWER, key=key)  # notes the key's use, at most once a minute
    reads = [
        (documents.VIEWER, None),
        (SERVER_FEATURES_QUERY_GQL, None),
        (
            ARTIFACT_MEMBERSHIP_BY_NAME_GQL,
            {"entity": "reviewco", "project": "model-registry", "name": "MNIST-dev:staging"},
        ),
    ]
    with CaptureQueriesContext(connection) as queries:
        for query, variables in reads:
            assert "errors" not in gql(query, variables, key=key)
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]
    assert writes == []


def _link_variables(version, aliases):
    return {
        "input": {
            "artifactID": ids.encode("Artifact", version.pk),
            "artifactPortfolioName": "MNIST-dev",
            "entityName": "reviewco",
            "projectName": "model-registry",
            "aliases": [{"alias": a, "artifactCollectionName": "MNIST-dev"} for a in aliases],
        }
    }


def _link_queries(gql, key, version, aliases) -> int:
    with CaptureQueriesContext(connection) as queries:
        result = gql(LINK_ARTIFACT_GQL, _link_variables(version, aliases), key=key)
    assert "errors" not in result, result
    return len(queries.captured_queries)


def test_a_link_costs_the_same_queries_at_any_size_and_with_any_number_of_aliases(gql, team, project):
    key = api_key(team.member)
    link(log_version(project, "mnist_model"), "MNIST-dev")
    gql(documents.VIEWER, key=key)
    small = _link_queries(gql, key, log_version(project, "mnist_model"), ["staging"])

    bulk_versions(project, "mnist_model", 300, link_to="MNIST-dev", start=2)
    many_aliases = ["staging", "candidate", "review", "best", "nightly", "v-next"]
    assert _link_queries(gql, key, log_version(project, "mnist_model"), many_aliases) == small

    newest = Link.objects.order_by("-index").first()
    assert newest.index == Link.objects.count() - 1
    assert set(newest.aliases.values_list("name", flat=True)) == {"latest", *many_aliases}
    # Each alias names one link: staging moved, latest moved.
    assert LinkAlias.objects.filter(name="staging").get().link == newest
    assert LinkAlias.objects.filter(name="latest").get().link == newest


class AskedInTransaction(FileSystemStorage):
    """Local files that note, each time the store is asked about a file, whether a transaction was open."""

    asked: list[bool] = []

    def size(self, name: str) -> int:
        self.asked.append(connection.in_atomic_block)
        return super().size(name)


@pytest.mark.django_db(transaction=True)
def test_the_store_is_asked_about_known_bytes_outside_any_transaction(client, settings, file_storage):
    from tests.factories import make_entity, make_project, make_run, make_user
    from tests.wandb_api.test_graphql import _create, _create_files

    member = make_user("bob")
    project = make_project(make_entity("reviewco", admin=[make_user("alice")], member=[member]), "mnist")
    log_version(project, "mnist_model", content=b"known bytes")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.AskedInTransaction", "OPTIONS": {"location": file_storage}},
    }
    AskedInTransaction.asked = []

    def gql(query, variables=None, *, key):
        response = client.post(
            "/graphql",
            data=json.dumps({"query": query, "variables": variables}),
            content_type="application/json",
            headers={"Authorization": basic_auth(key)},
        )
        return response.json()

    key, run = api_key(member), make_run(project)
    # The same content again (createArtifact checks the existing version's bytes), then the same bytes in a new
    # version (createArtifactFiles checks them before adding the file without an upload).
    assert _create(gql, key, run, b"known bytes")["data"]["createArtifact"]["artifact"]["state"] == "COMMITTED"
    created = _create(gql, key, run, b"known bytes", name="other_model")["data"]["createArtifact"]["artifact"]
    node = _create_files(gql, key, created["id"], b"known bytes")["data"]["createArtifactFiles"]["files"]
    assert node["edges"][0]["node"]["uploadUrl"] is None
    assert AskedInTransaction.asked and not any(AskedInTransaction.asked)


TRANSACTIONS = ("BEGIN", "SAVEPOINT")


def _statements(queries) -> list[str]:
    return [q["sql"].lstrip().upper() for q in queries.captured_queries]


def test_the_sdks_requests_that_only_check_take_no_transaction_and_new_rows_are_not_read_first(
    gql, client, team, project
):
    """CreateArtifactManifest (not incremental) and CreateArtifactFiles for bytes still to upload write nothing:
    they open no transaction, which on SQLite would take the write lock from every writer. A new version's client
    id, the uploaded file's row and a new blob are inserted without reading first (no update_or_create)."""
    from tests.factories import make_run
    from tests.wandb_api.test_graphql import _create, _create_files

    key = api_key(team.member)
    run = make_run(project)
    content = b"fresh weights"
    gql(documents.VIEWER, key=key)  # notes the key's use, at most once a minute
    with CaptureQueriesContext(connection) as created:
        version_id = _create(gql, key, run, content)["data"]["createArtifact"]["artifact"]["id"]
    assert not [s for s in _statements(created) if s.startswith("SELECT") and "VERSIONCLIENTID" in s.split("WHERE")[0]]
    manifest = {
        "artifactID": version_id,
        "baseArtifactID": None,
        "name": "wandb_manifest.json",
        "digest": "0" * 32,
        "entityName": "reviewco",
        "projectName": "mnist",
        "runName": run.run_id,
        "manifestType": "FULL",
        "includeUpload": True,
    }
    with CaptureQueriesContext(connection) as checked:
        assert "errors" not in gql(documents.CREATE_ARTIFACT_MANIFEST, manifest, key=key)
        files = _create_files(gql, key, version_id, content)
    statements = _statements(checked)
    assert not [s for s in statements if s.startswith(WRITES + TRANSACTIONS)], statements
    url = files["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    with CaptureQueriesContext(connection) as uploaded:
        assert client.put(url, data=content, content_type="application/octet-stream").status_code == 200
    statements = _statements(uploaded)
    # One transaction publishes the blob, one adds the file: each row inserted, not looked for first.
    assert len([s for s in statements if s.startswith("BEGIN")]) in (0, 2)  # PostgreSQL's BEGIN is not logged
    assert not [s for s in statements if s.startswith("SELECT") and '"ARTIFACTS_ARTIFACTFILE"."ID"' in s]
    # The blob by its SHA-256: known content is looked for, then its row locked while the bytes are published.
    assert len([s for s in statements if s.startswith("SELECT") and '"ARTIFACTS_BLOB"."SHA256" = ' in s]) == 2


def test_a_membership_read_without_the_versions_aliases_reads_only_the_links(gql, team, project):
    """`api.artifact("<entity>/model-registry/<name>:v0")` asks a membership's aliases, not (includeAliases is
    false) the version's in every collection: those are not read. LinkArtifact's answer asks both: read once."""
    link(log_version(project, "mnist_model"), "MNIST-dev", aliases=["staging"])
    key = api_key(team.member)
    gql(documents.VIEWER, key=key)
    variables = {"entity": "reviewco", "project": "model-registry", "name": "MNIST-dev:staging"}
    with CaptureQueriesContext(connection) as read:
        body = gql(ARTIFACT_MEMBERSHIP_BY_NAME_GQL, variables, key=key)
    membership = body["data"]["project"]["artifactCollectionMembership"]
    assert {a["alias"] for a in membership["aliases"]} == {"latest", "staging"}
    assert not [q["sql"] for q in read.captured_queries if 'FROM "artifacts_artifactalias"' in q["sql"]]

    with CaptureQueriesContext(connection) as linked:
        result = gql(LINK_ARTIFACT_GQL, _link_variables(log_version(project, "mnist_model"), ["best"]), key=key)
    assert "errors" not in result, result
    answer = result["data"]["result"]["artifactMembership"]
    assert {a["alias"] for a in answer["aliases"]} == {"latest", "best"}
    assert {a["alias"] for a in answer["artifact"]["aliases"]} >= {"latest", "best"}
    # Beside the link's own read of the aliases it moves (their ids), its answer reads link aliases once.
    answered = [q["sql"] for q in linked.captured_queries if q["sql"].startswith('SELECT "registry_linkalias"."id",')]
    assert len(answered) == 1, answered
