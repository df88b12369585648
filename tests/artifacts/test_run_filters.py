"""W&B's MongoDB-style run filters and orders, as artifacts/run_filters.py translates them (queries.runs_matching)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from artifacts import queries, services
from artifacts.models import Run, RunState
from tests.factories import make_run


@pytest.fixture
def runs(team, project) -> dict[str, Run]:
    made = {
        "alpha": make_run(
            project, "alpha", display_name="first", config={"lr": 0.01, "opt": {"name": "adam"}, "clf__C": 1}
        ),
        "beta": make_run(project, "beta", display_name="second", config={"lr": 0.1, "opt": {"name": "sgd"}}),
        "gamma": make_run(project, "gamma", job_type="eval", config={"lr": None, "gt": 5}),
    }
    services.run_update(run=made["alpha"], user=team.member, summary={"acc": 0.5}, tags=["baseline"])
    services.run_update(run=made["beta"], user=team.member, summary={"acc": 0.9}, tags=["baseline", "big"])
    Run.objects.filter(run_id="alpha").update(state=RunState.RUNNING, heartbeat_at=timezone.now())
    Run.objects.filter(run_id="beta").update(state=RunState.FAILED)
    Run.objects.filter(run_id="gamma").update(created_at=timezone.now() - timedelta(days=30))
    return made


def _names(project, filters=None, order=None) -> list[str]:
    return [run.run_id for run in queries.runs_matching(project, filters=filters, order=order or "+name")]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["alpha", "beta", "gamma"]),
        ({"config.lr": 0.01}, ["alpha"]),
        ({"config.lr.value": 0.1}, ["beta"]),
        ({"config.opt.name": "sgd"}, ["beta"]),
        ({"config.clf__C": 1}, ["alpha"]),
        ({"config.gt": 5}, ["gamma"]),
        ({"config.lr": None}, ["gamma"]),
        ({"config.lr": {"$ne": None}}, ["alpha", "beta"]),
        ({"config.lr": {"$ne": 0.01}}, ["beta", "gamma"]),
        ({"config.opt.name": {"$ne": "adam"}}, ["beta", "gamma"]),
        ({"config.lr": {"$gt": 0.05}}, ["beta"]),
        ({"config.lr": {"$gte": 0.01, "$lt": 0.1}}, ["alpha"]),
        ({"config.lr": {"$in": [0.1, None]}}, ["beta", "gamma"]),
        ({"config.lr": {"$nin": [0.1]}}, ["alpha", "gamma"]),
        ({"config.opt": {"$exists": False}}, ["gamma"]),
        ({"summary_metrics.acc": {"$gt": 0.6}}, ["beta"]),
        ({"summary.acc": {"$lte": 0.6}}, ["alpha"]),
        ({"name": "beta"}, ["beta"]),
        ({"display_name": {"$in": ["first", "second"]}}, ["alpha", "beta"]),
        ({"displayName": {"$ne": "first"}}, ["beta", "gamma"]),
        ({"jobType": "eval"}, ["gamma"]),
        ({"state": "failed"}, ["beta"]),
        ({"state": {"$in": ["running", "failed"]}}, ["alpha", "beta"]),
        ({"state": {"$nin": ["finished"]}}, ["alpha", "beta"]),
        ({"tags": "baseline"}, ["alpha", "beta"]),
        ({"tags": {"$in": ["big", "other"]}}, ["beta"]),
        ({"tags": {"$nin": ["big"]}}, ["alpha", "gamma"]),
        ({"tags": {"$all": ["baseline", "big"]}}, ["beta"]),
        ({"tags": {"$ne": "baseline"}}, ["gamma"]),
        ({"created_at": {"$lt": (timezone.now() - timedelta(days=1)).isoformat()}}, ["gamma"]),
        ({"createdAt": {"$gt": "2000-01-01"}}, ["alpha", "beta", "gamma"]),
        ({"$or": [{"name": "alpha"}, {"config.lr": None}]}, ["alpha", "gamma"]),
        ({"$and": [{"tags": "baseline"}, {"config.lr": {"$lt": 0.05}}]}, ["alpha"]),
        ({"$nor": [{"config.lr": 0.01}, {"tags": "big"}]}, ["gamma"]),
        ({"tags": "baseline", "state": "running"}, ["alpha"]),
    ],
)
def test_filters_find_the_runs_that_match(project, runs, filters, expected):
    assert _names(project, filters) == expected


def test_a_running_run_whose_heartbeat_stopped_is_crashed(project, runs):
    Run.objects.filter(run_id="alpha").update(heartbeat_at=timezone.now() - Run.RUNNING_UNTIL - timedelta(seconds=1))
    assert Run.objects.get(run_id="alpha").current_state == "crashed"
    assert _names(project, {"state": "crashed"}) == ["alpha"]
    assert _names(project, {"state": "running"}) == []
    assert _names(project, {"state": {"$ne": "crashed"}}) == ["beta", "gamma"]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("+created_at", ["gamma", "alpha", "beta"]),
        ("-created_at", ["beta", "alpha", "gamma"]),
        ("+config.lr.value", ["alpha", "beta", "gamma"]),
        ("-summary_metrics.acc", ["beta", "alpha", "gamma"]),
        ("display_name", ["gamma", "alpha", "beta"]),
    ],
)
def test_runs_come_in_the_order_asked_for(project, runs, order, expected):
    assert _names(project, order=order) == expected


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"display_name": {"$regex": "^f"}}, "$regex is not offered"),
        ({"group": "a"}, "the field 'group'"),
        ({"$where": "1"}, "the operator $where"),
        ({"config.lr": {"$size": 1}}, "the operator $size"),
        ({"config.": 1}, "empty key"),
        ({"config.lr": {"a": 1}}, "not {'a': 1}"),
        ({"config.lr": {"$gt": None}}, "compares numbers, not None"),
        ({"config.opt.name": {"$lt": "b"}}, "compares numbers, not 'b'"),
        ({"config.lr": {"$exists": 1}}, "true or false"),
        ({"config.lr": {"$in": 1}}, "takes a list"),
        ({"state": "sleeping"}, "no run state 'sleeping'"),
        ({"name": 3}, "compared with text"),
        ({"created_at": {"$gt": "yesterday"}}, "ISO 8601"),
        ({"$or": []}, "non-empty list"),
        ({"$and": [{"name": "a"}] * 200}, "more than 100 conditions"),
        ({"tags": {"$in": ["x"] * 1001}}, "at most 1000 values"),
        (["name"], "must be a JSON object"),
    ],
)
def test_unsupported_filters_are_refused_with_what_is_supported(project, runs, filters, message):
    with pytest.raises(ValidationError, match="Unsupported run filter") as exc:
        list(queries.runs_matching(project, filters=filters))
    assert message in exc.value.messages[0]


@pytest.mark.parametrize("order", ["+duration", "config.", "-tags"])
def test_an_unsupported_order_is_refused(project, runs, order):
    with pytest.raises(ValidationError, match="the order"):
        queries.runs_matching(project, order=order)
