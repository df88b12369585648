"""W&B's Registry URLs lead to the same pages here."""

import pytest

RM = "/registry/model/reviewco/MNIST-dev"


@pytest.fixture
def member(client, demo):
    client.force_login(demo.member)
    return client


def test_the_registry_root_is_the_registry_app(member):
    r = member.get("/registry")
    assert r.status_code == 200
    assert r.templates[0].name == "registry/registry_home.html"
    assert member.get("/registry/")["Location"] == "/registry"


def test_a_legacy_deep_link_at_the_registry_root_still_reaches_the_model_card(member):
    r = member.get("/registry?selectionPath=reviewco%2Fmodel-registry%2FMNIST-dev&view=all-models", follow=True)
    assert r.redirect_chain[-1] == (RM, 302)


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ("selectionPath=reviewco%2Fmodel-registry%2FMNIST-dev&view=all-models", RM),
        ("selectionPath=reviewco/model-registry/MNIST-dev&view=versions", RM),
        ("selectionPath=reviewco%2Fmodel-registry%2FMNIST-dev&view=membership&version=v0", f"{RM}/v0"),
        ("selectionPath=reviewco%2Fmodel-registry%2FMNIST-dev&view=membership&version=latest", f"{RM}/v0"),
    ],
)
def test_wandb_legacy_deep_links_redirect_to_the_model_card_or_version(member, query, target):
    for path in ["/registry/model", "/reviewco/registry/model"]:
        r = member.get(f"{path}?{query}", follow=True)
        assert r.redirect_chain[-1] == (target, 302)
        assert r.status_code == 200


def test_the_team_scoped_registry_url_without_a_selection_is_the_list(member):
    r = member.get("/reviewco/registry/model")
    assert (r.status_code, r["Location"]) == (302, "/registry/model")


@pytest.mark.parametrize(
    "selection",
    [
        "reviewco/model-registry/Nope",
        "reviewco/mnist/MNIST-dev",
        "reviewco/model-registry",
        "Bad Name/model-registry/MNIST-dev",
    ],
)
def test_a_bad_or_unknown_selection_is_404(member, selection):
    r = member.get("/registry/model", {"selectionPath": selection}, follow=True)
    assert r.status_code == 404


def test_an_unknown_registry_alias_is_404(member):
    query = {"selectionPath": "reviewco/model-registry/MNIST-dev", "version": "nope"}
    assert member.get("/registry/model", query).status_code == 404


def test_an_outsider_following_a_deep_link_gets_404(client, demo):
    client.force_login(demo.outsider)
    query = {"selectionPath": "reviewco/model-registry/MNIST-dev", "version": "latest"}
    assert client.get("/registry/model", query).status_code == 404
    query["version"] = "v0"
    assert client.get("/registry/model", query, follow=True).status_code == 404


def test_the_wandb_overview_tab_of_a_registry_version_is_our_version_tab(member):
    r = member.get(f"{RM}/v0/overview")
    assert (r.status_code, r["Location"]) == (302, f"{RM}/v0/version")
