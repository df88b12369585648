"""Runs through the official `wandb` SDK (0.31.0, unmodified): what `run.log` logs comes back through
`wandb.Api()` (`api.run`, `api.runs` with filters, `history`, `scan_history`), and a resumed run goes on at the
next step."""

import json

import pytest

from artifacts.models import HistoryRow, Run
from tests.factories import make_run
from tests.wandb_api.helpers import api_key

pytestmark = pytest.mark.django_db(transaction=True)


def _result(process) -> dict:
    """The JSON a script printed on its last stdout line (and its logs on failure)."""
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_a_logged_run_reads_back_with_its_history_config_summary_state_and_tags(run_sdk, team, project):
    out = _result(
        run_sdk(
            """
            import json, wandb
            config, tags = {"lr": 0.01, "layers": 3}, ["baseline", "cnn"]
            run = wandb.init(entity="reviewco", project="mnist", config=config, tags=tags)
            for i in range(10):
                row = {"loss": 1.0 / (i + 1)}
                if i % 3 == 0:
                    row["val_loss"] = 2.0 / (i + 1)
                run.log(row)
            run.finish()

            api = wandb.Api()
            got = api.run(f"reviewco/mnist/{run.id}")
            out = {
                "id": got.id,
                "config": got.config,
                "summary": {k: got.summary[k] for k in ("loss", "_step")},
                "state": got.state,
                "tags": got.tags,
                "created_at": got.created_at,
                "last_step": got.lastHistoryStep,
                "system_metrics": got.system_metrics,
                "history": got.history(pandas=False),
                "history_keys": got.history(keys=["val_loss"], pandas=False),
                "scan": list(got.scan_history()),
                "scan_keys": list(got.scan_history(keys=["val_loss"], page_size=4)),
                "scan_page": [r["_step"] for r in got.scan_history(page_size=3, min_step=2, max_step=7)],
                "system": got.history(stream="system", pandas=False),
            }
            print(json.dumps(out))
            """,
            key=api_key(team.member),
        )
    )
    run = Run.objects.get(run_id=out["id"])
    assert out["config"] == {"lr": 0.01, "layers": 3}
    assert out["summary"] == {"loss": 0.1, "_step": 9}
    assert (out["state"], out["tags"]) == ("finished", ["baseline", "cnn"])
    assert out["created_at"] == run.created_at.strftime("%Y-%m-%dT%H:%M:%S")
    assert out["last_step"] == 9
    assert out["system_metrics"] == {}
    assert [row["_step"] for row in out["history"]] == list(range(10))
    assert out["history"][4]["loss"] == 0.2 and "_runtime" in out["history"][4]
    assert out["history_keys"] == [{"_step": s, "val_loss": 2.0 / (s + 1)} for s in (0, 3, 6, 9)]
    assert out["scan"] == out["history"]
    assert [(r["_step"], r["val_loss"]) for r in out["scan_keys"]] == [(s, 2.0 / (s + 1)) for s in (0, 3, 6, 9)]
    assert out["scan_page"] == [2, 3, 4, 5, 6]
    assert out["system"] == []
    assert HistoryRow.objects.filter(run=run).count() == 10


def test_a_resumed_run_goes_on_at_the_next_step(run_sdk, team, project):
    out = _result(
        run_sdk(
            """
            import json, wandb
            run = wandb.init(entity="reviewco", project="mnist", id="resumable", resume="allow", tags=["first"])
            for i in range(3):
                run.log({"loss": 1.0 - i / 10})
            run.finish()
            run = wandb.init(entity="reviewco", project="mnist", id="resumable", resume="must")
            resumed_at = [run.resumed, run.starting_step]
            run.log({"loss": 0.5})
            run.log({"loss": 0.4})
            run.finish()
            got = wandb.Api().run("reviewco/mnist/resumable")
            print(json.dumps({
                "resumed_at": resumed_at,
                "steps": [[row["_step"], row["loss"]] for row in got.scan_history()],
                "tags": got.tags,
                "state": got.state,
            }))
            """,
            key=api_key(team.member),
        )
    )
    assert out["resumed_at"] == [True, 3]
    assert out["steps"] == [[0, 1.0], [1, 0.9], [2, 0.8], [3, 0.5], [4, 0.4]]
    assert (out["tags"], out["state"]) == (["first"], "finished")
    run = Run.objects.get(run_id="resumable")
    assert (run.history_line_count, run.history_last_step, run.summary["_step"]) == (5, 4, 4)


def test_a_run_that_exits_with_an_error_is_failed(run_sdk, team, project):
    out = _result(
        run_sdk(
            """
            import json, wandb
            run = wandb.init(entity="reviewco", project="mnist")
            run.log({"loss": 1.0})
            run.finish(exit_code=3)
            print(json.dumps({"state": wandb.Api().run(f"reviewco/mnist/{run.id}").state, "id": run.id}))
            """,
            key=api_key(team.member),
        )
    )
    assert out["state"] == "failed"
    assert Run.objects.get(run_id=out["id"]).state == "failed"


def test_runs_are_listed_with_mongodb_style_filters(run_sdk, team, project):
    _result(
        run_sdk(
            """
            import json, wandb
            specs = [
                ("alpha", {"lr": 0.01, "opt": {"name": "adam"}}, ["baseline"], 0.5, 0),
                ("beta", {"lr": 0.1, "opt": {"name": "sgd"}}, ["baseline", "big"], 0.2, 0),
                ("gamma", {"lr": 0.01, "opt": {"name": "sgd"}}, [], 0.9, 1),
            ]
            for name, config, tags, acc, code in specs:
                run = wandb.init(entity="reviewco", project="mnist", name=name, config=config, tags=tags)
                run.log({"acc": acc})
                run.finish(exit_code=code)
            print("{}")
            """,
            key=api_key(team.member),
        )
    )
    # A viewer reads what members logged.
    out = _result(
        run_sdk(
            """
            import json, wandb
            api = wandb.Api()
            def names(filters=None, order="+created_at", **kwargs):
                runs = api.runs("reviewco/mnist", filters=filters, order=order, **kwargs)
                return [len(runs), [r.name for r in runs]]
            out = {
                "all": names(),
                "lr": names({"config.lr": 0.01}),
                "lr_value": names({"config.lr.value": 0.1}),
                "nested": names({"config.opt.name": "sgd"}),
                "state": names({"state": "finished"}),
                "failed": names({"state": {"$in": ["failed", "crashed"]}}),
                "tags": names({"tags": {"$in": ["big"]}}),
                "no_tag": names({"tags": {"$nin": ["baseline"]}}),
                "display_name": names({"display_name": "beta"}),
                "or": names({"$or": [{"display_name": "alpha"}, {"summary_metrics.acc": {"$gt": 0.8}}]}),
                "and": names({"$and": [{"config.lr": {"$lt": 0.05}}, {"tags": "baseline"}]}),
                "ne": names({"config.missing": {"$ne": 1}}),
                "order": names(order="-summary_metrics.acc"),
                "paged": names(per_page=1),
                "full": [r.config["lr"] for r in api.runs("reviewco/mnist", lazy=False)],
            }
            try:
                list(api.runs("reviewco/mnist", filters={"display_name": {"$regex": "^a"}}))
            except Exception as exc:
                out["refused"] = str(exc)
            print(json.dumps(out))
            """,
            key=api_key(team.viewer),
        )
    )
    assert out["all"] == [3, ["alpha", "beta", "gamma"]]
    assert out["lr"] == [2, ["alpha", "gamma"]]
    assert out["lr_value"] == [1, ["beta"]]
    assert out["nested"] == [2, ["beta", "gamma"]]
    assert out["state"] == [2, ["alpha", "beta"]]
    assert out["failed"] == [1, ["gamma"]]
    assert out["tags"] == [1, ["beta"]]
    assert out["no_tag"] == [1, ["gamma"]]
    assert out["display_name"] == [1, ["beta"]]
    assert out["or"] == [2, ["alpha", "gamma"]]
    assert out["and"] == [1, ["alpha"]]
    assert out["ne"] == [3, ["alpha", "beta", "gamma"]]
    assert out["order"] == [3, ["gamma", "alpha", "beta"]]
    assert out["paged"] == [3, ["alpha", "beta", "gamma"]]
    assert out["full"] == [0.01, 0.1, 0.01]
    assert "$regex" in out["refused"] and "not offered" in out["refused"]


def test_a_run_whose_id_holds_an_equals_sign_logs_a_table(run_sdk, team, project):
    out = _result(
        run_sdk(
            """
            import json, wandb
            name_and_id = "random-run-id-=1234567-seed-0"
            with wandb.init(entity="reviewco", project="mnist", name=name_and_id, id=name_and_id) as run:
                run.log({"my-table": wandb.Table(["a", "b"], [[1, "x"], [2, "y"]])}, step=1)
            got = wandb.Api().run(f"reviewco/mnist/{name_and_id}")
            print(json.dumps([got.id, got.name, [a.type for a in got.logged_artifacts()]]))
            """,
            key=api_key(team.member),
        )
    )
    assert out == ["random-run-id-=1234567-seed-0", "random-run-id-=1234567-seed-0", ["run_table"]]
    assert Run.objects.get(run_id="random-run-id-=1234567-seed-0").project == project


def test_a_version_keeps_the_history_step_it_was_logged_at(run_sdk, team, project):
    out = _result(
        run_sdk(
            """
            import json, wandb
            with wandb.init(entity="reviewco", project="mnist") as run:
                for i in range(2):
                    artifact = wandb.Artifact("stepped", "dataset")
                    with artifact.new_file("test.txt", "w") as f:
                        f.write(f"testing {i}")
                    run.log_artifact(artifact)
                    run.log({"metric": 5})
            api = wandb.Api()
            print(json.dumps([api.artifact(f"reviewco/mnist/stepped:v{i}").history_step for i in range(2)]))
            """,
            key=api_key(team.member),
        )
    )
    assert out == [None, 0]


def test_a_run_updated_through_the_public_api_keeps_the_sdks_own_config_and_can_be_deleted(run_sdk, team, project):
    out = _result(
        run_sdk(
            """
            import json, wandb
            with wandb.init(entity="reviewco", project="mnist", config={"foo": "not_bar"}) as seed:
                seed.log({"acc": 100})
                artifact = wandb.Artifact("seeded", "dataset")
                with artifact.new_file("a.txt", "w") as f:
                    f.write("a")
                seed.log_artifact(artifact)
            api = wandb.Api()
            run = api.run(f"reviewco/mnist/{seed.id}")
            wandb_key = run.rawconfig["_wandb"]
            run.tags.append("test")
            run.config["foo"] = "bar"
            run.update()
            again = wandb.Api().run(f"reviewco/mnist/{seed.id}")
            out = {
                "config": again.config,
                "same_wandb": again.rawconfig["_wandb"] == wandb_key,
                "cli_version": wandb_key.get("cli_version"),
                "tags": again.tags,
            }
            again.delete()
            again.delete(delete_artifacts=True)
            out["exists"] = wandb.Api().artifact_exists("reviewco/mnist/seeded:v0")
            print(json.dumps(out))
            """,
            key=api_key(team.member),
        )
    )
    assert out["config"] == {"foo": "bar"}
    assert out["same_wandb"] is True and out["cli_version"]
    assert out["tags"] == ["test"]
    assert out["exists"] is False
    assert not Run.objects.exists()


def test_a_viewer_cannot_delete_a_run_through_the_public_api(run_sdk, team, project):
    run = make_run(project, "kept")
    process = run_sdk(
        """
        import wandb
        wandb.Api().run("reviewco/mnist/kept").delete()
        """,
        key=api_key(team.viewer),
    )
    assert process.returncode != 0
    assert "member or admin role" in process.stderr, process.stderr
    assert Run.objects.filter(pk=run.pk).exists()
