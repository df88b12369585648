"""A run's history: services.run_history_write keeps one row per step, and queries.history_rows reads a bounded,
evenly spaced page of it, by index, however many rows the run has."""

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from artifacts import queries, services
from artifacts.models import HistoryRow, Run
from tests.factories import make_run, snapshot


def _rows(n: int, start: int = 0) -> list[dict]:
    return [{"_step": s, "loss": 1 / (s + 1), "_runtime": s * 0.5} for s in range(start, start + n)]


def _steps(rows: list[dict]) -> list[int]:
    return [row["_step"] for row in rows]


def test_history_keeps_one_row_per_step_and_a_resent_line_replaces_its_row(team, project):
    run = make_run(project)
    services.run_history_write(run=run, user=team.member, offset=0, rows=_rows(3))
    # The SDK retries a request whose answer it missed: the same lines again.
    services.run_history_write(run=run, user=team.member, offset=2, rows=[{"_step": 2, "loss": 9}, *_rows(2, 3)])
    assert list(run.history.values_list("step", "line")) == [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)]
    assert run.history.get(step=2).data == {"_step": 2, "loss": 9}
    run.refresh_from_db()
    assert (run.history_line_count, run.history_last_step) == (5, 4)


def test_history_keys_count_each_line_once_with_the_types_of_its_values(team, project):
    run = make_run(project)
    rows = [{"_step": 0, "loss": 1.5, "note": "warmup"}, {"_step": 1, "loss": 1, "img": {"_type": "image-file"}}]
    services.run_history_write(run=run, user=team.member, offset=0, rows=rows)
    services.run_history_write(run=run, user=team.member, offset=1, rows=rows[1:])
    run.refresh_from_db()
    assert run.history_keys == {
        "_step": {"number": 2},
        "loss": {"number": 2},
        "note": {"string": 1},
        "img": {"image-file": 1},
    }


@pytest.mark.parametrize(
    "rows",
    [
        [{"_step": 0}, {"loss": 1}],
        [{"_step": -1}],
        [{"_step": 1.5}],
        [{"_step": True}],
        [{"_step": 2**63}],
        [{"_step": 0, "bad": "\x00"}],
    ],
)
def test_a_row_without_a_valid_step_or_value_is_refused_and_nothing_is_written(team, project, rows):
    run = make_run(project)
    before = snapshot()
    with pytest.raises(ValidationError):
        services.run_history_write(run=run, user=team.member, offset=0, rows=rows)
    assert snapshot() == before
    run.refresh_from_db()
    assert (run.history_line_count, run.history_last_step, run.history_keys) == (0, None, {})


def test_a_viewer_cannot_write_history(team, project):
    run = make_run(project)
    with pytest.raises(PermissionDenied):
        services.run_history_write(run=run, user=team.viewer, offset=0, rows=_rows(1))
    assert not HistoryRow.objects.exists()


def test_a_short_history_is_read_whole_and_a_long_one_evenly_spaced(team, project):
    run = make_run(project)
    services.run_history_write(run=run, user=team.member, offset=0, rows=_rows(10))
    assert _steps(queries.history_rows(run, samples=500)) == list(range(10))
    assert _steps(queries.history_rows(run, samples=4)) == [0, 3, 6, 9]
    assert _steps(queries.history_rows(run, samples=3, min_step=2, max_step=8)) == [2, 4, 7]
    assert queries.history_rows(run, samples=5, min_step=20) == []


def test_samples_are_spaced_by_line_so_gaps_between_steps_do_not_matter(team, project):
    run = make_run(project)
    rows = [{"_step": s * 1000, "loss": s} for s in range(100)]
    services.run_history_write(run=run, user=team.member, offset=0, rows=rows)
    assert _steps(queries.history_rows(run, samples=5)) == [0, 25000, 50000, 74000, 99000]


def test_rows_asked_for_by_key_are_those_holding_every_key_reduced_to_them(team, project):
    run = make_run(project)
    rows = [{"_step": s, "loss": s, **({"val": -s} if s % 3 == 0 else {})} for s in range(10)]
    services.run_history_write(run=run, user=team.member, offset=0, rows=rows)
    assert queries.history_rows(run, samples=500, keys=["_step", "val"]) == [
        {"_step": s, "val": -s} for s in (0, 3, 6, 9)
    ]
    assert queries.history_rows(run, samples=2, keys=["val"]) == [{"val": 0}, {"val": -9}]
    assert queries.history_rows(run, samples=500, keys=["nope"]) == []


@pytest.mark.parametrize("samples", [0, -1, queries.HISTORY_MAX_ROWS + 1])
def test_a_page_larger_than_the_cap_is_refused(team, project, samples):
    with pytest.raises(ValidationError, match="1 to 10,000"):
        queries.history_rows(make_run(project), samples=samples)


def _bulk_history(run: Run, n: int) -> None:
    HistoryRow.objects.bulk_create(
        (HistoryRow(run=run, step=s, line=s, data={"_step": s, "loss": 1 / (s + 1)}) for s in range(n)),
        batch_size=5000,
    )
    Run.objects.filter(pk=run.pk).update(history_line_count=n, history_last_step=n - 1)


def _reads(run: Run, **kwargs) -> tuple[list[dict], list[str]]:
    with CaptureQueriesContext(connection) as captured:
        rows = queries.history_rows(run, **kwargs)
    return rows, [q["sql"] for q in captured.captured_queries]


READS = [
    {"samples": 500},
    {"samples": 1000, "min_step": 2, "max_step": 9},
    {"samples": 3, "min_step": 2, "max_step": 9},
    {"samples": 500, "keys": ["_step", "loss"]},
]


def test_history_reads_cost_the_same_for_ten_rows_and_for_a_hundred_thousand(team, project):
    small, big = make_run(project), make_run(project)
    _bulk_history(small, 10)
    _bulk_history(big, 100_000)
    for read in READS:
        small_rows, small_sql = _reads(small, **read)
        big_rows, big_sql = _reads(big, **read)
        assert len(small_sql) == len(big_sql) == 3
        assert len(big_rows) <= read["samples"]
        limit = queries.HISTORY_OVERSAMPLE * read["samples"] if "keys" in read else read["samples"]
        for sql in big_sql:
            # Nothing counts or aggregates the rows, and every read stops after a page.
            assert not re.search(r"\b(COUNT|MAX|MIN|SUM)\(", sql, re.IGNORECASE)
            assert re.search(r"LIMIT (\d+)", sql) and int(re.search(r"LIMIT (\d+)", sql)[1]) <= limit
        if connection.vendor == "sqlite":
            for sql in big_sql:
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN QUERY PLAN " + sql)
                    plan = " ".join(str(row[-1]) for row in cursor.fetchall())
                assert "SCAN artifacts_historyrow" not in plan.replace('"', ""), plan
    big_rows, _ = _reads(big, samples=500)
    assert _steps(big_rows)[:2] == [0, 200] and _steps(big_rows)[-1] == 99_999
    assert _steps(_reads(big, samples=3, min_step=2, max_step=9)[0]) == [2, 5, 8]


def test_the_run_page_and_list_show_state_tags_and_last_step(client, team, project):
    run = make_run(project, "shown001", tags=["baseline", "cnn"], state="running")
    services.run_history_write(run=run, user=team.member, offset=0, rows=_rows(3))
    client.force_login(team.viewer)
    page = client.get("/reviewco/mnist/runs/shown001").content.decode()
    assert "<dt>State</dt><dd>Running</dd>" in page
    assert '<span class="tag">baseline</span> <span class="tag">cnn</span>' in page
    assert "<dt>Last step</dt><dd>2</dd>" in page
    Run.objects.filter(pk=run.pk).update(heartbeat_at=run.heartbeat_at - Run.RUNNING_UNTIL)
    assert "<td>Crashed</td>" in client.get("/reviewco/mnist/runs").content.decode()
