import threading

import pytest
from django.db import connection, connections

from registry import services
from registry.models import Link
from tests.factories import log_version

THREADS = 32


@pytest.mark.django_db(transaction=True)
def test_32_threads_linking_at_once_get_v0_to_v31(team, project):
    """Real threads, each with its own connection to the real database file (or PostgreSQL)."""
    if connection.vendor == "sqlite":
        assert connection.settings_dict["NAME"] not in ("", ":memory:") and "mode=memory" not in str(
            connection.settings_dict["NAME"]
        )
    versions = [log_version(project, "mnist_model", content=f"weights {i}".encode()) for i in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(version):
        try:
            barrier.wait()
            # The registered model does not exist yet: creating it races too.
            services.link_version(
                version=version, user=team.member, entity=team.entity, registered_model_name="Race-Model"
            )
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    indexes = sorted(Link.objects.filter(registered_model__name="Race-Model").values_list("index", flat=True))
    assert indexes == list(range(THREADS))
    sources = Link.objects.filter(registered_model__name="Race-Model").values_list("source", flat=True)
    assert len(set(sources)) == THREADS


def _race(create, n: int = 8) -> tuple[list, list, list]:
    """`create()` from n threads released at once: what was made, the codes of the refusals, other errors."""
    from django.core.exceptions import ValidationError

    barrier = threading.Barrier(n)
    made, refused, errors = [], [], []

    def worker():
        try:
            barrier.wait()
            made.append(create())
        except ValidationError as exc:
            refused.append(exc.code)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return made, refused, errors


@pytest.mark.django_db(transaction=True)
def test_creating_one_name_at_once_makes_one_and_tells_the_others_it_exists(team):
    """On PostgreSQL the requests all pass the name check before any inserts (SQLite queues whole transactions):
    registered models, teams and runs alike."""
    from artifacts import services as artifact_services
    from artifacts.models import Entity, Run
    from registry.models import RegisteredModel
    from tests.factories import make_project

    project = make_project(team.entity, "race")
    cases = [
        (
            lambda: services.registered_model_create(name="Same", user=team.admin, entity=team.entity),
            RegisteredModel.objects.filter(name="Same"),
        ),
        (lambda: artifact_services.entity_create(name="same-team"), Entity.objects.filter(name="same-team")),
        (
            lambda: artifact_services.run_create(project=project, user=team.admin, run_id="same-run"),
            Run.objects.filter(run_id="same-run"),
        ),
    ]
    for create, rows in cases:
        made, refused, errors = _race(create)
        assert errors == [] and len(made) == 1 and refused == ["duplicate"] * 7
        assert rows.count() == 1
