"""Reads for the registry pages, shaped so templates never query per row."""

import datetime
from collections.abc import Iterable

from django.db.models import Min, Prefetch, Q, QuerySet, Subquery, prefetch_related_objects
from django.shortcuts import get_object_or_404

from artifacts import names, permissions
from artifacts.models import Artifact, ArtifactAlias, ArtifactVersion, Entity, Event, Organization, Project
from artifacts.permissions import User
from artifacts.queries import VERSION_EVENTS, index_in, prefetched
from registry import permissions as registry_permissions
from registry.models import (
    LEGACY,
    Automation,
    Delivery,
    Link,
    LinkAlias,
    RegisteredModel,
    Registry,
    Webhook,
    scope_filter,
    scope_related,
)
from registry.permissions import Scope
from registry_site.prepared import Prepared

MODELS_PER_PAGE = 50


# Each sort ends on a unique key, and each is an index (RegisteredModel.Meta.indexes): the first page reads 50 rows.
SORTS = {"updated": ("-updated_at", "-id"), "name": ("name", "entity_id")}


def registered_models(user: User, search: str = "", sort: str = "updated") -> QuerySet[RegisteredModel]:
    """Legacy registered models the user may see, sorted by `sort` (a key of SORTS: last updated first, or by
    name). Nothing is counted: each row keeps its number of versions (RegisteredModel.num_versions). Their
    entities are prefetched, not joined: SQLite, knowing that a team's models all share one entity, would read the
    entities first and sort every model of the team instead of reading 50 by the index (see links_of)."""
    latest = LinkAlias.objects.filter(name="latest").select_related("link")
    qs = (
        RegisteredModel.objects.filter(LEGACY)
        .filter(permissions.visible_registries_q(user, prefix="entity__"))
        .prefetch_related("entity", Prefetch("aliases", queryset=latest, to_attr="latest_aliases"))
        .order_by(*SORTS.get(sort, SORTS["updated"]))
    )
    # A search uses its first ten words: each adds conditions, and a thousand make too deep a query.
    for term in search.split()[:10]:
        qs = qs.filter(Q(name__icontains=term) | Q(tags__icontains=term) | Q(description__icontains=term))
    return qs


def _addressed(entity: str, registry: str | None, project: str | None, prefix: str = "") -> dict:
    """A registered model as the URLs name it: `entity` + name (legacy), organization + registry + name, or
    entity + project + name (a portfolio)."""
    if registry is not None:
        return {f"{prefix}entity__name": entity, f"{prefix}registry__name": registry}
    if project is not None:
        return {f"{prefix}entity__name": entity, f"{prefix}project__name": project}
    return {f"{prefix}entity__name": entity, f"{prefix}registry__isnull": True, f"{prefix}project__isnull": True}


def registered_model_for_user(
    user: User, entity: str, name: str, registry: str | None = None, project: str | None = None
) -> RegisteredModel:
    """A legacy registered model (`entity`/`name`), a collection (`entity` the organization's, `registry`) or a
    portfolio (`entity`/`project`/`name`)."""
    rm = get_object_or_404(
        RegisteredModel.objects.select_related(*scope_related()),
        **_addressed(entity, registry, project),
        name=name,
    )
    registry_permissions.require_view(user, rm.scope)
    return rm


LINKS_PER_PAGE = 50


def link_position(link: Link) -> int:
    """Where `link` stands in its model's Versions table (newest first), counting from 0."""
    return Link.objects.filter(registered_model_id=link.registered_model_id, index__gt=link.index).count()


def links_of(rm: RegisteredModel) -> QuerySet[Link]:
    """The model's links, newest first. Their sources are prefetched, not joined: with inner joins SQLite may
    read the small tables first and sort every link of the model, instead of reading 50 by the index."""
    return (
        Link.objects.filter(registered_model=rm)
        .select_related("created_by")
        .prefetch_related(
            Prefetch(
                "registered_model",
                queryset=RegisteredModel.objects.select_related(*scope_related()),
            ),
            Prefetch(
                "source",
                queryset=ArtifactVersion.objects.select_related("artifact__project__entity").prefetch_related("tags"),
            ),
            "aliases",
        )
        .order_by("-index")
    )


def link_for_user(
    user: User, entity: str, name: str, index: int, registry: str | None = None, project: str | None = None
) -> Link:
    link = get_object_or_404(
        Link.objects.select_related(
            *scope_related("registered_model__"),
            "source__artifact__project__entity",
            "source__created_by_run",
            "source__created_by",
            "created_by",
        ),
        **_addressed(entity, registry, project, "registered_model__"),
        registered_model__name=name,
        index=index,
    )
    registry_permissions.require_view(user, link.registered_model.scope)
    return link


def links_by_index(rm: RegisteredModel, indexes: Iterable[int]) -> dict[int, Link]:
    """The registered model's links with these indexes (by index), with their aliases and sources."""
    found = {}
    links = (
        Link.objects.filter(index_in(indexes), registered_model=rm)
        .select_related("source__artifact__project__entity")
        .prefetch_related("aliases")
    )
    for link in links:
        link.registered_model = rm
        found[link.index] = link
    return found


def link_indexes(rm: RegisteredModel, indexes: Iterable[int]) -> set[int]:
    """Which of `indexes` name links of the registered model."""
    return set(Link.objects.filter(index_in(indexes), registered_model=rm).values_list("index", flat=True))


def link_by_alias_for_user(
    user: User, entity: str, name: str, alias: str, registry: str | None = None, project: str | None = None
) -> Link:
    rm = registered_model_for_user(user, entity, name, registry, project)
    found = get_object_or_404(LinkAlias.objects.select_related("link"), registered_model=rm, name=alias)
    return found.link


def link_aliases(link: Link) -> list[LinkAlias]:
    return list(link.aliases.order_by("name"))


def linkable_entities(user: User) -> QuerySet[Entity]:
    """Entities where the user may create registered models and link."""
    if user.is_authenticated and user.is_superuser:
        return Entity.objects.order_by("name")
    return Entity.objects.filter(memberships__user=user, memberships__role__in=permissions.WRITE_ROLES).order_by("name")


def linkable_models(user: User, entity: Entity, type: str) -> QuerySet[RegisteredModel]:
    """Registered models of the entity that the user may link to and that accept artifacts of `type`."""
    if not permissions.can_change(user, entity):
        return RegisteredModel.objects.none()
    return RegisteredModel.objects.filter(**scope_filter(entity), type=type).order_by("name")


def linkable_registries(user: User, version: ArtifactVersion) -> QuerySet[Registry]:
    """Registries of the version's organization that the user may link it into (member or admin) and that accept
    its type; none for a version of a team outside every organization."""
    organization_id = version.artifact.project.entity.organization_id
    if organization_id is None:
        return Registry.objects.none()
    registries = Registry.objects.filter(organization_id=organization_id).filter(
        registry_permissions.writable_registries_q(user)
    )
    type = version.artifact.type
    return (
        registries.select_related("organization")
        .order_by("name")
        .filter(pk__in=[r.pk for r in registries if r.accepts(type)])
    )


def linkable_collections(user: User, version: ArtifactVersion) -> QuerySet[RegisteredModel]:
    """Collections the version may be linked to by the user: of its type, in linkable_registries."""
    return (
        RegisteredModel.objects.filter(registry__in=linkable_registries(user, version), type=version.artifact.type)
        .select_related(*scope_related())
        .order_by("registry__name", "name")
    )


def source_teams(user: User, rm: RegisteredModel) -> QuerySet[Entity]:
    """Where the versions a registered model may link come from: its team, or its organization's teams (those
    the user belongs to)."""
    if not rm.is_collection:
        return Entity.objects.filter(pk=rm.entity_id)
    teams = Entity.objects.filter(organization_id=rm.registry.organization_id).order_by("name")
    if user.is_authenticated and user.is_superuser:
        return teams
    return teams.filter(permissions.visible_entities_q(user))


def model_projects(user: User, rm: RegisteredModel, team: Entity | None = None) -> QuerySet[Project]:
    """Projects holding committed artifacts of its type the user may read: of the registered model's entity, or
    for a collection of `team` (one of source_teams)."""
    if rm.is_collection and team is None:
        return Project.objects.none()
    return (
        Project.objects.filter(entity=team if rm.is_collection else rm.entity)
        .filter(permissions.visible_projects_q(user))
        .filter(artifacts__type=rm.type, artifacts__versions__state="COMMITTED")
        .distinct()
        .order_by("name")
    )


def model_artifacts(project: Project | None, rm: RegisteredModel) -> QuerySet[Artifact]:
    """Artifacts of the project that the registered model accepts, with a committed version."""
    if project is None:
        return Artifact.objects.none()
    return (
        Artifact.objects.filter(project=project, type=rm.type, versions__state="COMMITTED").distinct().order_by("name")
    )


# The Version select of Link new version lists this many at most; more are found by searching.
VERSION_CHOICES = 100
SEARCHABLE_FROM = 20


def artifact_versions(artifact: Artifact | None, search: str = "") -> QuerySet[ArtifactVersion]:
    """Committed versions, newest first; `search` matches a version (`12`, `v12`) or part of an alias."""
    if artifact is None:
        return ArtifactVersion.objects.none()
    qs = ArtifactVersion.committed.filter(artifact=artifact)
    if search:
        match = Q(aliases__name__icontains=search)
        if (index := names.parse_version(search if search.startswith("v") else f"v{search}")) is not None:
            match |= Q(index=index)
        qs = qs.filter(match).distinct()
    return qs.prefetch_related("aliases").order_by("-index")


# The W&B API lists versions with their aliases in every collection: their artifact's, and in each registered
# model that links them, the link's. Read for a whole page at once (three queries however many rows). Aliases are
# read without what they belong to, which version_memberships hands them: a version's aliases are of its artifact,
# a link's of the link's registered model. Joining those again costs PostgreSQL more to plan than to run.
def _memberships() -> tuple[str, Prefetch]:
    return (
        "aliases",
        Prefetch(
            "links",
            queryset=Link.objects.select_related(*scope_related("registered_model__")).prefetch_related("aliases"),
        ),
    )


def visible_versions(user: User, artifact: Artifact) -> tuple[QuerySet[ArtifactVersion], int]:
    """An artifact's committed versions, unordered, with their tags and memberships (see version_memberships), and
    how many (the count kept on its row); none when the user may not see its project."""
    if not permissions.can_view_project(user, artifact.project):
        return ArtifactVersion.objects.none(), 0
    versions = ArtifactVersion.committed.filter(artifact=artifact).prefetch_related(
        Prefetch("artifact", queryset=Artifact.objects.select_related("project__entity")), "tags", *_memberships()
    )
    return versions, artifact.num_versions


def visible_model_links(user: User, rm: RegisteredModel) -> tuple[QuerySet[Link], int]:
    """A registered model's links, unordered, with their sources and the sources' tags and memberships (see
    version_memberships), and how many (the count kept on its row); none when the user may not see the registry.
    Sources are prefetched, not joined (see links_of)."""
    if not registry_permissions.can_view(user, rm.scope):
        return Link.objects.none(), 0
    sources = ArtifactVersion.objects.select_related("artifact__project__entity").prefetch_related(
        "tags", *_memberships()
    )
    links = Link.objects.filter(registered_model=rm).prefetch_related(Prefetch("source", queryset=sources))
    return links, rm.num_versions


# One version's memberships, read by the API for the version a request names: prepared once
# (registry_site/prepared.py), with the same rows and order as _memberships' prefetching.
_ALIASES_OF_VERSION: Prepared[ArtifactAlias] = Prepared(lambda pk: ArtifactAlias.objects.filter(version_id=pk), int)
_LINKS_OF_SOURCE: Prepared[Link] = Prepared(
    lambda pk: Link.objects.select_related(*scope_related("registered_model__")).filter(source_id=pk), int
)


def _read_memberships(version: ArtifactVersion) -> None:
    """What prefetch_related_objects([version], *_memberships()) reads, for one version, without building its
    queries: set as Django's prefetching sets it, so `version.aliases.all()` and `version.links.all()` use it."""
    cache = version.__dict__.setdefault("_prefetched_objects_cache", {})
    if "aliases" not in cache:
        aliases = _ALIASES_OF_VERSION(version.pk)
        for alias in aliases:
            alias.version = version  # as prefetching sets the reverse relation
        cache["aliases"] = prefetched(version.aliases, aliases)
    if "links" not in cache:
        links = _LINKS_OF_SOURCE(version.pk)
        for link in links:
            link.source = version
        prefetch_related_objects(links, "aliases")
        cache["links"] = prefetched(version.links, links)


def version_memberships(user: User, version: ArtifactVersion) -> tuple[list[ArtifactAlias], list[Link]]:
    """The version's aliases in its artifact, and its links in registries the user may see, each with its
    aliases; read unless a page read them already (visible_versions, visible_model_links)."""
    _read_memberships(version)
    links = [link for link in version.links.all() if registry_permissions.can_view_model(user, link.registered_model)]
    for link in links:
        for alias in link.aliases.all():
            alias.registered_model = link.registered_model
    aliases = list(version.aliases.all())
    for alias in aliases:
        alias.artifact = version.artifact
    return aliases, links


def visible_models(user: User, scope: Scope, type: str | None = None) -> QuerySet[RegisteredModel]:
    """The registered models of an entity's Model Registry, or the collections of a registry (of one type, if
    given), unordered; none when the user may not see the registry."""
    if not registry_permissions.can_view(user, scope):
        return RegisteredModel.objects.none()
    models = RegisteredModel.objects.filter(**scope_filter(scope)).select_related(*scope_related())
    return models.filter(type=type) if type is not None else models


def visible_model_types(user: User, scope: Scope) -> QuerySet:
    """The types of the scope's registered models, by name, each with when its first model was created (`type`,
    `created_at`); none when the user may not see the registry."""
    return visible_models(user, scope).values("type").annotate(created_at=Min("created_at")).order_by("type")


def model_type_created(scope: Scope, type: str) -> datetime.datetime | None:
    """When the scope's first registered model of `type` was created; None when it has none."""
    qs = RegisteredModel.objects.filter(**scope_filter(scope), type=type)
    return qs.aggregate(first=Min("created_at"))["first"]


# W&B's current Registry: the organizations' registries and their collections.

COLLECTIONS_PER_PAGE = 50
RECENT_COLLECTIONS = 8
# Up to this many registries, the recent collections are read registry by registry (recent_collections).
RECENT_PER_REGISTRY_UP_TO = 100


def registries_for_user(user: User) -> QuerySet[Registry]:
    """The registries the user may see, by organization and name (each keeps its number of collections)."""
    return (
        Registry.objects.filter(registry_permissions.visible_registries_q(user))
        .select_related("organization")
        .order_by("organization__name", "name")
    )


def registry_for_user(user: User, organization: str, name: str) -> Registry:
    """A registry by its organization's and its own name; 404 when the user may not see it."""
    registry = get_object_or_404(
        Registry.objects.select_related("organization__entity"), organization__name=organization, name=name
    )
    registry_permissions.require_view(user, registry)
    return registry


def _visible_collections(user: User) -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.filter(registry__isnull=False).filter(
        registry_permissions.visible_registries_q(user, prefix="registry__")
    )


def recent_collections(registries: list[Registry]) -> list[RegisteredModel]:
    """The recently updated collections of `registries` (those a user may see, registries_for_user). Each
    registry's newest are read by its index and only those are sorted together: one query, however many
    collections the registries hold."""
    if not registries:
        return []
    if len(registries) <= RECENT_PER_REGISTRY_UP_TO:
        newest = Q()
        for registry in registries:
            latest = RegisteredModel.objects.filter(registry=registry).order_by("-updated_at", "-id")
            newest |= Q(pk__in=latest.values("pk")[:RECENT_COLLECTIONS])
    else:  # a site admin's view of many organizations: one condition per registry would be too deep a query
        newest = Q(registry__in=registries)
    qs = RegisteredModel.objects.filter(newest).prefetch_related(*scope_related()).order_by("-updated_at", "-id")
    return list(qs[:RECENT_COLLECTIONS])


def collections_of(registry: Registry, search: str = "") -> QuerySet[RegisteredModel]:
    """A registry's collections, last updated first, with their `latest` link (as registered_models). Their scope
    is prefetched, not joined (see registered_models)."""
    latest = LinkAlias.objects.filter(name="latest").select_related("link")
    qs = (
        RegisteredModel.objects.filter(registry=registry)
        .prefetch_related(*scope_related())
        .prefetch_related(Prefetch("aliases", queryset=latest, to_attr="latest_aliases"))
        .order_by("-updated_at", "-id")
    )
    for term in search.split()[:10]:
        qs = qs.filter(Q(name__icontains=term) | Q(tags__icontains=term) | Q(description__icontains=term))
    return qs


SEARCH_RESULTS = 20


def registry_search(user: User, search: str) -> dict[str, list]:
    """The Registry's search: registries (name, description), collections (name, tags, description), aliases
    (`collection:alias`) and versions by their tags, of what the user may see, each at most SEARCH_RESULTS."""
    terms = search.split()[:10]
    registries = Registry.objects.filter(registry_permissions.visible_registries_q(user)).select_related("organization")
    collections = _visible_collections(user).select_related(*scope_related())
    aliases = LinkAlias.objects.filter(registered_model__in=_visible_collections(user).values("pk")).select_related(
        "link", *scope_related("registered_model__")
    )
    tagged = Link.objects.filter(registered_model__in=_visible_collections(user).values("pk")).select_related(
        *scope_related("registered_model__")
    )
    for term in terms:
        registries = registries.filter(Q(name__icontains=term) | Q(description__icontains=term))
        collections = collections.filter(
            Q(name__icontains=term) | Q(tags__icontains=term) | Q(description__icontains=term)
        )
        aliases = aliases.filter(name__icontains=term)
        tagged = tagged.filter(source__tags__name__icontains=term)
    return {
        "registries": list(registries.order_by("name")[:SEARCH_RESULTS]),
        "collections": list(collections.order_by("-updated_at", "-id")[:SEARCH_RESULTS]),
        "aliases": list(aliases.order_by("name", "registered_model__name")[:SEARCH_RESULTS]),
        # Versions whose (source version's) tags match.
        "versions": list(tagged.distinct().order_by("-created_at", "-id")[:SEARCH_RESULTS]),
    }


def administered_organizations(user: User) -> QuerySet[Organization]:
    """Organizations where the user may create registries."""
    if user.is_authenticated and user.is_superuser:
        return Organization.objects.order_by("name")
    admin_ids = [org for org, role in registry_permissions.organization_roles(user).items() if role == "admin"]
    return Organization.objects.filter(pk__in=admin_ids).order_by("name")


def registry_members(registry: Registry) -> QuerySet:
    return registry.memberships.select_related("user").order_by("user__username")


def registry_team_members(registry: Registry) -> QuerySet:
    return registry.team_memberships.select_related("team").order_by("team__name")


# The organization's registries as W&B's API lists them (one query across registries, collections or versions).


def organization_for_user(user: User, name: str | None = None, entity: Entity | None = None) -> Organization | None:
    """An organization by its name or its own entity, when the user is a member of it; None otherwise."""
    lookup = {"entity": entity} if entity is not None else {"name": name or ""}
    organization = Organization.objects.select_related("entity").filter(**lookup).first()
    if organization is None or not registry_permissions.can_view_organization(user, organization):
        return None
    return organization


def organization_registries(user: User, organization: Organization) -> QuerySet[Registry]:
    """The organization's registries the user may see, unordered."""
    return (
        Registry.objects.filter(organization=organization)
        .filter(registry_permissions.visible_registries_q(user))
        .select_related("organization__entity")
    )


def organization_collections(user: User, registries: QuerySet[Registry]) -> QuerySet[RegisteredModel]:
    """The collections of `registries` (organization_registries, maybe narrowed), unordered."""
    return RegisteredModel.objects.filter(registry__in=registries).select_related(*scope_related())


def organization_links(user: User, collections: QuerySet[RegisteredModel]) -> QuerySet[Link]:
    """The links of `collections` (organization_collections, maybe narrowed), unordered, with their sources'
    tags and memberships (as visible_model_links)."""
    sources = ArtifactVersion.objects.select_related("artifact__project__entity").prefetch_related(
        "tags", *_memberships()
    )
    return (
        Link.objects.filter(registered_model__in=collections)
        .select_related(*scope_related("registered_model__"))
        .prefetch_related(Prefetch("source", queryset=sources))
    )


EVENTS_PER_PAGE = 50


def events_of(
    rm: RegisteredModel, *, alias: str = "", kind: str = "", hide_latest: bool = False, before: int | None = None
) -> list[Event]:
    """One page of the model's History, newest first, and one more row when an older page follows. Keyset paged
    (`before`: the id of the last event shown), so every page costs one query read by the (model, time, id)
    index."""
    qs = Event.objects.filter(registered_model_id=rm.pk)
    if alias:
        qs = qs.filter(alias=alias)
    elif hide_latest:
        qs = qs.exclude(alias=names.LATEST)
    if kind:
        qs = qs.filter(kind=kind)
    if before is not None:
        last = Subquery(Event.objects.filter(pk=before, registered_model_id=rm.pk).values("created_at")[:1])
        qs = qs.filter(Q(created_at__lt=last) | Q(created_at=last, pk__lt=before))
    return list(qs.order_by("-created_at", "-id")[: EVENTS_PER_PAGE + 1])


def event_aliases(rm: RegisteredModel) -> list[str]:
    """Every alias the model's History names, for its filter."""
    return list(
        Event.objects.filter(registered_model_id=rm.pk)
        .exclude(alias="")
        .order_by("alias")
        .values_list("alias", flat=True)
        .distinct()
    )


def events_of_link(link: Link) -> list[Event]:
    """The newest events of one registry version (the version panel lists them; the History tab has all), and
    one more when there are more."""
    qs = Event.objects.filter(registered_model_id=link.registered_model_id, object_id=link.pk)
    return list(qs.order_by("-created_at", "-id")[: VERSION_EVENTS + 1])


# Automations (admins of their team or registry only: the views check before asking).

DELIVERIES_PER_PAGE = 25


def automation_scope_for_user(user: User, entity: str, registry: str | None = None) -> Scope:
    """The team (`entity`), or the registry of organization `entity`, whose automations and webhooks these are:
    404 for those who may not see it, 403 for those who see it but are not its admins."""
    scope = registry_for_user(user, entity, registry) if registry else get_object_or_404(Entity, name=entity)
    registry_permissions.require_admin(user, scope)
    return scope


def _owned_by(scope: Scope) -> dict:
    return {"registry": scope} if isinstance(scope, Registry) else {"entity": scope}


def automations_of(scope: Scope) -> QuerySet[Automation]:
    return (
        Automation.objects.filter(**_owned_by(scope))
        .select_related("webhook", "registered_model", "entity", "registry__organization")
        .order_by("name")
    )


def model_automations(rm: RegisteredModel) -> QuerySet[Automation]:
    """The automations that watch a registered model (collection): its own and its scope's unscoped ones."""
    if rm.is_portfolio:
        return Automation.objects.none()
    return automations_of(rm.scope).filter(Q(registered_model=rm) | Q(registered_model__isnull=True))


def automation_models(scope: Scope) -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.filter(**scope_filter(scope)).order_by("name")


def webhooks_of(scope: Scope) -> QuerySet[Webhook]:
    return (
        Webhook.objects.filter(**_owned_by(scope)).select_related("entity", "registry__organization").order_by("name")
    )


def automation_for_user(user: User, entity: str, pk: int, registry: str | None = None) -> Automation:
    return get_object_or_404(automations_of(automation_scope_for_user(user, entity, registry)), pk=pk)


def deliveries_of(automation: Automation) -> QuerySet[Delivery]:
    """Newest first, each with its attempts: two queries a page, whatever its length."""
    return Delivery.objects.filter(automation=automation).prefetch_related("attempt_log").order_by("-id")
