"""The hostile audit's findings, one test each: no 5xx, no internal GraphQL error, nothing written on a refusal."""

import json

import pytest
from django.urls import reverse
from wandb.sdk.artifacts._generated import ARTIFACT_BY_ID_GQL, ARTIFACT_USED_BY_GQL, UPDATE_ARTIFACT_GQL

from artifacts import services
from artifacts.models import ApiKey, ArtifactVersion, Entity, Membership, Run
from registry import services as registry_services
from tests.factories import log_version, make_run, make_user, snapshot
from tests.hardening.helpers import post_json, stored_files
from tests.hardening.test_nesting import _manifest_url, _pending
from tests.wandb_api import documents
from tests.wandb_api.helpers import api_key, b64md5
from wandb_api import ids

STREAM = "/files/reviewco/mnist/streamer/file_stream"
SURROGATE = "\\ud800"  # as it goes on the wire, inside JSON text


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_in_a_summary_are_kept_as_strings(client, team, project, value):
    run = make_run(project, "streamer")
    files = {"wandb-summary.json": {"offset": 0, "content": ['{"loss": ' + value + ', "acc": 0.5}']}}
    response = post_json(client, STREAM, {"files": files}, api_key(team.member))
    assert response.status_code == 200
    run.refresh_from_db()
    expected = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity", "1e999": "Infinity"}[value]
    assert run.summary == {"loss": expected, "acc": 0.5}


def test_nan_in_an_uploaded_summary_is_kept(client, gql, team, project):
    run = make_run(project, "summary-run")
    variables = {"entity": "reviewco", "project": "mnist", "run": "summary-run", "files": ["wandb-summary.json"]}
    body = gql(documents.CREATE_RUN_FILES, variables, key=api_key(team.member))
    url = body["data"]["createRunFiles"]["files"][0]["uploadUrl"]
    assert client.put(url, data=b'{"loss": NaN}', content_type="application/octet-stream").status_code == 200
    run.refresh_from_db()
    assert run.summary == {"loss": "NaN"}


def test_the_sdk_logging_nan_finishes(run_sdk, team, project):
    process = run_sdk(
        """
        import wandb
        run = wandb.init(entity="reviewco", project="mnist", id="nanrun1")
        run.log({"loss": float("nan"), "best": float("inf")})
        run.finish()
        """,
        key=api_key(team.member),
        timeout=90,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    summary = Run.objects.get(run_id="nanrun1").summary
    assert (summary["loss"], summary["best"]) == ("NaN", "Infinity")


@pytest.mark.parametrize(
    "body",
    [
        '{"files": {"output.log": {"offset": 0, "content": ["hi ' + SURROGATE + '"]}}}',
        '{"files": {"wandb-summary.json": {"offset": 0, "content": ["{\\"\\' + SURROGATE + '\\": 1}"]}}}',
        '{"files": {"output.log": {"offset": 0, "content": ["nul \\u0000"]}}}',
    ],
    ids=["output-line", "summary-key", "nul"],
)
def test_text_no_database_can_hold_is_a_400_and_writes_nothing(client, team, project, body):
    run = make_run(project, "streamer")
    response = post_json(client, STREAM, body, api_key(team.member))
    assert response.status_code == 400
    assert "not valid Unicode" in response.json()["errors"][0]["message"]
    run.refresh_from_db()
    assert (run.summary, run.output_log) == ({}, "")


@pytest.mark.parametrize("field", ["config", "displayName", "jobType"])
def test_graphql_variables_with_unpaired_surrogates_are_a_400(client, team, project, field):
    value = '"{\\"a' + SURROGATE + '\\": {\\"value\\": 1}}"' if field == "config" else '"x' + SURROGATE + '"'
    variables = '{"entity": "reviewco", "project": "mnist", "name": "r1", "' + field + '": ' + value + "}"
    body = '{"query": ' + json.dumps(documents.UPSERT_BUCKET) + ', "variables": ' + variables + "}"
    before = snapshot()
    response = post_json(client, "/graphql", body, api_key(team.member))
    assert response.status_code == 400
    assert "not valid Unicode" in response.json()["errors"][0]["message"]
    assert snapshot()["Run"] == before["Run"]


def test_a_graphql_string_literal_with_a_nul_is_refused(client, team, project):
    """graphql-core refuses an unpaired surrogate escape itself; a NUL escape is refused by our rule."""
    query = (
        'mutation { upsertBucket(input: {entityName: "reviewco", modelName: "mnist", displayName: "x\\u0000"})'
        " { bucket { id } } }"
    )
    body = post_json(client, "/graphql", {"query": query}, api_key(team.member)).json()
    assert "not valid Unicode" in body["errors"][0]["message"]
    assert not Run.objects.exists()


def test_metadata_with_a_surrogate_key_never_reaches_a_page(gql, team, project):
    run = make_run(project)
    variables = {
        "input": {
            "entityName": "reviewco",
            "projectName": "mnist",
            "runName": run.run_id,
            "artifactCollectionName": "surr",
            "artifactTypeName": "model",
            "digest": "0" * 32,
            "metadata": '{"k\\ud800": "v"}',
        }
    }
    body = gql(documents.CREATE_ARTIFACT, variables, key=api_key(team.member))
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert not ArtifactVersion.objects.filter(artifact__name="surr").exists()


@pytest.mark.parametrize("value", [{"a": 1}, 5, ["x"]])
def test_json_string_inputs_sent_as_other_json_are_refused_clearly(gql, team, project, value):
    run = make_run(project)
    variables = {
        "input": {
            "entityName": "reviewco",
            "projectName": "mnist",
            "runName": run.run_id,
            "artifactCollectionName": "typed",
            "artifactTypeName": "model",
            "digest": "0" * 32,
            "metadata": value,
        }
    }
    body = gql(documents.CREATE_ARTIFACT, variables, key=api_key(team.member))
    assert "must be a string holding JSON" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_manifest_path_with_an_unpaired_surrogate_is_a_400(client, gql, team, project):
    key = api_key(team.member)
    version = _pending(project, team)
    url = _manifest_url(gql, key, version)
    response = client.put(url, data='{"contents": {"a' + SURROGATE + '": {"digest": "x"}}}', content_type="text/plain")
    assert response.status_code == 400
    assert b"not valid Unicode" in response.content


@pytest.mark.parametrize("key", ["\u00b2", "\u0668", "9" * 30])
def test_ids_that_are_not_plain_numbers_are_not_found(gql, team, project, key):
    api = api_key(team.member)
    body = gql(ARTIFACT_BY_ID_GQL, {"id": ids.encode("Artifact", key)}, key=api)
    assert body == {"data": {"artifact": None}}
    variables = {"id": ids.encode("Run", key), "entity": "reviewco", "project": "mnist"}
    body = gql("mutation($id: String) { upsertBucket(input: {id: $id}) { bucket { id } } }", variables, key=api)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("after", ["9" * 30, "\u00b2", "-5"])
def test_used_by_cursors_that_are_not_offsets_start_at_the_top(gql, team, project, after):
    version = log_version(project)
    variables = {"id": ids.encode("Artifact", version.pk), "after": after}
    body = gql(ARTIFACT_USED_BY_GQL, variables, key=api_key(team.member))
    assert "errors" not in body, body


@pytest.mark.parametrize("header", ["bytes=" + "1" * 4301 + "-", "bytes=0-" + "9" * 4301, "bytes=" + "1" * 19 + "-"])
def test_a_range_with_huge_numbers_is_ignored(client, team, project, header):
    log_version(project, files={"w.bin": b"weights"})
    client.force_login(team.member)
    r = client.get("/reviewco/mnist/artifacts/model/mnist_model/v0/files/w.bin", headers={"Range": header})
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == b"weights"


def test_a_search_of_a_thousand_words_answers(client, demo):
    client.force_login(demo.member)
    assert client.get("/registry/model", {"q": " ".join(["a"] * 1000)}).status_code == 200
    client.force_login(make_user("root", superuser=True))
    r = client.get(reverse("admin:registry_registeredmodel_changelist"), {"q": " ".join(["a"] * 1000)})
    assert r.status_code == 200


def test_descriptions_are_bounded_and_valid_text_in_every_way_in(gql, team, project):
    version = log_version(project)
    key = api_key(team.member)
    variables = {"input": {"artifactID": ids.encode("Artifact", version.pk), "description": "x" * 20_001}}
    body = gql(UPDATE_ARTIFACT_GQL, variables, key=key)
    assert "at most 20,000 are allowed" in body["errors"][0]["message"]
    version.refresh_from_db()
    assert version.description == ""
    rm = registry_services.registered_model_create(entity=team.entity, name="Carded", user=team.member)
    with pytest.raises(Exception, match="not valid text"):
        registry_services.registered_model_update(registered_model=rm, user=team.member, description="nul\x00")


def test_a_long_run_name_is_cut_to_fit_when_the_run_is_created(gql, team, project):
    variables = {"entity": "reviewco", "project": "mnist", "name": "long1", "displayName": "n" * 10_000}
    gql(documents.UPSERT_BUCKET, variables, key=api_key(team.member))
    run = Run.objects.get(run_id="long1")
    assert len(run.display_name) == Run._meta.get_field("display_name").max_length


def test_a_refused_upload_path_stores_no_bytes(client, gql, team, project):
    key = api_key(team.member)
    from artifacts.storage import manifest_digest

    version = services.version_create(
        run=make_run(project),
        user=team.member,
        name="tree",
        type="model",
        digest=manifest_digest({"m": b64md5(b"1"), "m/x": b64md5(b"2")}),
    ).version
    artifact_id = ids.encode("Artifact", version.pk)
    urls = {}
    for name, data in (("m", b"1"), ("m/x", b"2")):
        spec = {"artifactID": artifact_id, "name": name, "md5": b64md5(data)}
        body = gql(documents.CREATE_ARTIFACT_FILES, {"input": {"artifactFiles": [spec]}}, key=key)
        urls[name] = body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    assert client.put(urls["m"], data=b"1", content_type="application/octet-stream").status_code == 200
    before, files_before = snapshot(), stored_files()
    response = client.put(urls["m/x"], data=b"2", content_type="application/octet-stream")
    assert response.status_code == 400
    assert (snapshot(), stored_files()) == (before, files_before)


class TestAdmin:
    @pytest.fixture
    def root(self, client, team):
        client.force_login(make_user("root", superuser=True))
        return client

    def test_a_pending_version_is_read_only(self, root, team, project):
        pending = _pending(project, team)
        change = reverse("admin:artifacts_artifactversion_change", args=[pending.pk])
        assert root.get(change).status_code == 200
        assert root.post(change, {"description": "x"}).status_code == 403
        delete = reverse("admin:artifacts_artifactversion_delete", args=[pending.pk])
        assert root.post(delete, {"post": "yes"}).status_code == 403
        assert ArtifactVersion.objects.filter(pk=pending.pk).exists()

    @pytest.mark.parametrize("value", ["NaN", '[{"x": 1}]', '"production"', '["v3"]'])
    def test_protected_aliases_must_be_a_list_of_alias_names(self, root, team, value):
        url = reverse("admin:artifacts_entity_change", args=[team.entity.pk])
        data = {
            "name": "reviewco",
            "description": "",
            "protected_aliases": value,
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        }
        r = root.post(url, data)
        assert r.status_code == 200
        assert "errorlist" in r.content.decode()
        assert Entity.objects.get(pk=team.entity.pk).protected_aliases == ["production"]

    def test_a_membership_for_a_user_id_that_is_not_a_number_is_a_form_error(self, root, team):
        before = Membership.objects.count()
        r = root.post(reverse("admin:artifacts_membership_add"), {"user": "abc", "entity": "xyz", "role": "member"})
        assert r.status_code == 200
        assert Membership.objects.count() == before

    def test_an_action_on_ids_that_are_not_ids_is_a_message(self, root, team):
        services.api_key_create(user=team.member)
        r = root.post(
            reverse("admin:artifacts_apikey_changelist"), {"action": "revoke", "_selected_action": ["abc"]}, follow=True
        )
        assert r.status_code == 200
        assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1
