"""Runs over the W&B protocol, request by request: the stream keeps history and ends runs, `project.runs` filters
and pages, and the history fields answer what `wandb.Api()` and a resuming run ask."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql import parse, validate
from wandb.apis.public.runs import LIGHTWEIGHT_RUN_FRAGMENT, RUN_FRAGMENT, _create_runs_query

from artifacts import services
from artifacts.models import ArtifactVersion, HistoryRow, Run, RunState
from tests.factories import link, log_version, make_project, make_run, snapshot
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, basic_auth
from wandb_api import ids
from wandb_api.schema import SCHEMA

# The documents wandb.apis.public.runs (0.31.0) builds at run time.
RUN_QUERY = """
query Run($project: String!, $entity: String!, $name: String!) {{
    project(name: $project, entityName: $entity) {{
        run(name: $name) {{
            projectId
            ...{name}
        }}
    }}
}}
{fragment}
"""
PUBLIC_DOCUMENTS = [
    _create_runs_query(lazy=True),
    _create_runs_query(lazy=False),
    RUN_QUERY.format(name="RunFragment", fragment=RUN_FRAGMENT),
    RUN_QUERY.format(name="LightweightRunFragment", fragment=LIGHTWEIGHT_RUN_FRAGMENT),
    """
    query RunSampledHistory($project: String!, $entity: String!, $name: String!, $specs: [JSONString!]!) {
        project(name: $project, entityName: $entity) {
            run(name: $name) { sampledHistory(specs: $specs) }
        }
    }
    """,
    *(
        f"""
        query RunFullHistory($project: String!, $entity: String!, $name: String!, $samples: Int) {{
            project(name: $project, entityName: $entity) {{
                run(name: $name) {{ {node}(samples: $samples) }}
            }}
        }}
        """
        for node in ("history", "events")
    ),
    """
    query RunHistoryKeys($project: String!, $entity: String!, $name: String!) {
        project(name: $project, entityName: $entity) {
            run(name: $name) { historyKeys }
        }
    }
    """,
]
RUNS = _create_runs_query(lazy=True)
FULL_RUN = RUN_QUERY.format(name="RunFragment", fragment=RUN_FRAGMENT)


@pytest.mark.parametrize("document", PUBLIC_DOCUMENTS)
def test_the_public_apis_run_documents_validate_against_the_schema(document):
    assert validate(SCHEMA, parse(document)) == []


def _stream(client, key: str, run_id: str, files: dict | None = None, **extra):
    return client.post(
        f"/files/reviewco/mnist/{run_id}/file_stream",
        data=json.dumps({"files": files or {}, **extra}),
        content_type="application/json",
        headers={"Authorization": basic_auth(key)},
    )


def _history(*rows: dict, offset: int = 0) -> dict:
    return {"wandb-history.jsonl": {"offset": offset, "content": [json.dumps(row) for row in rows]}}


def test_the_stream_keeps_history_and_its_last_request_ends_the_run(client, team, project):
    run = make_run(project, "streamer", state=RunState.RUNNING)
    key = api_key(team.member)
    assert (
        _stream(client, key, "streamer", _history({"_step": 0, "loss": 1}, {"_step": 1, "loss": 0.5})).status_code
        == 200
    )
    assert (
        _stream(client, key, "streamer", _history({"_step": 2, "loss": 0.2}, offset=2), complete=True).status_code
        == 200
    )
    assert list(HistoryRow.objects.filter(run=run).values_list("step", "data__loss")) == [(0, 1), (1, 0.5), (2, 0.2)]
    run.refresh_from_db()
    assert (run.state, run.history_line_count, run.history_last_step) == ("finished", 3, 2)

    make_run(project, "crasher", state=RunState.RUNNING)
    assert _stream(client, key, "crasher", complete=True, exitcode=1).status_code == 200
    assert Run.objects.get(run_id="crasher").state == "failed"


def test_a_heartbeat_marks_a_resumed_run_running_and_is_written_at_most_every_interval(client, team, project):
    run = make_run(project, "resumed")
    key = api_key(team.member)
    assert run.state == "finished"
    assert _stream(client, key, "resumed").status_code == 200
    run.refresh_from_db()
    first = run.heartbeat_at
    assert run.state == "running"
    assert _stream(client, key, "resumed").status_code == 200
    run.refresh_from_db()
    assert run.heartbeat_at == first
    Run.objects.filter(pk=run.pk).update(heartbeat_at=first - Run.HEARTBEAT_INTERVAL - timedelta(seconds=1))
    assert _stream(client, key, "resumed").status_code == 200
    run.refresh_from_db()
    assert run.heartbeat_at > first


@pytest.mark.parametrize(
    "extra",
    [
        {"files": {"wandb-history.jsonl": {"offset": 0, "content": ["{not json"]}}},
        {"files": {"wandb-history.jsonl": {"offset": 0, "content": ["[1, 2]"]}}},
        {"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step": 0}', '{"loss": 1}']}}},
        {"files": {"wandb-history.jsonl": {"offset": -1, "content": ['{"_step": 0}']}}},
        {"complete": "yes"},
        {"complete": True, "exitcode": "0"},
    ],
)
def test_a_stream_with_bad_history_or_exit_is_refused_and_writes_nothing(client, team, project, extra):
    run = make_run(project, "streamer", state=RunState.RUNNING)
    files = {
        "wandb-summary.json": {"offset": 0, "content": ['{"loss": 0.1}']},
        "output.log": {"offset": 0, "content": ["hello"]},
        **extra.pop("files", {}),
    }
    key = api_key(team.member)
    before = snapshot(), Run.objects.values().get(pk=run.pk)
    response = _stream(client, key, "streamer", files, **extra)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("Invalid file_stream body:")
    assert (snapshot(), Run.objects.values().get(pk=run.pk)) == before


def test_an_oversized_history_line_keeps_only_its_step(client, team, project):
    run = make_run(project, "streamer")
    row = {"_step": 0, "_runtime": 1.5, "table": "x" * 1_100_000}
    assert _stream(client, api_key(team.member), "streamer", _history(row, {"_step": 1, "loss": 2})).status_code == 200
    assert list(run.history.values_list("data", flat=True)) == [{"_step": 0, "_runtime": 1.5}, {"_step": 1, "loss": 2}]


def test_a_resuming_run_is_told_its_history_line_count_and_last_row(gql, client, team, project):
    key = api_key(team.member)
    make_run(project, "resumed")
    variables = {"project": "mnist", "entity": "reviewco", "name": "resumed"}
    bucket = gql(documents.RUN_RESUME_STATUS, variables, key=key)["data"]["model"]["bucket"]
    assert (bucket["historyLineCount"], bucket["historyTail"]) == (0, "[]")
    _stream(client, key, "resumed", _history({"_step": 0, "a": 1}, {"_step": 1, "a": 2}))
    bucket = gql(documents.RUN_RESUME_STATUS, variables, key=key)["data"]["model"]["bucket"]
    assert bucket["historyLineCount"] == 2
    assert [json.loads(line) for line in json.loads(bucket["historyTail"])] == [{"_step": 1, "a": 2}]


def test_the_history_fields_answer_as_the_sdk_reads_them(gql, client, team, project):
    key = api_key(team.member)
    run = make_run(project, "hist")
    _stream(client, key, "hist", _history(*({"_step": s, "loss": s / 10, "name": "a"} for s in range(5))))
    variables = {"entity": "reviewco", "project": "mnist", "run": "hist"}
    page = gql(documents.HISTORY_PAGE, variables | {"minStep": 1, "maxStep": 4, "pageSize": 3}, key=key)
    assert [json.loads(row)["_step"] for row in page["data"]["project"]["run"]["history"]] == [1, 2, 3]
    spec = json.dumps({"keys": ["loss", "_step"], "samples": 10, "minStep": 3, "maxStep": 4})
    sampled = gql(documents.SAMPLED_HISTORY_PAGE, variables | {"spec": spec}, key=key)
    assert sampled["data"]["project"]["run"]["sampledHistory"] == [
        [{"loss": 0.3, "_step": 3}, {"loss": 0.4, "_step": 4}]
    ]
    parquet = gql(documents.RUN_PARQUET_HISTORY, {**variables, "runName": "hist", "liveKeys": ["_step"]}, key=key)
    assert parquet["data"]["project"]["run"]["parquetHistory"] == {"parquetUrls": [], "liveData": [{"_step": 0}]}

    query = 'query { project(name: "mnist", entityName: "reviewco") { run(name: "hist") { %s } } }'
    got = gql(query % "historyKeys systemMetrics events(samples: 5)", key=key)["data"]["project"]["run"]
    assert got["historyKeys"] == {
        "keys": {
            "_step": {"typeCounts": [{"type": "number", "count": 5}]},
            "loss": {"typeCounts": [{"type": "number", "count": 5}]},
            "name": {"typeCounts": [{"type": "string", "count": 5}]},
        },
        "lastStep": 4,
    }
    assert (got["systemMetrics"], got["events"]) == ("{}", [])
    empty = make_run(project, "empty")
    got = gql(query.replace("hist", "empty") % "historyKeys history", key=key)["data"]["project"]["run"]
    assert got == {"historyKeys": {"keys": {}}, "history": []}
    assert empty.history.count() == 0 and run.history.count() == 5


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("history(samples: 10001)", "1 to 10,000"),
        ('sampledHistory(specs: ["{\\"samples\\": 5}"])', '"keys"'),
        ('sampledHistory(specs: ["{\\"keys\\": [\\"a\\"], \\"minStep\\": \\"x\\"}"])', '"minStep"'),
        ('sampledHistory(specs: ["[]"])', "JSON object"),
        ("sampledHistory(specs: [{}])".format(", ".join(['"{\\"keys\\": [\\"a\\"]}"'] * 11)), "at most 10"),
    ],
)
def test_bad_history_requests_are_graphql_errors(gql, team, project, field, message):
    make_run(project, "hist")
    query = 'query { project(name: "mnist", entityName: "reviewco") { run(name: "hist") { FIELD } } }'
    query = query.replace("FIELD", field)
    body = gql(query, key=api_key(team.member))
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in body["errors"][0]["message"]


def _runs(gql, key: str, filters: dict | None = None, **variables) -> dict:
    variables = {"project": "mnist", "entity": "reviewco", "filters": json.dumps(filters or {})} | variables
    return gql(RUNS, variables, key=key)


def test_runs_are_filtered_ordered_and_paged(gql, team, project):
    for i, name in enumerate(["a", "b", "c"]):
        make_run(project, name, config={"lr": i}, tags=["even"] if i % 2 == 0 else [])
    key = api_key(team.viewer)
    body = _runs(gql, key, {"tags": "even"}, order="-config.lr", perPage=1)["data"]["project"]
    assert body["runCount"] == 2
    assert [(e["node"]["name"], e["node"]["tags"]) for e in body["runs"]["edges"]] == [("c", ["even"])]
    assert body["runs"]["pageInfo"] == {"endCursor": "1", "hasNextPage": True}
    body = _runs(gql, key, {"tags": "even"}, order="-config.lr", perPage=1, cursor="1")["data"]["project"]
    assert [e["node"]["name"] for e in body["runs"]["edges"]] == ["a"]
    assert body["runs"]["pageInfo"] == {"endCursor": "2", "hasNextPage": False}


@pytest.mark.parametrize(
    ("filters", "order", "message"),
    [
        ({"display_name": {"$regex": "a"}}, "+created_at", "Unsupported run filter: the operator $regex"),
        ({"duration": {"$gt": 5}}, "+created_at", "Unsupported run filter: the field 'duration'"),
        ({}, "+duration", "Unsupported run filter: the order '+duration'"),
    ],
)
def test_unsupported_filters_and_orders_are_graphql_errors(gql, team, project, filters, order, message):
    make_run(project, "a")
    body = _runs(gql, api_key(team.viewer), filters, order=order)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["message"].startswith(message)


def test_filters_that_are_not_json_are_graphql_errors(gql, team, project):
    body = gql(RUNS, {"project": "mnist", "entity": "reviewco", "filters": "{nope"}, key=api_key(team.viewer))
    assert body["errors"][0]["message"] == "The filters is not valid JSON."


def test_an_outsider_sees_no_runs_of_a_private_project_and_every_run_of_a_public_one(gql, team, project):
    make_run(project, "private1")
    public = make_project(team.entity, "open", public=True)
    make_run(public, "public1")
    key = api_key(team.outsider)
    assert _runs(gql, key)["data"]["project"] is None
    body = gql(FULL_RUN, {"project": "mnist", "entity": "reviewco", "name": "private1"}, key=key)
    assert body["data"]["project"] is None
    body = _runs(gql, key, project="open")["data"]["project"]
    assert [e["node"]["name"] for e in body["runs"]["edges"]] == ["public1"]


def test_a_run_names_its_creator_but_shows_nothing_of_their_account(gql, team, project):
    make_run(project, "r1")
    query = """query { project(name: "mnist", entityName: "reviewco") { run(name: "r1") {
        user { username name email admin flags entity teams { edges { cursor } } organizations { id } } } } }"""
    user = gql(query, key=api_key(team.viewer))["data"]["project"]["run"]["user"]
    assert user == {
        "username": "alice",
        "name": "alice",
        "email": None,
        "admin": None,
        "flags": None,
        "entity": None,
        "teams": {"edges": []},
        "organizations": [],
    }


def test_a_page_of_runs_costs_the_same_queries_for_five_runs_and_for_fifty(gql, team, project):
    key = api_key(team.viewer)
    full = _create_runs_query(lazy=False)
    variables = {"project": "mnist", "entity": "reviewco", "filters": json.dumps({"tags": {"$nin": ["x"]}})}

    def grow(count: int) -> None:
        for _ in range(count):
            run = make_run(project, tags=["a", "b"], config={"lr": 1})
            services.run_history_write(run=run, user=team.member, offset=0, rows=[{"_step": 0, "loss": 1}])

    grow(5)
    gql(full, variables, key=key)
    with CaptureQueriesContext(connection) as small:
        assert len(gql(full, variables, key=key)["data"]["project"]["runs"]["edges"]) == 5
    grow(45)
    with CaptureQueriesContext(connection) as big:
        assert len(gql(full, variables, key=key)["data"]["project"]["runs"]["edges"]) == 50
    assert len(big.captured_queries) == len(small.captured_queries)


def test_upsert_bucket_sets_tags_replaces_them_and_keeps_them_when_none_are_sent(gql, team, project):
    key = api_key(team.member)
    base = {"entity": "reviewco", "project": "mnist", "name": "tagged"}
    gql(documents.UPSERT_BUCKET, base | {"tags": ["a", "b", "a"]}, key=key)
    run = Run.objects.get(run_id="tagged")
    assert (run.state, list(run.tags.values_list("name", flat=True))) == ("running", ["a", "b"])
    gql(documents.UPSERT_BUCKET, base | {"config": json.dumps({"lr": {"value": 1}})}, key=key)
    assert list(run.tags.values_list("name", flat=True)) == ["a", "b"]
    gql(documents.UPSERT_BUCKET, base | {"tags": ["c"]}, key=key)
    assert list(run.tags.values_list("name", flat=True)) == ["c"]
    gql(documents.UPSERT_BUCKET, base | {"tags": []}, key=key)
    assert not run.tags.exists()
    gql(documents.UPSERT_BUCKET, base | {"name": "waiting", "state": "pending"}, key=key)
    assert Run.objects.get(run_id="waiting").current_state == "pending"


@pytest.mark.parametrize(
    "variables",
    [
        {"tags": ["x" * 65]},
        {"tags": [""]},
        {"tags": [f"t{i}" for i in range(101)]},
        {"state": "crashed"},
        {"state": "sleeping"},
    ],
)
def test_bad_tags_or_states_are_refused_and_nothing_is_written(gql, team, project, variables):
    key = api_key(team.member)
    make_run(project, "existing")
    before = snapshot()
    body = gql(
        documents.UPSERT_BUCKET, {"entity": "reviewco", "project": "mnist", "name": "fresh"} | variables, key=key
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    if "tags" in variables:
        body = gql(
            documents.UPSERT_BUCKET, {"entity": "reviewco", "project": "mnist", "name": "existing"} | variables, key=key
        )
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert snapshot() == before


def test_a_viewer_cannot_stream_to_a_run(client, team, project):
    run = make_run(project, "streamer", state=RunState.RUNNING)
    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=1))
    response = _stream(client, api_key(team.viewer), "streamer", _history({"_step": 0}), complete=True)
    assert response.status_code == 403
    run.refresh_from_db()
    assert (run.state, run.history.count(), run.history_line_count) == ("running", 0, 0)


def test_run_ids_are_what_wandb_accepts_and_stay_one_segment_of_a_url(client, gql, team, project):
    key = api_key(team.member)
    variables = {"entity": "reviewco", "project": "mnist"}
    before = snapshot()
    for bad in (
        "",
        "a/b",
        "a\\b",
        "x?y",
        "50%",
        " lead",
        "trail ",
        "..",
        "tab\there",
        "del\x7f",
        "zero\u200bwidth",
        "a" * 129,
    ):
        body = gql(documents.UPSERT_BUCKET, variables | {"name": bad}, key=key)
        assert "Invalid run id" in body["errors"][0]["message"], bad
    assert snapshot() == before
    for run_id in ("random-run-id-=1234567-seed-0", "lr=0.1 seed=2", "é+[x]@~!"):
        created = gql(documents.UPSERT_BUCKET, variables | {"name": run_id}, key=key)["data"]["upsertBucket"]
        assert created["bucket"]["name"] == run_id
        run = Run.objects.get(project=project, run_id=run_id)
        client.force_login(team.viewer)
        response = client.get(run.get_absolute_url())
        assert response.status_code == 200
        assert run_id in response.content.decode()


# wandb.apis.public.runs.Run.delete (0.31.0) with delete_artifacts=True; without it the document leaves the
# variable out (and the SDK still sends it, as false).
DELETE_RUN = """
mutation DeleteRun($id: ID!, $deleteArtifacts: Boolean) {
    deleteRun(input: {id: $id, deleteArtifacts: $deleteArtifacts}) { clientMutationId }
}
"""
DELETE_RUN_ONLY = """
mutation DeleteRun($id: ID!) { deleteRun(input: {id: $id}) { clientMutationId } }
"""


def test_delete_run_deletes_the_run_and_with_delete_artifacts_the_versions_it_logged(gql, team, project):
    key = api_key(team.member)
    kept_by, gone_with = make_run(project, "first"), make_run(project, "second")
    kept = log_version(project, "cnn", content=b"kept", run=kept_by)
    log_version(project, "cnn", content=b"gone", run=gone_with)

    body = gql(DELETE_RUN_ONLY, {"id": ids.encode("Run", kept_by.pk), "deleteArtifacts": False}, key=key)
    assert body == {"data": {"deleteRun": {"clientMutationId": None}}}
    body = gql(DELETE_RUN, {"id": ids.encode("Run", gone_with.pk), "deleteArtifacts": True}, key=key)
    assert "errors" not in body

    assert not Run.objects.exists()
    assert list(ArtifactVersion.objects.all()) == [kept]
    assert [a.name for a in kept.aliases.all()] == ["latest"]


def test_delete_run_refuses_viewers_outsiders_unknown_ids_and_linked_versions_and_writes_nothing(gql, team, project):
    run = make_run(project, "doomed")
    link(log_version(project, "cnn", run=run))
    target = {"id": ids.encode("Run", run.pk), "deleteArtifacts": True}
    viewer, outsider, member = api_key(team.viewer), api_key(team.outsider), api_key(team.member)
    before = snapshot()
    for key, variables, code in (
        (viewer, target, "PERMISSION_ERROR"),
        (outsider, target, "NOT_FOUND"),
        (member, {"id": ids.encode("Run", run.pk + 1000)}, "NOT_FOUND"),
        (member, {"id": "not-an-id"}, "NOT_FOUND"),
        (member, target, "BAD_USER_INPUT"),
    ):
        body = gql(DELETE_RUN, variables, key=key)
        assert body["errors"][0]["extensions"]["code"] == code, body
    assert "linked to a registry" in body["errors"][0]["message"]
    assert snapshot() == before


def test_delete_run_of_a_deleted_run_succeeds_and_with_delete_artifacts_deletes_what_it_kept(gql, team, project):
    key = api_key(team.member)
    run = make_run(project, "twice")
    log_version(project, "cnn", run=run)
    variables = {"id": ids.encode("Run", run.pk)}

    assert "errors" not in gql(DELETE_RUN_ONLY, variables | {"deleteArtifacts": False}, key=key)
    assert ArtifactVersion.objects.count() == 1
    assert "errors" not in gql(DELETE_RUN, variables | {"deleteArtifacts": True}, key=key)
    assert not ArtifactVersion.objects.exists()
    assert gql(DELETE_RUN, variables, key=api_key(team.outsider))["errors"][0]["extensions"]["code"] == "NOT_FOUND"
