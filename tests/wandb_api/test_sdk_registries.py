"""W&B's current Registry with the real SDK (0.31.0, unmodified): linking into `wandb-registry-<name>` of an
organization, reading those links back with and without the organization's name, listing registries, their
collections and versions with filters, creating a registry, and the refusals (wrong type, a viewer, someone
outside the registry, another organization's version), which write nothing."""

import json

import pytest

from artifacts.models import Entity
from registry import services as registry_services
from registry.models import Link, RegisteredModel, Registry
from tests.factories import log_version, make_entity, make_project, make_user, snapshot
from tests.wandb_api.helpers import api_key
from wandb_api import ids

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 120


def _result(process) -> dict:
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


@pytest.fixture
def org(team):
    """Organization `acme` owning team `reviewco` (alice admin, so an organization admin; bob member; vera
    viewer), with the core registries Model (models only) and Dataset."""
    return registry_services.organization_create(name="acme", teams=[team.entity], user=team.admin)


def test_linking_into_a_registry_creates_the_collection_and_reads_back_with_and_without_the_org(
    run_sdk, team, project, org
):
    log_version(project, "mnist_model", files={"model.pt": b"weights"})
    out = _result(
        run_sdk(
            """
            import json, os, wandb
            api = wandb.Api()
            source = api.artifact("reviewco/mnist/mnist_model:v0")
            linked = source.link("wandb-registry-model/mnist-prod", aliases=["staging"])
            out = {"linked": [linked.entity, linked.project, linked.name, sorted(linked.aliases), linked.is_link]}
            out["qualified"] = linked.qualified_name
            out["collection"] = [linked.collection.name, linked.collection.entity]
            for path in ["wandb-registry-model/mnist-prod:v0", "acme/wandb-registry-model/mnist-prod:staging"]:
                art = api.artifact(path)
                root = art.download(root=os.path.join("dl", str(len(out))))
                out[path] = [
                    art.name, art.source_entity, art.source_project, art.source_name,
                    open(os.path.join(root, "model.pt"), "rb").read().decode(),
                ]
            print(json.dumps(out))
            """,
            key=api_key(team.admin),
            timeout=TIMEOUT,
        )
    )
    assert out["linked"] == ["acme", "wandb-registry-model", "mnist-prod:v0", ["latest", "staging"], True]
    assert out["qualified"] == "acme/wandb-registry-model/mnist-prod:v0"
    assert out["collection"] == ["mnist-prod", "acme"]
    source = ["reviewco", "mnist", "mnist_model:v0", "weights"]
    assert out["wandb-registry-model/mnist-prod:v0"] == ["mnist-prod:v0", *source]
    assert out["acme/wandb-registry-model/mnist-prod:staging"] == ["mnist-prod:staging", *source]
    collection = RegisteredModel.objects.get(name="mnist-prod")
    assert collection.registry == Registry.objects.get(organization=org, name="model")
    assert collection.entity == org.entity


def test_registries_collections_and_versions_list_with_filters(run_sdk, team, project, org):
    model = Registry.objects.get(organization=org, name="model")
    for i in range(3):
        version = log_version(project, f"model-{i}", content=f"w{i}".encode())
        registry_services.link_version(
            version=version, user=team.admin, registry=model, registered_model_name=f"coll-{i % 2}"
        )
    out = _result(
        run_sdk(
            """
            import json, wandb
            api = wandb.Api()
            out = {}
            out["all"] = sorted(r.name for r in api.registries())
            out["regex"] = [r.name for r in api.registries(filter={"name": {"$regex": "mod"}})]
            out["exact"] = [r.name for r in api.registries(organization="acme", filter={"name": "dataset"})]
            out["ordered"] = [r.name for r in api.registries(order="-name", per_page=1)]
            reg = api.registry("model")
            out["registry"] = [reg.name, reg.full_name, reg.organization, reg.entity, reg.visibility,
                               list(reg.artifact_types), reg.allow_all_artifact_types]
            out["collections"] = [[c.name, c.type] for c in reg.collections(order="name", per_page=1)]
            out["filtered"] = [c.name for c in reg.collections(filter={"name": "coll-1"})]
            out["versions"] = sorted([v.name, v.source_name, v.aliases] for v in reg.versions(per_page=2))
            out["by_alias"] = [v.name for v in reg.versions(filter={"alias": "latest"})]
            out["search"] = sorted(c.name for c in api.registries(filter={"name": "model"}).collections())
            print(json.dumps(out))
            """,
            key=api_key(team.member),
            timeout=TIMEOUT,
        )
    )
    assert out["all"] == ["dataset", "model"]
    assert out["regex"] == ["model"]
    assert out["exact"] == ["dataset"]
    assert out["ordered"] == ["model", "dataset"]
    assert out["registry"] == ["model", "wandb-registry-model", "acme", "acme", "organization", ["model"], False]
    assert out["collections"] == [["coll-0", "model"], ["coll-1", "model"]]
    assert out["filtered"] == ["coll-1"]
    assert out["versions"] == [
        ["coll-0:v0", "model-0:v0", []],
        ["coll-0:v1", "model-2:v0", ["latest"]],
        ["coll-1:v0", "model-1:v0", ["latest"]],
    ]
    assert sorted(out["by_alias"]) == ["coll-0:v1", "coll-1:v0"]
    assert out["search"] == ["coll-0", "coll-1"]


def test_an_organization_admin_creates_saves_renames_and_deletes_a_registry(run_sdk, team, org):
    out = _result(
        run_sdk(
            """
            import json, wandb
            api = wandb.Api()
            out = {}
            reg = api.create_registry("experiments", visibility="restricted", organization="acme",
                                      description="tries", artifact_types=["dataset"])
            out["created"] = [reg.name, reg.visibility, reg.description, list(reg.artifact_types),
                              reg.allow_all_artifact_types]
            try:
                api.create_registry("experiments", visibility="organization", organization="acme")
            except ValueError as e:
                out["duplicate"] = str(e)
            reg.artifact_types.append("model")
            reg.description = "more tries"
            reg.save()
            again = api.registry("experiments", "acme")
            out["saved"] = [again.description, sorted(again.artifact_types)]
            again.name = "trials"
            again.save()
            out["renamed"] = api.registry("trials", "acme").description
            try:
                api.registry("experiments", "acme").load()
            except ValueError as e:
                out["old"] = str(e)
            again.delete()
            try:
                again.delete()
            except ValueError as e:
                out["deleted_twice"] = str(e)
            out["left"] = sorted(r.name for r in api.registries("acme"))
            print(json.dumps(out))
            """,
            key=api_key(team.admin),
            timeout=TIMEOUT,
        )
    )
    assert out["created"] == ["experiments", "restricted", "tries", ["dataset"], False]
    assert "please use a different name" in out["duplicate"]
    assert out["saved"] == ["more tries", ["dataset", "model"]]
    assert out["renamed"] == "more tries"
    assert "Failed to load registry" in out["old"]
    assert "Failed to delete registry" in out["deleted_twice"]
    assert out["left"] == ["dataset", "model"]
    assert not Registry.objects.filter(name__in=["experiments", "trials"]).exists()


LINK = """
    import json, wandb
    api = wandb.Api()
    try:
        api.artifact("reviewco/mnist/{name}:v0").link("{target}")
        print(json.dumps({{"error": None}}))
    except Exception as e:
        print(json.dumps({{"error": f"{{type(e).__name__}}: {{e}}"}}))
"""


def test_refusals_surface_as_sdk_errors_and_write_nothing(run_sdk, team, project, org):
    log_version(project, "digits", type="dataset")
    log_version(project, "mnist_model")
    registry_services.registry_create(
        organization=org, name="secret", user=team.admin, visibility="restricted", artifact_types=["model"]
    )
    keys = {user: api_key(user) for user in (team.admin, team.member)}
    before = snapshot()

    def link(user, name, target):
        return _result(run_sdk(LINK.format(name=name, target=target), key=keys[user], timeout=TIMEOUT))["error"]

    # The Model registry accepts models only.
    error = link(team.admin, "digits", "wandb-registry-model/digits")
    assert "accepts model" in error
    # A viewer of the organization (org registries are visible to members as viewers).
    error = link(team.member, "mnist_model", "wandb-registry-model/mnist")
    assert "permission denied" in error
    # A restricted registry is invisible to a member who does not belong to it: not found.
    error = link(team.member, "mnist_model", "acme/wandb-registry-secret/mnist")
    assert "not found" in error.lower()
    assert snapshot() == before
    assert not Link.objects.exists()


def test_a_version_of_another_organization_is_refused_by_a_registry_admin(run_sdk, team, project, org):
    """Alice administers acme (so every acme registry) and also logs in a team of another organization."""
    other_team = make_entity("globex", admin=[team.admin])
    registry_services.organization_create(name="globex-org", teams=[other_team])
    resnet = log_version(make_project(other_team, "vision"), "resnet")
    key = api_key(team.admin)
    before = snapshot()
    out = _result(
        run_sdk(
            """
            import json, wandb
            api = wandb.Api()
            try:
                api.artifact("globex/vision/resnet:v0").link("acme/wandb-registry-model/resnet")
                print(json.dumps({"error": None}))
            except Exception as e:
                print(json.dumps({"error": str(e)}))
            """,
            key=key,
            timeout=TIMEOUT,
        )
    )
    assert out["error"] is not None
    assert snapshot() == before
    assert not resnet.links.exists()


def test_an_outsider_sees_no_organization(run_sdk, team, org):
    outsider = make_user("mallory")
    out = _result(
        run_sdk(
            """
            import json, wandb
            api = wandb.Api()
            out = {}
            for call in ("registries", "organization"):
                try:
                    getattr(api, call)(organization="acme") if call == "registries" else api.organization("acme")
                    out[call] = None
                except Exception as e:
                    out[call] = str(e)
            print(json.dumps(out))
            """,
            key=api_key(outsider),
            timeout=TIMEOUT,
        )
    )
    assert "not found" in out["organization"]


LINK_ARTIFACT = """mutation LinkArtifact($input: LinkArtifactInput!) {
  result: linkArtifact(input: $input) { versionIndex }
}"""


def test_the_server_refuses_to_link_another_organizations_version(gql, team, org):
    """What the SDK would send if it let the path through: the server says why, and writes nothing."""
    other_team = make_entity("globex", admin=[team.admin])
    registry_services.organization_create(name="globex-org", teams=[other_team])
    resnet = log_version(make_project(other_team, "vision"), "resnet")
    key = api_key(team.admin)
    before = snapshot()
    variables = {
        "input": {
            "artifactID": ids.encode("Artifact", resnet.pk),
            "artifactPortfolioName": "resnet",
            "entityName": "acme",
            "projectName": "wandb-registry-model",
            "aliases": [],
        }
    }
    body = gql(LINK_ARTIFACT, variables, key=key)
    assert "not a team of the organization 'acme'" in body["errors"][0]["message"]
    assert snapshot() == before


def test_an_unknown_or_invisible_organization_is_null_not_an_error(gql, team, org):
    query = "query($org: String!) { organization(name: $org) { id name orgEntity { name entityType } } }"
    data = gql(query, {"org": "acme"}, key=api_key(team.viewer))["data"]
    assert data["organization"] == {
        "id": ids.encode("Organization", org.pk),
        "name": "acme",
        "orgEntity": {"name": "acme", "entityType": "organization"},
    }
    assert gql(query, {"org": "acme"}, key=api_key(team.outsider)) == {"data": {"organization": None}}
    assert gql(query, {"org": "nope"}, key=api_key(team.viewer)) == {"data": {"organization": None}}


def test_a_team_and_a_personal_entity_resolve_their_organizations(gql, team, org):
    from artifacts import services

    services.entity_create(name="vera", owner=team.viewer)
    query = """query($entity: String!) { entity(name: $entity) {
      organization { name orgEntity { name } } user { organizations { name orgEntity { name } } } } }"""
    acme = {"name": "acme", "orgEntity": {"name": "acme"}}
    team_entity = gql(query, {"entity": "reviewco"}, key=api_key(team.viewer))["data"]["entity"]
    assert team_entity == {"organization": acme, "user": None}
    personal = gql(query, {"entity": "vera"}, key=api_key(team.viewer))["data"]["entity"]
    assert personal == {"organization": None, "user": {"organizations": [acme]}}


def test_a_run_uses_a_registry_version_and_an_admin_unlinks_it(run_sdk, team, project, org):
    version = log_version(project, "mnist_model", files={"model.pt": b"weights"})
    model = Registry.objects.get(organization=org, name="model")
    registry_services.link_version(version=version, user=team.admin, registry=model, registered_model_name="prod")
    out = _result(
        run_sdk(
            """
            import json, wandb
            out = {}
            with wandb.init(entity="reviewco", project="mnist") as run:
                art = run.use_artifact("wandb-registry-model/prod:latest")
                out["used"] = [art.name, art.entity, art.project]
            linked = wandb.Api().artifact("acme/wandb-registry-model/prod:v0")
            linked.unlink()
            out["exists"] = wandb.Api().artifact_exists("acme/wandb-registry-model/prod:v0")
            print(json.dumps(out))
            """,
            key=api_key(team.admin),
            timeout=TIMEOUT,
        )
    )
    assert out["used"] == ["prod:latest", "acme", "wandb-registry-model"]
    assert out["exists"] is False
    assert version.usages.count() == 1
    assert not Link.objects.exists()


def test_an_admin_adds_updates_and_removes_registry_members_with_the_sdk(run_sdk, team, org):
    registry_services.registry_create(organization=org, name="team-models", user=team.admin)
    make_entity("labs", admin=[make_user("lena")], viewer=[team.admin])
    # oscar is outside the organization, as the users W&B's own tests add are.
    out = _result(
        run_sdk(
            """
            import json, wandb
            api = wandb.Api()
            reg = api.registry("team-models", "acme")
            bob, oscar, labs = api.user("bob"), api.user("oscar"), api.team("labs")
            out = {}
            reg.add_members(bob, oscar, labs)
            roles = lambda: sorted([m.user.username, getattr(m.role, "value", m.role)] for m in reg.user_members())
            teams = lambda: [[m.team.name, getattr(m.role, "value", m.role)] for m in reg.team_members()]
            out["added"], out["teams"] = roles(), teams()
            reg.update_member(bob, "admin").update_member(oscar, "restricted_viewer").update_member(labs, "member")
            out["updated"], out["teams_updated"] = roles(), teams()
            out["team_members"] = [m["username"] for m in reg.team_members()[0].team.members]
            out["oscar_email"] = [m.user.email for m in reg.user_members() if m.user.username == "oscar"]
            reg.remove_members(bob, oscar, labs)
            reg.remove_members(bob, labs)
            out["removed"], out["teams_removed"] = roles(), teams()
            print(json.dumps(out))
            """,
            key=api_key(team.admin),
            timeout=TIMEOUT,
        )
    )
    assert out["added"] == [["bob", "viewer"], ["oscar", "viewer"]]
    assert out["teams"] == [["labs", "viewer"]]
    assert out["updated"] == [["bob", "admin"], ["oscar", "restricted_viewer"]]
    assert out["teams_updated"] == [["labs", "member"]]
    assert out["team_members"] == ["alice", "lena"]
    assert out["oscar_email"] == ["oscar@example.com"]
    assert out["removed"] == []
    assert out["teams_removed"] == []


def test_a_registry_admin_who_is_not_a_site_admin_sees_no_other_users_email_and_refusals_write_nothing(
    run_sdk, team, org
):
    registry = registry_services.registry_create(organization=org, name="team-models", user=team.admin)
    registry_services.registry_member_set(registry=registry, user=team.member, role="member")
    key = api_key(team.member)
    before = snapshot()
    out = _result(
        run_sdk(
            """
            import json, wandb
            api = wandb.Api()
            reg = api.registry("team-models", "acme")
            oscar = api.user("oscar")
            out = {"email": oscar.email}
            for name, call in [
                ("add", lambda: reg.add_members(oscar)),
                ("role", lambda: reg.update_member(oscar, "owner")),
                ("team", lambda: api.create_team("labs")),
            ]:
                try:
                    call()
                    out[name] = "ok"
                except Exception as exc:
                    out[name] = str(exc)
            print(json.dumps(out))
            """,
            key=key,
            timeout=TIMEOUT,
        )
    )
    assert out["email"] is None
    assert "Only admins of the team-models registry" in out["add"]
    assert "Unknown role 'owner'" in out["role"]
    assert "members" in out["team"]  # the SDK reads the team back after a refused createTeam
    assert snapshot() == before


def test_a_site_admin_creates_a_team_with_the_sdk(run_sdk, team, org):
    root = make_user("root", superuser=True)
    out = _result(
        run_sdk(
            """
            import json, wandb
            team = wandb.Api().create_team("labs", admin_username="bob")
            print(json.dumps({"name": team.name, "members": [[m.username, m.admin] for m in team.members]}))
            """,
            key=api_key(root),
            timeout=TIMEOUT,
        )
    )
    assert out == {"name": "labs", "members": [["bob", True]]}
    assert Entity.objects.get(name="labs").organization is None


def test_a_restricted_viewer_reads_a_registry_version_but_downloads_nothing(run_sdk, team, project, org):
    version = log_version(project, "mnist_model", files={"model.pt": b"weights only viewers read"})
    model = Registry.objects.get(organization=org, name="model")
    registry_services.link_version(version=version, user=team.admin, registry=model, registered_model_name="prod")
    oscar = make_user("lena")  # in the organization (the SDK resolves it), outside the source team
    registry_services.organization_team_add(organization=org, team=make_entity("labs", member=[oscar]))
    registry_services.registry_member_set(registry=model, user=oscar, role="restricted_viewer")
    script = """
        import json, wandb
        art = wandb.Api().artifact("acme/wandb-registry-model/prod:v0")
        out = {"name": art.name, "files": [f.name for f in art.files()]}
        try:
            art.download(root="dl")
            out["download"] = "ok"
        except Exception as exc:
            out["download"] = type(exc).__name__
        print(json.dumps(out))
        """
    out = _result(run_sdk(script, key=api_key(oscar), timeout=TIMEOUT))
    assert out["name"] == "prod:v0" and out["files"] == ["model.pt"]
    assert out["download"] != "ok"
    registry_services.registry_member_set(registry=model, user=oscar, role="viewer")
    assert _result(run_sdk(script, key=api_key(oscar), timeout=TIMEOUT))["download"] == "ok"


SET_DEFAULT_ENTITY = """mutation SetDefaultEntity($entity: String!) {
  updateUser(input: {defaultEntity: $entity}) { user { id } }
}"""


def test_a_user_chooses_the_default_entity_the_sdk_uses(run_sdk, gql, team, org):
    make_entity("aaa-team", admin=[team.member])
    key = api_key(team.member)
    read = "import wandb; print(wandb.Api().default_entity)"
    assert run_sdk(read, key=key).stdout.strip() == "aaa-team"  # the first of bob's entities by name
    assert gql(SET_DEFAULT_ENTITY, {"entity": "reviewco"}, key=key)["data"]["updateUser"]["user"]["id"]
    assert run_sdk(read, key=key).stdout.strip() == "reviewco"
    refused = gql(SET_DEFAULT_ENTITY, {"entity": "otherco"}, key=key)
    assert refused["errors"][0]["message"] == "not found: No entity 'otherco'."
    assert run_sdk(read, key=key).stdout.strip() == "reviewco"


def test_a_registry_member_outside_the_source_team_reads_a_link_and_sets_its_alias(run_sdk, team, project, org):
    version = log_version(project, "mnist_model", files={"model.pt": b"weights"})
    model = Registry.objects.get(organization=org, name="model")
    registry_services.link_version(version=version, user=team.admin, registry=model, registered_model_name="prod")
    lena = make_user("lena")
    labs = make_entity("labs", admin=[lena])
    registry_services.organization_team_add(organization=org, team=labs)
    registry_services.registry_member_set(registry=model, user=lena, role="member")
    out = _result(
        run_sdk(
            """
            import json, wandb
            art = wandb.Api().artifact("acme/wandb-registry-model/prod:v0")
            out = {"source": [art.source_entity, art.source_project], "name": art.name}
            art.aliases.append("candidate")
            art.save()
            out["aliases"] = sorted(wandb.Api().artifact("acme/wandb-registry-model/prod:v0").aliases)
            print(json.dumps(out))
            """,
            key=api_key(lena),
            timeout=TIMEOUT,
        )
    )
    assert out["source"] == ["", ""]
    assert out["name"] == "prod:v0"
    assert out["aliases"] == ["candidate", "latest"]


def test_a_team_admin_invites_and_removes_a_member_with_the_sdk(run_sdk, team, org):
    make_user("lena")
    out = _result(
        run_sdk(
            """
            import json, wandb
            api = wandb.Api()
            out = {"invited": api.team("reviewco").invite("lena")}
            team = api.team("reviewco")
            team.load(force=True)
            lena = [m for m in team.members if m.username == "lena"][0]
            out["deleted"] = lena.delete()
            print(json.dumps(out))
            """,
            key=api_key(team.admin),
            timeout=TIMEOUT,
        )
    )
    assert out == {"invited": True, "deleted": True}
    assert not team.entity.memberships.filter(user__username="lena").exists()


def test_a_registry_created_without_a_description_has_none_unlike_an_empty_one(run_sdk, team, org):
    out = _result(
        run_sdk(
            """
            import json, wandb
            api = wandb.Api()
            api.create_registry("plain", visibility="organization", organization="acme")
            api.create_registry("blank", visibility="organization", organization="acme", description="")
            plain = api.registry("plain", "acme")
            plain.save()
            print(json.dumps([plain.description, api.registry("plain", "acme").description,
                              api.registry("blank", "acme").description]))
            """,
            key=api_key(team.admin),
            timeout=TIMEOUT,
        )
    )
    assert out == [None, None, ""]
    assert dict(Registry.objects.filter(name__in=["plain", "blank"]).values_list("name", "description")) == {
        "plain": None,
        "blank": "",
    }
