"""The benchmark's data, written in bulk with the ORM (and COPY / executemany for the largest tables).

Run as `python -m bench.populate <command> [json]` with DATA_DIR / DATABASE_URL / SECRET_KEY of the server it
prepares; it prints one JSON line. The functions are also called in-process by tests/test_bench.py.

The rows are the ones the services would write, only faster: every committed version has an index below its
artifact's next_index, a unique digest, its file and `latest` on the newest; every registered model has
consecutive link indexes 0..n-1, next_index = n and `latest` on its newest link.
"""

import base64
import hashlib
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

ENTITY = "bench"
PROJECT = "p"
USERNAME = "benchuser"
BIG_ARTIFACT = "big"
BIG_MODEL = "Big"
API_MODEL = "ApiLinks"
CONCURRENT_MODEL = "Concurrent"
FLOW_MODEL = "BenchFlow"
API_SOURCES = "apisrc"
CONCURRENT_SOURCES = "concsrc"
LINKS_PER_MODEL = 9
CHUNK = 20_000


def _chunks(rows: Iterable, size: int = CHUNK) -> Iterator[list]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def insert_rows(model, columns: list[str], rows: Iterable[tuple]) -> int:
    """Insert plain tuples into `model`'s table: COPY on PostgreSQL, executemany on SQLite."""
    from django.db import connection, transaction

    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(model._meta.get_field(c).column) for c in columns)
    count = 0
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})"
            adapt = connection.ops.adapt_datetimefield_value
            for chunk in _chunks(rows):
                chunk = [tuple(adapt(v) if isinstance(v, datetime) else v for v in row) for row in chunk]
                cursor.executemany(sql, chunk)
                count += len(chunk)
    return count


def _setup_base() -> dict[str, Any]:
    """The user (an entity admin with an API key and a session), entity, project, a run and one stored blob."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from artifacts import services
    from artifacts.models import Entity, Role
    from artifacts.storage import blob_store

    User = get_user_model()
    user = User.objects.filter(username=USERNAME).first()
    if user is None:
        user = User.objects.create_user(username=USERNAME, password=None, email="bench@example.com")
    entity = Entity.objects.filter(name=ENTITY).first() or services.entity_create(name=ENTITY)
    services.membership_set(entity=entity, user=user, role=Role.ADMIN)
    project = services.project_get_or_create(entity=entity, name=PROJECT, user=user)
    run = services.run_create(project=project, user=user, job_type="bench")
    blob = blob_store(io.BytesIO(b"bench weights\n" * 64))
    _, key = services.api_key_create(user=user, name="bench")
    client = Client()
    client.force_login(user)
    from django.conf import settings

    return {
        "user": user,
        "entity": entity,
        "project": project,
        "run": run,
        "blob": blob,
        "api_key": key,
        "cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}",
    }


def bulk_artifact(base: dict[str, Any], name: str, count: int) -> list[int]:
    """An artifact of type model with `count` committed versions v0..v{count-1}; returns their ids by index."""
    from django.utils import timezone

    from artifacts.models import Artifact, ArtifactAlias, ArtifactFile, ArtifactVersion, VersionState

    now = timezone.now()
    artifact = Artifact.objects.create(
        project=base["project"], name=name, type="model", next_index=count, num_versions=count
    )
    for chunk in _chunks(range(count), 5000):
        ArtifactVersion.objects.bulk_create(
            ArtifactVersion(
                artifact=artifact,
                index=i,
                state=VersionState.COMMITTED,
                digest=hashlib.md5(f"{name}:{i}".encode()).hexdigest(),
                metadata={"step": i, "accuracy": round(0.5 + i / (2 * count), 6)},
                size=base["blob"].size,
                num_files=1,
                created_by_run=base["run"],
                created_by=base["user"],
                committed_at=now - timedelta(seconds=count - i),
            )
            for i in chunk
        )
    ids = dict(ArtifactVersion.objects.filter(artifact=artifact).values_list("index", "id"))
    by_index = [ids[i] for i in range(count)]
    insert_rows(ArtifactFile, ["version", "path", "blob"], ((v, "model.pt", base["blob"].pk) for v in by_index))
    if count:
        ArtifactAlias.objects.create(artifact=artifact, version_id=by_index[-1], name="latest")
    return by_index


def bulk_models(base: dict[str, Any], names: list[str], links: dict[str, list[int]]) -> dict[str, int]:
    """Registered models named `names`, each linking the version ids `links[name]` as v0, v1, ... in order."""
    from django.db.models import F
    from django.utils import timezone

    from registry.models import Link, LinkAlias, RegisteredModel

    now = timezone.now()
    user = base["user"]
    # Distinct "last updated" times, so sorting by them means something.
    rows = (
        (base["entity"].pk, name, "model", f"Registered model {name}.", '["bench"]')
        + (len(links.get(name, ())), len(links.get(name, ())), user.pk)
        + (now - timedelta(days=1), now - timedelta(seconds=i))
        for i, name in enumerate(names)
    )
    columns = ["entity", "name", "type", "description", "tags", "next_index", "num_versions", "created_by"]
    columns += ["created_at", "updated_at"]
    insert_rows(RegisteredModel, columns, rows)
    wanted = set(names)
    ids = {
        n: pk
        for n, pk in RegisteredModel.objects.filter(entity=base["entity"]).values_list("name", "id")
        if n in wanted
    }
    link_rows = (
        (ids[name], index, source, user.pk, now) for name in names for index, source in enumerate(links.get(name, ()))
    )
    insert_rows(Link, ["registered_model", "index", "source", "created_by", "created_at"], link_rows)
    newest = Link.objects.filter(
        registered_model__entity=base["entity"], index=F("registered_model__next_index") - 1
    ).exclude(registered_model__aliases__name="latest")
    alias_rows = ((rm, pk, "latest") for rm, pk in newest.values_list("registered_model_id", "id").iterator(CHUNK))
    insert_rows(LinkAlias, ["registered_model", "link", "name"], list(alias_rows))
    return ids


def populate(*, models: int, api_sources: int = 0, concurrent_sources: int = 0) -> dict[str, Any]:
    """The scale data set: `models` registered models, `models` versions of one artifact, about 10x links.

    `Big` links all versions of `big` (the model card's largest case); every other model links
    LINKS_PER_MODEL of them. Empty `ApiLinks` and `Concurrent` models, and committed source versions for
    them, are there for the API measurements.
    """
    from django.db import connection

    base = _setup_base()
    versions = bulk_artifact(base, BIG_ARTIFACT, models)
    names = [BIG_MODEL] + [f"model-{i:06d}" for i in range(1, models)]
    links: dict[str, list[int]] = {BIG_MODEL: versions}
    for i, name in enumerate(names[1:], start=1):
        links[name] = [versions[(i * LINKS_PER_MODEL + t) % len(versions)] for t in range(LINKS_PER_MODEL)]
    bulk_models(base, names, links)
    api = bulk_artifact(base, API_SOURCES, api_sources)
    conc = bulk_artifact(base, CONCURRENT_SOURCES, concurrent_sources)
    bulk_models(base, [API_MODEL, CONCURRENT_MODEL], {})
    with connection.cursor() as cursor:
        # What autovacuum does soon after a bulk load on PostgreSQL (statistics and the visibility map, which
        # index-only scans need); SQLite only gathers statistics. VACUUM cannot run in a transaction (tests).
        vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
        cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
    return {
        "api_key": base["api_key"],
        "cookie": base["cookie"],
        "api_sources": [artifact_id(pk) for pk in api],
        "concurrent_sources": [artifact_id(pk) for pk in conc],
        "counts": counts(),
    }


def artifact_id(pk: int) -> str:
    """W&B's id of a version, as wandb_api.ids spells it."""
    return base64.b64encode(f"Artifact:{pk}".encode()).decode()


def counts() -> dict[str, int]:
    from artifacts.models import ArtifactVersion
    from registry.models import Link, LinkAlias, RegisteredModel

    return {
        "registered_models": RegisteredModel.objects.count(),
        "links": Link.objects.count(),
        "link_aliases": LinkAlias.objects.count(),
        "versions": ArtifactVersion.objects.count(),
        "big_versions": ArtifactVersion.objects.filter(artifact__name=BIG_ARTIFACT).count(),
    }


def check(name: str) -> dict[str, Any]:
    """A registered model's link indexes, next_index and which index holds `latest`."""
    from registry.models import Link, LinkAlias, RegisteredModel

    rm = RegisteredModel.objects.get(entity__name=ENTITY, name=name)
    latest = LinkAlias.objects.filter(registered_model=rm, name="latest").values_list("link__index", flat=True)
    return {
        "indexes": sorted(Link.objects.filter(registered_model=rm).values_list("index", flat=True)),
        "next_index": rm.next_index,
        "latest": latest.first(),
    }


def upload_url(md5: str, size: int) -> dict[str, Any]:
    """A pending version expecting `big.bin` with these bytes, and the signed URL the SDK would PUT it to."""
    from django.contrib.auth import get_user_model
    from django.core import signing
    from django.urls import reverse

    from artifacts import services
    from artifacts.models import Entity, Project, Run
    from artifacts.storage import manifest_digest

    user = get_user_model().objects.get(username=USERNAME)
    project = Project.objects.get(entity=Entity.objects.get(name=ENTITY), name=PROJECT)
    run = Run.objects.filter(project=project).first()
    version = services.version_create(
        run=run,
        user=user,
        name="upload",
        type="model",
        digest=manifest_digest({"big.bin": md5}),
    ).version
    payload = {"version": version.pk, "path": "big.bin", "md5": md5, "user": user.pk}
    token = signing.dumps(payload, salt="wandb_api.upload", compress=True)
    return {"path": reverse("wandb_api:upload", args=[token]), "size": size}


def download_url(md5: str) -> dict[str, Any]:
    """The signed download URL of the stored blob with this MD5."""
    from django.core import signing
    from django.urls import reverse

    from artifacts.models import Blob

    blob = Blob.objects.get(md5=md5)
    token = signing.dumps({"blob": blob.sha256, "name": "big.bin"}, salt="wandb_api.download", compress=True)
    return {"path": reverse("wandb_api:download", args=[token]), "size": blob.size}


COMMANDS = {"populate": populate, "check": check, "upload-url": upload_url, "download-url": download_url}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")
    import django

    django.setup()
    command, args = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    print(json.dumps(COMMANDS[command](**args)))


if __name__ == "__main__":
    main()
