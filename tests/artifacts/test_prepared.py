"""registry_site/prepared.py: the lookups every API request makes are built and compiled once, and answer
exactly as the ORM would."""

import base64

import pytest
from django.db import connection, transaction
from django.db.models.sql.compiler import SQLCompiler
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils.safestring import SafeString

from artifacts import permissions, queries, services
from artifacts.models import ApiKey, ArtifactVersion, Membership, VersionTag
from registry_site.prepared import Prepared, first
from tests.factories import link, log_version, make_run
from wandb_api import lookups

BY_PK = Prepared(lambda pk: ArtifactVersion.objects.select_related("artifact__project__entity").filter(pk=pk), int)
ROLES = Prepared(lambda user_id: Membership.objects.filter(user_id=user_id).order_by("entity_id"), int)
NAMED = Prepared(
    lambda name, user_id: ArtifactVersion.objects.filter(artifact__name=name, created_by_id=user_id), str, int
)


@pytest.fixture
def compiled(monkeypatch) -> list[str]:
    """Every SQL statement Django compiles from a query (not what the database runs)."""
    made: list[str] = []
    real = SQLCompiler.as_sql

    def as_sql(self, *args, **kwargs):
        sql, params = real(self, *args, **kwargs)
        made.append(sql)
        return sql, params

    monkeypatch.setattr(SQLCompiler, "as_sql", as_sql)
    return made


def test_rows_match_the_orms_with_their_related_objects(project, team):
    versions = [log_version(project, name) for name in ("mnist_model", "other_model")]
    for version in versions:
        (prepared,) = BY_PK(version.pk)
        assert prepared == version and prepared.artifact.name == version.artifact.name
        with CaptureQueriesContext(connection) as ctx:
            # Read with it, as select_related would.
            assert prepared.artifact.project.entity.name == "reviewco"
        assert len(ctx) == 0
    assert BY_PK(max(v.pk for v in versions) + 1) == []
    expected = list(Membership.objects.filter(user=team.admin).order_by("entity_id"))
    assert ROLES(team.admin.pk) == expected and expected
    assert NAMED("other_model", versions[1].created_by_id) == [versions[1]]
    assert NAMED(SafeString("other_model"), str(versions[1].created_by_id)) == [versions[1]]  # str subclass, text
    assert NAMED("other_model", versions[1].created_by_id + 1000) == []


def test_a_query_is_compiled_once_then_run_with_each_calls_arguments(project, compiled):
    one, two = log_version(project, "a"), log_version(project, "b")
    prepared = Prepared(lambda pk: ArtifactVersion.objects.filter(pk=pk), int)
    compiled.clear()
    assert prepared(one.pk) == [one]
    # Compiled at the first call (twice, with two sets of stand-ins, to check each argument's place), then never.
    assert len(compiled) == 2
    with CaptureQueriesContext(connection) as ctx:
        assert prepared(two.pk) == [two]
        assert prepared(str(one.pk)) == [one]  # as the ORM, a number given as text
    assert len(compiled) == 2, "compiled again"
    assert len(ctx) == 2


def test_the_lookups_of_an_api_request_are_prepared(client, project, team, compiled):
    version = log_version(project)
    link(version, aliases=["staging"])
    secret = services.api_key_create(user=team.member, name="ci")[1]
    fields = "id versionIndex aliases { alias artifactCollection { name } }"
    graphql = {"query": f"query ($id: ID!) {{ artifact(id: $id) {{ {fields} }} }}"}
    graphql["variables"] = {"id": base64.b64encode(f"Artifact:{version.pk}".encode()).decode()}
    auth = "Basic " + base64.b64encode(f"api:{secret}".encode()).decode()

    def ask():
        r = client.post("/graphql", graphql, content_type="application/json", headers={"Authorization": auth})
        answer = r.json()["data"]["artifact"]
        assert r.status_code == 200 and answer["versionIndex"] == 0, r.content
        aliases = {(a["artifactCollection"]["name"], a["alias"]) for a in answer["aliases"]}
        assert aliases == {
            ("mnist_model", "latest"),
            ("MNIST-dev", "v0"),
            ("MNIST-dev", "latest"),
            ("MNIST-dev", "staging"),
        }
        return list(compiled)

    ask()
    compiled.clear()
    made = ask()
    # The key, the user's roles, the version and its memberships were read, but none of them compiled again.
    for read in (
        "artifacts_apikey",
        "artifacts_membership",
        '"artifacts_artifactversion"."artifact_id"',
        'FROM "artifacts_artifactalias"',
        'FROM "registry_link"',
    ):
        assert not any(read in sql for sql in made), (read, made)


def test_none_is_run_through_the_orm_as_is_null(project):
    version = log_version(project)
    by_duplicate = Prepared(lambda pk: ArtifactVersion.objects.filter(duplicate_of_id=pk), int)
    assert by_duplicate(None) == [version]
    assert by_duplicate(version.pk) == []


def test_an_integer_no_column_holds_matches_nothing_without_asking_the_database(project):
    log_version(project)
    with CaptureQueriesContext(connection) as ctx:
        assert BY_PK(2**63) == [] and BY_PK(-(2**64)) == []
        assert first(BY_PK, 10**30) is None
    assert len(ctx) == 0


def test_a_lookup_that_changes_its_argument_cannot_be_prepared(project):
    log_version(project)
    containing = Prepared(lambda name: ArtifactVersion.objects.filter(artifact__name__contains=name), str)
    with pytest.raises(ValueError, match="does not reach the SQL unchanged"):
        containing("mnist")
    # The SQL depends on the value: found out by compiling with two sets of stand-ins.
    odd = Prepared(lambda n: ArtifactVersion.objects.filter(index=n if n % 2 else 0), int)
    with pytest.raises(ValueError, match="does not reach the SQL unchanged"):
        odd(3)
    with pytest.raises(TypeError):
        Prepared(lambda when: ArtifactVersion.objects.filter(created_at=when), object)
    with pytest.raises(TypeError):
        BY_PK(1, 2)


def test_api_keys_and_roles_read_through_it_answer_as_before(team):
    secret = services.api_key_create(user=team.member, name="ci")[1]
    assert services.api_key_authenticate(secret) == team.member
    assert services.api_key_authenticate(secret + "x") is None
    key = ApiKey.objects.get(user=team.member)
    services.api_key_revoke(key=key, user=team.member)
    assert services.api_key_authenticate(secret) is None
    assert permissions.role_in(team.member, team.entity) == "member"
    assert permissions.role_in(team.outsider, team.entity) is None
    assert queries.version_with_project(10**6) is None


@pytest.mark.django_db(transaction=True)
def test_a_lock_outside_a_transaction_is_refused_where_the_orm_refuses_it(project):
    version = log_version(project)
    query = ArtifactVersion.objects.select_for_update().filter(pk=version.pk)
    locked = Prepared(lambda pk: ArtifactVersion.objects.select_for_update().filter(pk=pk), int)
    with transaction.atomic():
        assert locked(version.pk) == list(query.all()) == [version]
    if connection.features.has_select_for_update:  # PostgreSQL
        for run in (lambda: list(query.all()), lambda: locked(version.pk)):
            with pytest.raises(TransactionManagementError, match="outside of a transaction"):
                run()
    else:  # SQLite takes no row locks: both read
        assert locked(version.pk) == list(query.all()) == [version]


def test_an_integer_column_takes_any_index_as_the_orm_does(project):
    versions = [log_version(project, content=f"v{i}".encode()) for i in range(2)]
    at = Prepared(
        lambda artifact_id, index: ArtifactVersion.objects.filter(artifact_id=artifact_id, index=index), int, int
    )
    artifact = versions[0].artifact_id
    assert at(artifact, 1) == [versions[1]] and at(artifact, 0) == [versions[0]]
    # Beyond a 32-bit column (PostgreSQL would refuse it): nothing, as the ORM answers.
    for index in (2**31, -(2**31) - 1, 2**40):
        assert at(artifact, index) == list(ArtifactVersion.objects.filter(artifact_id=artifact, index=index)) == []


def test_columns_are_converted_as_the_orm_does_with_converters_looked_up_once(project, monkeypatch):
    versions = [log_version(project, name, metadata={"lr": 0.1, "layers": [1, 2]}) for name in ("a", "b")]
    related = ("artifact__project",)
    expected = {v.pk: ArtifactVersion.objects.select_related(*related).get(pk=v.pk) for v in versions}
    prepared = Prepared(lambda pk: ArtifactVersion.objects.select_related(*related).filter(pk=pk), int)
    looked_up = []
    real = connection.ops.get_db_converters
    monkeypatch.setattr(connection.ops, "get_db_converters", lambda e: looked_up.append(e) or real(e))

    def values(version: ArtifactVersion) -> list:
        objects = (version, version.artifact, version.artifact.project)
        return [(f.name, getattr(o, f.attname)) for o in objects for f in o._meta.concrete_fields]

    lookups = []
    for version in versions * 2:
        before = len(looked_up)
        (row,) = prepared(version.pk)
        lookups.append(len(looked_up) - before)
        assert values(row) == values(expected[version.pk])
        assert row.metadata == {"lr": 0.1, "layers": [1, 2]} and row.created_at.tzinfo is not None
    assert lookups[0] > 0 and lookups[1:] == [0, 0, 0]


def test_logging_committing_and_linking_again_compile_only_the_reads_that_vary(project, team, compiled):
    """The SDK's log-and-link flow, through the same services: after a first round, its fixed reads (the version
    to commit, its files and references, the locked artifact, the stored blob, the run and registered model by
    name, the version's tags) run prepared."""
    run = make_run(project, run_id="trainer")

    def log_and_link(n: int) -> None:
        version = log_version(project, run=run, content=f"weights {n}".encode())
        VersionTag.objects.create(version=version, name="candidate")
        link(version)
        assert lookups.run_for_write(team.admin, "reviewco", project.name, "trainer") == run
        assert [t.name for t in queries.version_tags(version)] == ["candidate"]

    log_and_link(0)
    compiled.clear()
    log_and_link(1)
    # Still built per call: the alias reads of move_aliases (a list of names), and the test's own actor lookups.
    varying = (
        'FROM "artifacts_artifactalias"',
        'FROM "registry_linkalias"',
        'FROM "artifacts_membership"',
        "auth_user",
    )
    fixed = [sql for sql in compiled if sql.startswith("SELECT") and not any(v in sql for v in varying)]
    assert not fixed, fixed
