"""Reads that span relations, shaped so templates never query per row."""

import datetime
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property

from artifacts import permissions, run_filters
from artifacts.models import (
    ApiKey,
    Artifact,
    ArtifactAlias,
    ArtifactFile,
    ArtifactOutput,
    ArtifactUsage,
    ArtifactVersion,
    Blob,
    BlobStatus,
    Entity,
    Event,
    HistoryRow,
    Membership,
    Project,
    Run,
    VersionState,
    VersionTag,
)
from artifacts.permissions import User
from registry_site.prepared import Prepared, first


def count_of(rows: QuerySet, field: str) -> Subquery:
    """The number of `rows` whose `field` is the outer row: a correlated subquery, so only the rows a page
    shows are counted (a join and GROUP BY would count every row before the page is cut)."""
    return Subquery(
        rows.filter(**{field: OuterRef("pk")}).order_by().values(n=Func(F("pk"), function="COUNT")),
        output_field=IntegerField(),
    )


def visible_projects(user: User) -> QuerySet[Project]:
    return (
        Project.objects.filter(permissions.visible_projects_q(user))
        .select_related("entity")
        .annotate(
            num_runs=count_of(Run.objects.all(), "project"),
            num_artifacts=count_of(Artifact.objects.filter(num_versions__gt=0), "project"),
        )
        .order_by("entity__name", "name")
    )


def entity_for_user(user: User, entity: str) -> Entity:
    """The entity, or 404 when it does not exist or its page is not for this user."""
    obj = get_object_or_404(Entity, name=entity)
    permissions.require_view_entity_page(user, obj)
    return obj


def projects_of(user: User, entity: Entity) -> QuerySet[Project]:
    """The entity's projects this user may see, with their counts."""
    return visible_projects(user).filter(entity=entity).order_by("name")


def project_for_user(user: User, entity: str, project: str) -> Project:
    """The project, or 404 when it does not exist or the user may not see it."""
    obj = get_object_or_404(Project.objects.select_related("entity"), entity__name=entity, name=project)
    permissions.require_view_project(user, obj)
    return obj


def runs_of(project: Project) -> QuerySet[Run]:
    """Newest first (an aggregate drops the model's default ordering)."""
    return (
        project.runs.select_related("created_by")
        .annotate(
            num_logged=count_of(ArtifactVersion.committed.all(), "created_by_run")
            + count_of(ArtifactOutput.objects.all(), "run"),
            num_used=count_of(ArtifactUsage.objects.all(), "run"),
        )
        .order_by("-created_at", "-id")
    )


def artifacts_of(project: Project) -> QuerySet[Artifact]:
    latest = ArtifactAlias.objects.filter(name="latest").select_related("version")
    return (
        project.artifacts.select_related("project__entity")
        .filter(num_versions__gt=0)
        .prefetch_related(Prefetch("aliases", queryset=latest, to_attr="latest_aliases"))
        .order_by("type", "name")
    )


class CappedPaginator(Paginator):
    """Counts at most CAP rows, because a count of every row grows with the table: past that the total reads
    "10,000+" and pages go as far as the cap (search or sort to reach the rest)."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by().values("pk")[: self.CAP + 1].count()

    @property
    def total(self) -> str:
        return f"{self.CAP:,}+" if self.count > self.CAP else f"{self.count:,}"


class CountedPaginator(Paginator):
    """A paginator given its total (a count kept on a row, such as Artifact.num_versions): it never counts."""

    def __init__(self, object_list: QuerySet, per_page: int, count: int) -> None:
        super().__init__(object_list, per_page)
        self.count = count

    @property
    def total(self) -> str:
        return f"{self.count:,}"


def _with_aliases(qs: QuerySet[ArtifactVersion]) -> QuerySet[ArtifactVersion]:
    return qs.select_related("artifact__project__entity").prefetch_related("aliases")


def run_for_user(user: User, entity: str, project: str, run_id: str) -> Run:
    run = get_object_or_404(
        Run.objects.select_related("project__entity", "created_by").prefetch_related("tags"),
        project__entity__name=entity,
        project__name=project,
        run_id=run_id,
    )
    permissions.require_view_project(user, run.project)
    return run


def runs_matching(project: Project, *, filters: dict | None = None, order: str | None = None) -> QuerySet[Run]:
    """The project's runs that meet W&B's `filters`, in W&B's `order` (see run_filters for what is supported)."""
    return (
        Run.objects.filter(project=project)
        .filter(run_filters.runs_q(filters))
        .select_related("project__entity", "created_by")
        .prefetch_related("tags")
        .order_by(*run_filters.runs_order(order))
    )


# At most this many history rows a request; W&B's SDK asks for 500 samples or pages of 1,000 rows.
HISTORY_MAX_ROWS = 10_000
# Sampling the rows that hold given keys looks at this many times the samples asked for.
HISTORY_OVERSAMPLE = 4


def history_rows(
    run: Run,
    *,
    samples: int,
    min_step: int | None = None,
    max_step: int | None = None,
    keys: list[str] | None = None,
) -> list[dict]:
    """Up to `samples` rows of the run's history with min_step <= step < max_step, by step: all of them when
    there are no more, else evenly spaced ones (by line, so gaps between steps do not matter). With `keys`, only
    rows that hold every key, reduced to those keys: evenly spaced among HISTORY_OVERSAMPLE × `samples` lines,
    which is every row whenever the range has no more lines than that.

    Three queries, each by index, fetching at most HISTORY_OVERSAMPLE × `samples` rows, however long the history.
    """
    if not 0 < samples <= HISTORY_MAX_ROWS:
        raise ValidationError(f"Ask for 1 to {HISTORY_MAX_ROWS:,} history rows at a time.", code="too_many")
    rows = HistoryRow.objects.filter(run=run)
    if min_step is not None:
        rows = rows.filter(step__gte=min_step)
    if max_step is not None:
        rows = rows.filter(step__lt=max_step)
    first = rows.order_by("step").values_list("line", flat=True).first()
    last = rows.order_by("-step").values_list("line", flat=True).first()
    if first is None or last is None:
        return []
    wanted = min(samples * HISTORY_OVERSAMPLE, HISTORY_MAX_ROWS) if keys else samples
    low, high = min(first, last), max(first, last)
    if keys:
        rows = rows.filter(data__has_keys=keys)
    if high - low + 1 > wanted:
        rows = rows.filter(line__in=_spread(low, high, wanted))
    data = list(rows.order_by("step").values_list("data", flat=True)[:wanted])
    if keys:
        data = [{key: row[key] for key in keys} for row in data]
    return _thin(data, samples)


def _spread(low: int, high: int, count: int) -> list[int]:
    """`count` integers evenly spaced from `low` to `high`, both included."""
    if count < 2:
        return [low]
    return sorted({low + round(i * (high - low) / (count - 1)) for i in range(count)})


def _thin(rows: list, count: int) -> list:
    """`count` of `rows`, evenly spaced, the first and last included."""
    if len(rows) <= count:
        return rows
    return [rows[i] for i in _spread(0, len(rows) - 1, count)]


def history_last_row(run: Run) -> dict | None:
    return HistoryRow.objects.filter(run=run).order_by("-step").values_list("data", flat=True).first()


def history_first_step(run: Run) -> int | None:
    return HistoryRow.objects.filter(run=run).order_by("step").values_list("step", flat=True).first()


def logged_by_q(run: Run) -> Q:
    """The committed versions `run` logged: first, or again with the same content (ArtifactOutput)."""
    return Q(created_by_run=run) | Q(pk__in=ArtifactOutput.objects.filter(run=run).values("version"))


def versions_logged_by(run: Run) -> QuerySet[ArtifactVersion]:
    return _with_aliases(ArtifactVersion.committed.filter(logged_by_q(run))).order_by("artifact__name", "-index")


def versions_used_by(user: User, run: Run) -> QuerySet[ArtifactVersion]:
    """Versions the run consumed that this user may see (they may live in another project)."""
    used = ArtifactUsage.objects.filter(run=run).values("version_id")
    return _with_aliases(
        ArtifactVersion.committed.filter(pk__in=used).filter(
            permissions.visible_projects_q(user, prefix="artifact__project__")
        )
    ).order_by("artifact__name", "-index")


def api_keys_of(user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)


ARTIFACTS_PER_PAGE = 50
RUNS_PER_PAGE = 50
PROJECTS_PER_PAGE = 50
VERSIONS_PER_PAGE = 50


def _matching(artifacts: QuerySet[Artifact], search: str) -> QuerySet[Artifact]:
    """Artifacts whose name, or a tag of one of whose committed versions, contains `search` (any case)."""
    if not search:
        return artifacts
    tagged = VersionTag.objects.filter(
        version__artifact=OuterRef("pk"), version__state=VersionState.COMMITTED, name__icontains=search
    )
    return artifacts.filter(Q(name__icontains=search) | Exists(tagged))


def artifact_types(project: Project, search: str = "") -> list[dict]:
    """The project's artifact types with committed versions (matching `search`), `model` first, then by name."""
    rows = (
        _matching(Artifact.objects.filter(project=project, num_versions__gt=0), search)
        .values("type")
        .annotate(num_artifacts=Count("id"))
        .order_by("type")
    )
    return sorted(rows, key=lambda r: (r["type"] != "model", r["type"]))


def visible_artifact_types(user: User, project: Project) -> QuerySet:
    """The project's artifact types with committed versions, by name, each with when its first artifact was
    created (`type`, `created_at`); none when the user may not see the project."""
    if not permissions.can_view_project(user, project):
        return Artifact.objects.none().values("type")
    return (
        Artifact.objects.filter(project=project, num_versions__gt=0)
        .values("type")
        .annotate(created_at=Min("created_at"))
        .order_by("type")
    )


def artifact_type_created(project: Project, type: str) -> datetime.datetime | None:
    """When the project's first artifact of `type` was created; None when it has none."""
    return Artifact.objects.filter(project=project, type=type).aggregate(first=Min("created_at"))["first"]


def visible_artifacts(user: User, project: Project, type: str | None = None) -> QuerySet[Artifact]:
    """The project's artifacts with committed versions (of one type, if given), unordered; none when the user may
    not see the project."""
    if not permissions.can_view_project(user, project):
        return Artifact.objects.none()
    artifacts = Artifact.objects.filter(project=project, num_versions__gt=0).select_related("project__entity")
    return artifacts.filter(type=type) if type is not None else artifacts


def artifacts_of_type(project: Project, type: str, search: str = "") -> QuerySet[Artifact]:
    return (
        _matching(Artifact.objects.filter(project=project, type=type, num_versions__gt=0), search)
        .select_related("project__entity")
        .order_by("name")
    )


def artifact_for_user(user: User, entity: str, project: str, type: str, name: str) -> Artifact:
    artifact = get_object_or_404(
        Artifact.objects.select_related("project__entity"),
        project__entity__name=entity,
        project__name=project,
        type=type,
        name=name,
    )
    permissions.require_view_project(user, artifact.project)
    if not artifact.num_versions:
        raise Http404("No committed versions.")
    return artifact


# A versions table row shows this many of its version's links ("Linked To"), then "more" to its panel, which lists
# them all: a version linked into thousands of collections costs a row no more than one linked into four.
LINKS_PER_ROW = 3


# The version an API request names, read on nearly every one of them: prepared once (registry_site/prepared.py).
_VERSION_BY_PK: Prepared[ArtifactVersion] = Prepared(
    lambda pk: ArtifactVersion.objects.select_related("artifact__project__entity").filter(pk=pk), int
)


_TAGS_OF_VERSION: Prepared[VersionTag] = Prepared(lambda pk: VersionTag.objects.filter(version_id=pk), int)


def version_tags(version: ArtifactVersion) -> list[VersionTag]:
    """The version's tags by name: those a page prefetched, else read (prepared) and kept as prefetching keeps
    them, so `version.tags.all()` reads nothing more."""
    cache = version.__dict__.setdefault("_prefetched_objects_cache", {})
    if "tags" not in cache:
        cache["tags"] = prefetched(version.tags, _TAGS_OF_VERSION(version.pk))
    return list(cache["tags"])


def prefetched(manager: Any, rows: list) -> QuerySet:
    """A related manager's queryset holding `rows`, as prefetch_related leaves it in the prefetch cache."""
    queryset = manager.get_queryset()
    queryset._result_cache, queryset._prefetch_done = rows, True
    return queryset


def version_with_project(pk: int) -> ArtifactVersion | None:
    """The version with this primary key, read with its artifact, project and entity; None when there is none.
    No access is checked: the caller decides who may see it."""
    return first(_VERSION_BY_PK, pk)


_ACTIVE_USER: Prepared[Any] = Prepared(
    lambda pk: get_user_model().objects.filter(pk=pk, is_active=True).order_by()[:1], int
)


def active_user(pk: int | None) -> Any | None:
    """The active user with this primary key (an id a signed URL carries), or None."""
    return first(_ACTIVE_USER, pk) if pk is not None else None


# The API's lookups by name, a few in every SDK request: prepared once too. None of them checks access.
_PROJECT_NAMED: Prepared[Project] = Prepared(
    lambda entity, name: Project.objects.select_related("entity").filter(entity__name=entity, name=name).order_by()[:1],
    str,
    str,
)
_ARTIFACT_NAMED: Prepared[Artifact] = Prepared(
    lambda project_id, name: Artifact.objects.filter(project_id=project_id, name=name).order_by()[:1], int, str
)
_COMMITTED_AT: Prepared[ArtifactVersion] = Prepared(
    lambda artifact_id, index: ArtifactVersion.committed.filter(artifact_id=artifact_id, index=index).order_by()[:1],
    int,
    int,
)
_COMMITTED_ALIASED: Prepared[ArtifactVersion] = Prepared(
    lambda artifact_id, alias: ArtifactVersion.committed.filter(
        artifact_id=artifact_id, aliases__name=alias
    ).order_by()[:1],
    int,
    str,
)


_RUN_NAMED: Prepared[Run] = Prepared(
    lambda project_id, run_id: Run.objects.filter(project_id=project_id, run_id=run_id).order_by()[:1], int, str
)


def project_named(entity: str, name: str) -> Project | None:
    """The project `<entity>/<name>`, read with its entity."""
    return first(_PROJECT_NAMED, entity, name)


def run_named(project: Project, run_id: str) -> Run | None:
    """The project's run `run_id`, its project set to `project`."""
    run = first(_RUN_NAMED, project.pk, run_id)
    if run is not None:
        run.project = project
    return run


def artifact_named(project: Project, name: str) -> Artifact | None:
    """The project's artifact (collection) `name`, its project set to `project`."""
    artifact = first(_ARTIFACT_NAMED, project.pk, name)
    if artifact is not None:
        artifact.project = project
    return artifact


def committed_version(
    artifact: Artifact, *, index: int | None = None, alias: str | None = None
) -> ArtifactVersion | None:
    """The artifact's committed version `v<index>` when an index is given, else the one holding `alias`, its
    artifact set to `artifact`; pending versions never match."""
    version = (
        first(_COMMITTED_AT, artifact.pk, index) if index is not None else first(_COMMITTED_ALIASED, artifact.pk, alias)
    )
    if version is not None:
        version.artifact = artifact
    return version


def versions_of(artifact: Artifact) -> QuerySet[ArtifactVersion]:
    """Committed versions, newest first, with what a versions table shows; `first_links` holds each version's
    first LINKS_PER_ROW + 1 links of every registry: with_visible_links keeps those the user may see."""
    first_links = Prefetch("links", queryset=_links_qs()[: LINKS_PER_ROW + 1], to_attr="first_links")
    return (
        ArtifactVersion.committed.filter(artifact=artifact)
        .prefetch_related(_artifact_prefetch(), "aliases", first_links)
        .order_by("-index")
    )


def _artifact_prefetch() -> Prefetch:
    """Versions' artifact with its project and entity, prefetched rather than joined: with inner joins SQLite
    may read the small tables first and sort every version of the artifact, instead of 50 by the index."""
    return Prefetch("artifact", queryset=Artifact.objects.select_related("project__entity"))


def with_visible_links(user: User, versions: Iterable[ArtifactVersion]) -> None:
    """Set `visible_links` (at most LINKS_PER_ROW) and `more_links` on versions read by versions_of. When links the
    user may not see took places among a version's first ones, its links are read again in full (one query for all
    such versions), so that neither a visible link nor the existence of a hidden one is misreported."""
    versions = list(versions)
    refetch = {}
    for version in versions:
        visible = _visible_links(user, version.first_links)
        if len(visible) < len(version.first_links) == LINKS_PER_ROW + 1:
            refetch[version.pk] = version
        version.visible_links, version.more_links = visible[:LINKS_PER_ROW], len(visible) > LINKS_PER_ROW
    if refetch:
        links: dict[int, list] = {pk: [] for pk in refetch}
        for link in _links_qs().filter(source_id__in=refetch):
            links[link.source_id].append(link)
        for pk, version in refetch.items():
            visible = _visible_links(user, links[pk])
            version.visible_links, version.more_links = visible[:LINKS_PER_ROW], len(visible) > LINKS_PER_ROW


def version_labels(artifact: Artifact) -> QuerySet[ArtifactVersion]:
    """Committed versions, newest first, with their aliases: what a list of version names shows."""
    return (
        ArtifactVersion.committed.filter(artifact=artifact)
        .prefetch_related(_artifact_prefetch(), "aliases")
        .order_by("-index")
    )


LINKED_COLLECTIONS_SHOWN = 50


def linked_collections(project: Project) -> list:
    """The project's collections of linked versions (registry.models.RegisteredModel with `project`, W&B's
    portfolios, read through the reverse relation), by name: the first LINKED_COLLECTIONS_SHOWN, and one more to
    tell that more exist."""
    return list(project.portfolios.select_related("entity", "project").order_by("name")[: LINKED_COLLECTIONS_SHOWN + 1])


def _links_qs() -> QuerySet:
    """Registry links of versions, read through the reverse relation (artifacts never imports registry)."""
    Link = ArtifactVersion._meta.get_field("links").related_model
    return Link.objects.select_related(
        "registered_model__entity", "registered_model__registry__organization", "registered_model__project__entity"
    ).order_by("registered_model__name", "index")


def _visible_links(user: User, links: Iterable) -> list:
    """The links in registries the user may see (a public project's versions may be linked in a registry the
    user may not see). Checked here, not in SQL: a filter on the registry's entity leads the database to read
    every link of the entity's registered models instead of the few links of these versions."""
    return [link for link in links if link.registered_model.viewable_by(user)]


def version_by_alias_for_user(
    user: User, entity: str, project: str, type: str, name: str, alias: str
) -> ArtifactVersion:
    """The committed version an alias (`latest`, `production`) points at; 404 for an unknown alias."""
    artifact = artifact_for_user(user, entity, project, type, name)
    found = get_object_or_404(
        ArtifactAlias.objects.select_related("version"), artifact=artifact, name=alias, version__state="COMMITTED"
    )
    found.version.artifact = artifact
    return found.version


def version_for_user(user: User, entity: str, project: str, type: str, name: str, index: int) -> ArtifactVersion:
    version = get_object_or_404(
        ArtifactVersion.committed.select_related("artifact__project__entity", "created_by_run", "created_by"),
        artifact__project__entity__name=entity,
        artifact__project__name=project,
        artifact__type=type,
        artifact__name=name,
        index=index,
    )
    permissions.require_view_project(user, version.artifact.project)
    return version


def index_in(indexes: Iterable[int]) -> Q:
    """`index` is one of `indexes`, as exact lookups: those match nothing for a number past the column's range
    (a URL's `v99999999999999999999`), where an `__in` lookup hands it to the database, which fails."""
    q = Q(pk__in=[])
    for index in set(indexes):
        q |= Q(index=index)
    return q


def versions_by_index(artifact: Artifact, indexes: Iterable[int]) -> dict[int, ArtifactVersion]:
    """The artifact's committed versions with these indexes (by index), with their aliases."""
    found = {}
    for version in ArtifactVersion.committed.filter(index_in(indexes), artifact=artifact).prefetch_related("aliases"):
        version.artifact = artifact
        found[version.index] = version
    return found


def version_indexes(artifact: Artifact, indexes: Iterable[int]) -> set[int]:
    """Which of `indexes` name committed versions of the artifact."""
    return set(ArtifactVersion.committed.filter(index_in(indexes), artifact=artifact).values_list("index", flat=True))


def version_aliases(version: ArtifactVersion) -> list[ArtifactAlias]:
    return list(version.aliases.order_by("name"))


def version_links(user: User, version: ArtifactVersion) -> list:
    return _visible_links(user, _links_qs().filter(source=version))


def version_files(version: ArtifactVersion) -> QuerySet[ArtifactFile]:
    return version.files.select_related("blob").order_by("path")


def consumers_of(user: User, version: ArtifactVersion) -> QuerySet[Run]:
    """Runs that used the version, in projects this user may see."""
    return (
        Run.objects.filter(usages__version=version)
        .filter(permissions.visible_projects_q(user, prefix="project__"))
        .select_related("project__entity")
        .order_by("-usages__created_at")
    )


def num_consumers(user: User, version: ArtifactVersion) -> int:
    return consumers_of(user, version).count()


def stored_blob(entity, md5: str) -> Blob | None:
    """Bytes with this base64 MD5 already held by a file of the entity and not known to be missing or corrupt
    (lets a client skip the upload). Scoped to the entity so that nobody learns what another team stores."""
    return first(_STORED_BLOB, md5, entity.pk)


_STORED_BLOB: Prepared[Blob] = Prepared(
    lambda md5, entity_id: Blob.objects.filter(
        md5=md5, status=BlobStatus.OK, files__version__artifact__project__entity_id=entity_id
    ).order_by("pk")[:1],
    str,
    int,
)


# Lineage: each hop is one or two queries for a whole layer, never one per node. A layer shows at most
# LINEAGE_LAYER_CAP nodes; `total` (a window count over the same rows) says how many there are in all.
LINEAGE_LAYER_CAP = 20


def _visible_versions(user: User) -> QuerySet[ArtifactVersion]:
    return ArtifactVersion.committed.filter(
        permissions.visible_projects_q(user, prefix="artifact__project__")
    ).select_related("artifact__project__entity")


def _visible_runs(user: User) -> QuerySet[Run]:
    return Run.objects.filter(permissions.visible_projects_q(user, prefix="project__")).select_related(
        "project__entity"
    )


def _layer(qs: QuerySet) -> tuple[list, int]:
    rows = list(qs.annotate(layer_total=Window(Count("pk")))[:LINEAGE_LAYER_CAP])
    return rows, (rows[0].layer_total if rows else 0)


def lineage_producers(user: User, versions: list[ArtifactVersion], exclude: set[int]) -> list[Run]:
    """The runs that logged `versions` (one each at most, so never more than the versions)."""
    ids = {v.created_by_run_id for v in versions if v.created_by_run_id} - exclude
    return list(_visible_runs(user).filter(pk__in=ids))


def lineage_inputs(
    user: User, runs: list[Run], exclude: set[int]
) -> tuple[list[ArtifactVersion], int, list[tuple[int, int]]]:
    """Versions the runs used: the first of them, how many in all, and the (version id, run id) edges."""
    used = ArtifactUsage.objects.filter(run__in=[r.pk for r in runs])
    qs = _visible_versions(user).filter(pk__in=used.values("version_id")).exclude(pk__in=exclude)
    versions, total = _layer(qs.order_by("artifact__name", "-index"))
    edges = list(used.filter(version__in=[v.pk for v in versions]).values_list("version_id", "run_id"))
    return versions, total, edges


def lineage_consumers(
    user: User, versions: list[ArtifactVersion], exclude: set[int]
) -> tuple[list[Run], int, list[tuple[int, int]]]:
    """Runs that used the versions, newest first: the first of them, how many in all, and the
    (version id, run id) edges."""
    used = ArtifactUsage.objects.filter(version__in=[v.pk for v in versions])
    qs = _visible_runs(user).filter(pk__in=used.values("run_id")).exclude(pk__in=exclude)
    runs, total = _layer(qs.order_by("-created_at", "-id"))
    edges = list(used.filter(run__in=[r.pk for r in runs]).values_list("version_id", "run_id"))
    return runs, total, edges


def lineage_outputs(user: User, runs: list[Run], exclude: set[int]) -> tuple[list[ArtifactVersion], int]:
    """Versions the runs logged: the first of them and how many in all (each names its run)."""
    qs = _visible_versions(user).filter(created_by_run__in=[r.pk for r in runs]).exclude(pk__in=exclude)
    return _layer(qs.order_by("artifact__name", "-index"))


def team_for_user(user: User, name: str) -> Entity:
    """The entity as a team (its settings), or 404 when it does not exist or the user is not in it."""
    entity = get_object_or_404(Entity, name=name)
    permissions.require_view_entity(user, entity)
    return entity


def members_of(entity: Entity) -> QuerySet[Membership]:
    return Membership.objects.filter(entity=entity).select_related("user").order_by("user__username")


def teams_of(user: User) -> list[tuple[Entity, str]]:
    """The entities the user may see, with their role in each (superusers: every entity, as admin)."""
    if not user.is_authenticated:
        return []
    if user.is_superuser:
        return [(e, "admin") for e in Entity.objects.order_by("name")]
    return [(m.entity, m.role) for m in Membership.objects.filter(user=user).select_related("entity")]


# A version panel's events: the newest few (the rest are the registry's History, or the admin's).
VERSION_EVENTS = 10


def events_of_version(version: ArtifactVersion) -> list[Event]:
    """The newest artifact-side events of `version`, and one more when there are more. A registry's events of its
    link (which name this version as their source) are not listed: they are for who may see that registry."""
    qs = Event.objects.filter(version=version, registered_model_id__isnull=True)
    return list(qs.order_by("-created_at", "-id")[: VERSION_EVENTS + 1])
