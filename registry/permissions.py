"""May this user see / change this registry? Legacy registries and the organizations' registries alike.

A registered model lives in a *scope*: its team's Model Registry (an Entity: the team's roles and protected
aliases, artifacts.permissions), a Registry of an organization, or (a portfolio) an ordinary Project of a team,
which the project's readers see and the team's members and admins change, under the team's protected aliases.
A registry's roles:
- superusers and the organization's admins (admins of any of its teams) are admins of every registry;
- a registry member has the role given to them there (admin, member, viewer, restricted_viewer), directly or
  through a team given a role there: the highest of these (W&B's inherited roles). Members need not belong to
  the organization: the registry is open to them, nothing else of the organization;
- on an organization-wide registry, every other member of the organization (of any of its teams) is a viewer;
  a restricted registry is invisible to them.
Admins and members link, create collections and edit them; admins also delete collections, change the registry's
settings, members and protected aliases, and set protected aliases. Restricted viewers see collections and
versions (metadata, file lists) but neither download nor use their files. A user who may not see a registry gets 404,
one who sees it but may not change it 403, as everywhere else.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from artifacts import permissions as team
from artifacts.models import ArtifactVersion, Entity, Membership, Organization, Project, Role
from artifacts.permissions import User
from registry.models import (
    Link,
    RegisteredModel,
    Registry,
    RegistryMember,
    RegistryRole,
    RegistryTeamMember,
    Visibility,
    scope_related,
)

Scope = Entity | Registry | Project
ROLE_RANK = {RegistryRole.RESTRICTED_VIEWER: -1, Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2}


def _cached(user: User, attr: str, load) -> dict:
    if not user.is_authenticated:
        return {}
    cached = getattr(user, attr, None)
    if cached is None:
        cached = load()
        setattr(user, attr, cached)
    return cached


def organization_roles(user: User) -> dict[int, str]:
    """The user's role per organization id: their highest role in any of its teams, or in the organization's own
    entity (members of an organization without teams, as W&B's test fixtures make them)."""

    def load() -> dict[int, str]:
        roles: dict[int, str] = {}
        rows = Membership.objects.filter(
            Q(entity__organization__isnull=False) | Q(entity__organization_of__isnull=False), user=user
        ).order_by()
        for team_org_id, own_org_id, role in rows.values_list(
            "entity__organization_id", "entity__organization_of__id", "role"
        ):
            _highest(roles, team_org_id or own_org_id, role)
        return roles

    return _cached(user, "_organization_roles", load)


def _highest(roles: dict[int, str], key: int, role: str) -> None:
    if ROLE_RANK[role] > ROLE_RANK.get(roles.get(key), -2):
        roles[key] = role


def _registry_roles(user: User) -> dict[int, str]:
    """The user's role per registry id where they were given one, themself or through a team they are in: the
    highest."""

    def load() -> dict[int, str]:
        roles: dict[int, str] = {}
        own = RegistryMember.objects.filter(user=user).order_by().values_list("registry_id", "role")
        teams = (
            RegistryTeamMember.objects.filter(team__memberships__user=user)
            .order_by()
            .values_list("registry_id", "role")
        )
        for registry_id, role in [*own, *teams]:
            _highest(roles, registry_id, role)
        return roles

    return _cached(user, "_registry_roles", load)


team.CACHED_ROLES.extend(["_organization_roles", "_registry_roles"])
forget_roles = team.forget_roles


def is_organization_admin(user: User, organization_id: int) -> bool:
    if user.is_authenticated and user.is_superuser:
        return True
    return organization_roles(user).get(organization_id) == Role.ADMIN


def is_organization_member(user: User, organization_id: int) -> bool:
    if user.is_authenticated and user.is_superuser:
        return True
    return organization_id in organization_roles(user)


def role(user: User, scope: Scope) -> str | None:
    if isinstance(scope, Entity):
        return team.role_in(user, scope)
    if isinstance(scope, Project):
        found = team.role_in(user, scope.entity)
        return Role.VIEWER if found is None and scope.is_public else found
    if is_organization_admin(user, scope.organization_id):
        return Role.ADMIN
    explicit = _registry_roles(user).get(scope.pk)
    if explicit is not None:
        return explicit
    if scope.visibility == Visibility.ORGANIZATION and is_organization_member(user, scope.organization_id):
        return Role.VIEWER
    return None


def can_view(user: User, scope: Scope) -> bool:
    return role(user, scope) is not None


def can_download(user: User, scope: Scope) -> bool:
    """Read files (download, use): everyone who sees it but a restricted viewer."""
    return role(user, scope) not in (None, RegistryRole.RESTRICTED_VIEWER)


def can_change(user: User, scope: Scope) -> bool:
    return role(user, scope) in team.WRITE_ROLES


def is_admin(user: User, scope: Scope) -> bool:
    return role(user, scope) == Role.ADMIN


def protected_aliases(scope: Scope) -> set[str]:
    if isinstance(scope, Project):
        scope = scope.entity
    return set(scope.protected_aliases or [])


def may_set_alias(user: User, scope: Scope, alias: str) -> bool:
    if alias in protected_aliases(scope):
        return is_admin(user, scope)
    return can_change(user, scope)


def _scope_name(scope: Scope) -> str:
    if isinstance(scope, Project):
        return f"'{scope.entity.name}'"
    return f"'{scope.name}'" if isinstance(scope, Entity) else f"the {scope.name} registry"


def require_view(user: User, scope: Scope) -> None:
    if not can_view(user, scope):
        raise Http404(
            {Registry: "No such registry.", Project: "No such project."}.get(type(scope), "No such registered model.")
        )


def require_change(user: User, scope: Scope) -> None:
    """404 when the user cannot see the registry, 403 when they see it but may not change it."""
    if can_change(user, scope):
        return
    require_view(user, scope)
    raise PermissionDenied(f"You need the member or admin role in {_scope_name(scope)} to do this.")


def require_admin(user: User, scope: Scope) -> None:
    if is_admin(user, scope):
        return
    require_view(user, scope)
    raise PermissionDenied(f"Only admins of {_scope_name(scope)} may do this.")


def require_alias_allowed(user: User, scope: Scope, alias: str) -> None:
    require_change(user, scope)
    if not may_set_alias(user, scope, alias):
        raise PermissionDenied(
            f"The alias '{alias}' is protected: only admins of {_scope_name(scope)} may set or remove it."
        )


def require_create_registry(user: User, organization_id: int) -> None:
    """Organization admins create registries: 404 for those outside the organization, 403 for its members."""
    if is_organization_admin(user, organization_id):
        return
    if not is_organization_member(user, organization_id):
        raise Http404("No such organization.")
    raise PermissionDenied("Only organization admins may create registries.")


def can_view_entity(user: User, entity: Entity) -> bool:
    """An entity by name: a team (its members), or an organization's own entity, which holds its registries
    (every member of the organization sees it, and there the registries they may see)."""
    if team.can_view_entity(user, entity):
        return True
    organization_id = Organization.objects.filter(entity=entity).values_list("pk", flat=True).first()
    return organization_id is not None and is_organization_member(user, organization_id)


def can_view_organization(user: User, organization: Organization) -> bool:
    return is_organization_member(user, organization.pk)


def can_view_model(user: User, registered_model: RegisteredModel) -> bool:
    return can_view(user, registered_model.scope)


def can_view_version(user: User, version: ArtifactVersion) -> bool:
    """Its project's readers see a version, and so do those who see a registered model or collection linking it
    (a registry member outside the source team reads, and sets registry aliases on, what the registry holds)."""
    if team.can_view_project(user, version.artifact.project):
        return True
    links = Link.objects.filter(source=version).select_related(*scope_related("registered_model__"))
    return version.is_committed and any(can_view_model(user, link.registered_model) for link in links)


def can_download_version(user: User, version: ArtifactVersion) -> bool:
    """Its project's readers download a version's files, and so do those who may download from a registered model
    or collection linking it: a restricted viewer of every registry linking it sees it but gets no bytes."""
    if team.can_view_project(user, version.artifact.project):
        return True
    links = Link.objects.filter(source=version).select_related("registered_model__registry", "registered_model__entity")
    return version.is_committed and any(can_download(user, link.registered_model.scope) for link in links)


def require_download_version(user: User, version: ArtifactVersion) -> None:
    """404 when the user may not see the version, 403 when they see it but may not read its files."""
    if can_download_version(user, version):
        return
    if not can_view_version(user, version):
        raise Http404("No such version.")
    raise PermissionDenied("Restricted viewers see this version but may not download or use its files.")


def may_link_from(version: ArtifactVersion, scope: Scope) -> bool:
    """A version may be linked into its own team's Model Registry or projects, or into registries of its own
    organization."""
    entity = version.artifact.project.entity
    if isinstance(scope, Project):
        return entity.pk == scope.entity_id
    if isinstance(scope, Entity):
        return entity.pk == scope.pk
    return entity.organization_id == scope.organization_id


def visible_registries_q(user: User, prefix: str = "") -> Q:
    """A filter for registries (or rows under them, via `prefix`) this user may see."""
    if user.is_authenticated and user.is_superuser:
        return Q()
    org_ids = list(organization_roles(user))
    admin_org_ids = [org for org, r in organization_roles(user).items() if r == Role.ADMIN]
    return (
        Q(**{f"{prefix}organization_id__in": admin_org_ids})
        | Q(**{f"{prefix}id__in": list(_registry_roles(user))})
        | Q(**{f"{prefix}organization_id__in": org_ids, f"{prefix}visibility": Visibility.ORGANIZATION})
    )


def writable_registries_q(user: User, prefix: str = "") -> Q:
    """A filter for registries this user may link into and create collections in."""
    if user.is_authenticated and user.is_superuser:
        return Q()
    admin_org_ids = [org for org, r in organization_roles(user).items() if r == Role.ADMIN]
    writer_ids = [reg for reg, r in _registry_roles(user).items() if r in team.WRITE_ROLES]
    return Q(**{f"{prefix}organization_id__in": admin_org_ids}) | Q(**{f"{prefix}id__in": writer_ids})


def visible_models_q(user: User, prefix: str = "") -> Q:
    """A filter for registered models and collections (or rows under them) this user may see."""
    if user.is_authenticated and user.is_superuser:
        return Q()
    legacy = Q(**{f"{prefix}registry__isnull": True, f"{prefix}project__isnull": True})
    legacy &= team.visible_registries_q(user, f"{prefix}entity__")
    registry_prefix = f"{prefix}registry__"
    collections = Q(**{f"{prefix}registry__isnull": False}) & visible_registries_q(user, registry_prefix)
    portfolios = Q(**{f"{prefix}project__isnull": False}) & team.visible_projects_q(user, f"{prefix}project__")
    return legacy | collections | portfolios
