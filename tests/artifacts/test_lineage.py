import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains

from artifacts import services
from artifacts.queries import LINEAGE_LAYER_CAP
from tests.factories import link, log_version, make_entity, make_project, make_run, make_user

HX = {"HX-Request": "true"}
V0 = "/reviewco/mnist/artifacts/model/mnist_model/v0"


@pytest.fixture
def member(client, demo):
    client.force_login(demo.member)
    return client


def columns(response) -> list[list[str]]:
    return [[n.label for n in col] for col in response.context["graph"]["columns"]]


def test_the_default_depth_is_two_hops_each_way_with_registry_links(member):
    r = member.get(f"{V0}/lineage")
    assert r.context["graph"]["depth"] == 2
    assert columns(r) == [["mnist-dataset:v0"], ["train-cnn"], ["mnist_model:v0"], ["evaluate-cnn", "MNIST-dev:v0"]]
    assertContains(r, "<svg")


def test_nodes_open_the_version_lineage_the_run_and_the_registry_version(member):
    r = member.get(f"{V0}/lineage")
    assertContains(r, '<a href="/reviewco/mnist/artifacts/dataset/mnist-dataset/v0/lineage" class="node artifact"')
    assertContains(r, '<a href="/reviewco/mnist/runs/8adpd2kp" class="node run"')
    assertContains(r, '<a href="/registry/model/reviewco/MNIST-dev/v0" class="node registry"')
    assertContains(r, 'aria-label="Run train-cnn (reviewco/mnist, run 8adpd2kp)"')
    assertContains(r, 'aria-label="Artifact version reviewco/mnist/mnist-dataset:v0 (dataset)"')
    assertContains(r, 'aria-label="Registry version MNIST-dev:v0"')


def test_depth_one_stops_at_the_producing_and_consuming_runs(member):
    r = member.get(f"{V0}/lineage?depth=1")
    assert columns(r) == [["train-cnn"], ["mnist_model:v0"], ["evaluate-cnn", "MNIST-dev:v0"]]


def test_depth_three_reaches_the_run_that_made_the_dataset(member):
    r = member.get(f"{V0}/lineage?depth=3")
    assert columns(r)[0] == ["prepare-mnist"]
    # Followed nodes keep the depth.
    assertContains(r, 'href="/reviewco/mnist/artifacts/dataset/mnist-dataset/v0/lineage?depth=3"')


@pytest.mark.parametrize(("value", "depth"), [("99", 5), ("0", 1), ("-3", 1), ("x", 2), ("", 2)])
def test_the_depth_is_kept_between_one_and_five(member, value, depth):
    r = member.get(f"{V0}/lineage", {"depth": value})
    assert r.status_code == 200
    assert r.context["graph"]["depth"] == depth


def test_the_depth_links_work_without_javascript_and_swap_only_the_panel(member):
    r = member.get(f"{V0}/lineage")
    html = r.content.decode()
    for d in (1, 3, 4, 5):
        url = f"{V0}/lineage?depth={d}"
        assert re.search(
            rf'<a href="{re.escape(url)}" hx-get="{re.escape(url)}" hx-target="#detail-panel" hx-swap="outerHTML"', html
        )
    assertContains(r, f'<a href="{V0}/lineage" hx-get="{V0}/lineage"')
    assertContains(r, 'aria-current="true">2</a>')
    fragment = member.get(f"{V0}/lineage?depth=3", headers={**HX, "HX-Target": "detail-panel"})
    assertNotContains(fragment, "<html")
    assertNotContains(fragment, "artifacts-panel")
    assertContains(fragment, 'id="detail-panel"')
    assertContains(fragment, "prepare-mnist")


def test_the_graph_has_no_style_attributes_and_every_node_is_a_named_link(member):
    r = member.get(f"{V0}/lineage?depth=5")
    svg = re.search(r"<svg class=\"lineage.*?</svg>", r.content.decode(), re.S).group(0)
    assert "style=" not in svg
    assert svg.count("<a href=") == len(r.context["graph"]["nodes"]) == 6
    assert svg.count("aria-label=") == 7  # the nodes and the graph itself


def test_downstream_follows_the_versions_consumers_logged_and_their_consumers(client, team, project):
    model = log_version(project, "model", content=b"m")
    evaluate = make_run(project, "evalrun1", display_name="evaluate")
    services.version_use(run=evaluate, version=model, user=team.member)
    report = log_version(project, "report", type="eval", run=evaluate, content=b"r")
    publish = make_run(project, "publish1", display_name="publish")
    services.version_use(run=publish, version=report, user=team.member)
    client.force_login(team.member)
    url = f"{model.tab_url('lineage')}"
    assert columns(client.get(url))[-2:] == [["evaluate"], ["report:v0"]]
    assert columns(client.get(url + "?depth=3"))[-1] == ["publish"]


def test_a_layer_shows_twenty_nodes_and_says_how_many_more(client, team, project):
    model = log_version(project, "model", content=b"m")
    for i in range(LINEAGE_LAYER_CAP + 5):
        services.version_use(run=make_run(project, f"use{i:05}"), version=model, user=team.member)
    client.force_login(team.member)
    r = client.get(model.tab_url("lineage"))
    consumers = r.context["graph"]["columns"][-1]
    assert len(consumers) == LINEAGE_LAYER_CAP + 1
    more = consumers[-1]
    assert more.label == "+5 more runs"
    assert more.url == model.tab_url("usage")
    # Newest first.
    assert consumers[0].label == f"use{LINEAGE_LAYER_CAP + 4:05}"


@pytest.fixture
def shared(team):
    """A public model of reviewco, used by a run in a private project of another team; and logged by a run
    that used a private reviewco dataset."""
    public = make_project(team.entity, "open-models", public=True)
    private = make_project(team.entity, "secret-data")
    dataset = log_version(private, "secret-dataset", type="dataset", content=b"d")
    train = make_run(public, "pubtrain", display_name="public-train")
    services.version_use(run=train, version=dataset, user=team.member)
    model = log_version(public, "open-model", run=train, content=b"m")
    link(model, "Open-Model")
    carol = make_user("carol")
    other = make_entity("acme", admin=[carol])
    acme_run = make_run(make_project(other, "acme-private"), "acmerun1", display_name="acme-finetune")
    services.version_use(run=acme_run, version=model, user=carol)
    log_version(acme_run.project, "acme-model", run=acme_run, content=b"a")
    viewer_run = make_run(public, "pubeval1", display_name="public-eval")
    services.version_use(run=viewer_run, version=model, user=team.member)
    return model, carol


def test_an_outsider_sees_no_private_runs_versions_or_registry_links(client, team, shared):
    model, _ = shared
    client.force_login(team.outsider)
    r = client.get(model.tab_url("lineage") + "?depth=5")
    assert columns(r) == [["public-train"], ["open-model:v0"], ["public-eval"]]
    for hidden in ["secret-dataset", "acme", "Open-Model", "+1 more"]:
        assertNotContains(r, hidden)


def test_each_team_sees_its_own_part_of_the_graph(client, team, shared):
    model, carol = shared
    client.force_login(team.member)
    r = client.get(model.tab_url("lineage"))
    assert columns(r) == [["secret-dataset:v0"], ["public-train"], ["open-model:v0"], ["public-eval", "Open-Model:v0"]]
    client.force_login(carol)
    r = client.get(model.tab_url("lineage"))
    assert columns(r) == [["public-train"], ["open-model:v0"], ["public-eval", "acme-finetune"], ["acme-model:v0"]]


def test_the_registry_panel_draws_the_same_graph_with_its_own_depth_links(member):
    url = "/registry/model/reviewco/MNIST-dev/v0/lineage"
    r = member.get(f"{url}?depth=3")
    assert columns(r)[0] == ["prepare-mnist"]
    assertContains(r, f'href="{url}?depth=1" hx-get="{url}?depth=1" hx-target="#detail-panel"')
    fragment = member.get(f"{url}?depth=3", headers={**HX, "HX-Target": "detail-panel"})
    assertNotContains(fragment, "<html")
    assertContains(fragment, "prepare-mnist")


def _grow(project, user, train, center, n: int, tag: str) -> None:
    """`n` more nodes in every layer around `center`, up to four hops each way."""
    for i in range(n):
        dataset = log_version(project, f"data-{tag}{i}", type="dataset", content=f"d{tag}{i}".encode())
        services.version_use(run=train, version=dataset, user=user)
        consumer = make_run(project)
        services.version_use(run=consumer, version=center, user=user)
        out = log_version(project, f"out-{tag}{i}", type="eval", run=consumer, content=f"o{tag}{i}".encode())
        later = make_run(project)
        services.version_use(run=later, version=out, user=user)
        log_version(project, f"final-{tag}{i}", type="report", run=later, content=f"f{tag}{i}".encode())


@pytest.mark.parametrize("depth", [2, 5])
def test_the_lineage_tab_uses_the_same_number_of_queries_whatever_the_size(
    client, team, project, depth, django_assert_num_queries
):
    train = make_run(project, "train")
    center = log_version(project, "model", run=train, content=b"m")
    link(center, "Grown")
    client.force_login(team.member)
    url = f"{center.tab_url('lineage')}?depth={depth}"
    _grow(project, team.member, train, center, 3, "a")
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    _grow(project, team.member, train, center, 25, "b")
    with django_assert_num_queries(len(small.captured_queries)):
        r = client.get(url)
    graph = r.context["graph"]
    # The datasets and the consumers: 20 each and a "+8 more"; deeper layers hang off the 20 shown only.
    assert [len(col) for col in graph["columns"]] == (
        [21, 1, 1, 22, 20] if depth == 2 else [20, 21, 1, 1, 22, 20, 20, 20]
    )
    full = [col for col in graph["columns"] if len(col) > LINEAGE_LAYER_CAP]
    assert {n.label for col in full for n in col} >= {"+8 more versions", "+8 more runs"}
