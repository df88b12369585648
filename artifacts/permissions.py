"""May this user see / change this object? The one answer every view, command and API uses.

Seeing: an entity's members (any role) see its projects and its Model Registry (registered models, links);
anyone sees a public project. Whether a registry is visible depends on the entity and the user only, never on
a project: a public project does not open its entity's registry (and no project may take a registry's name,
see names.validate_project_name).
Changing (logging, linking, editing, aliases): admins and members. Protected registry aliases: admins only.
Superusers act as admins of every entity. A user who may not see an object gets 404, never 403, so private
names do not leak; a user who may see but not change it gets 403.
"""

import contextlib

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from artifacts.models import Entity, Membership, Project, Role
from registry_site.prepared import Prepared

User = AbstractBaseUser | AnonymousUser
WRITE_ROLES = {Role.ADMIN, Role.MEMBER}


# Read on (nearly) every request, so prepared once (registry_site/prepared.py).
_ROLES: Prepared[tuple[int, str]] = Prepared(
    lambda user_id: Membership.objects.filter(user_id=user_id).order_by().values_list("entity_id", "role"), int
)


def _roles(user: User) -> dict[int, str]:
    """The user's role per entity id, loaded once per user object."""
    if not user.is_authenticated:
        return {}
    cached = getattr(user, "_entity_roles", None)
    if cached is None:
        cached = dict(_ROLES(user.pk))
        user._entity_roles = cached
    return cached


# The roles cached on a user object: the entity roles here, and those registry.permissions derives.
CACHED_ROLES = ["_entity_roles"]


def forget_roles(user: User) -> None:
    """Drop the cached roles after memberships change."""
    # Not `user.__dict__`: request.user is a lazy proxy, whose own __dict__ is not the user's.
    for attr in CACHED_ROLES:
        with contextlib.suppress(AttributeError):
            delattr(user, attr)


def role_in(user: User, entity: Entity) -> str | None:
    if user.is_authenticated and user.is_superuser:
        return Role.ADMIN
    return _roles(user).get(entity.pk)


def can_view_entity(user: User, entity: Entity) -> bool:
    return role_in(user, entity) is not None


def can_view_project(user: User, project: Project) -> bool:
    return project.is_public or can_view_entity(user, project.entity)


def can_view_entity_page(user: User, entity: Entity) -> bool:
    """An entity's page, the list of its projects: for its members, and for anyone once it has a public project
    (who then sees the public projects only)."""
    return can_view_entity(user, entity) or Project.objects.filter(entity=entity, is_public=True).exists()


def can_view_registry(user: User, entity: Entity) -> bool:
    """The entity's Model Registry: its registered models, their links and aliases."""
    return can_view_entity(user, entity)


def can_change(user: User, entity: Entity) -> bool:
    """Log, link, edit descriptions, tags and unprotected aliases in this entity."""
    return role_in(user, entity) in WRITE_ROLES


def is_admin(user: User, entity: Entity) -> bool:
    return role_in(user, entity) == Role.ADMIN


def may_set_alias(user: User, entity: Entity, alias: str) -> bool:
    if alias in (entity.protected_aliases or []):
        return is_admin(user, entity)
    return can_change(user, entity)


def require_view_entity(user: User, entity: Entity) -> None:
    if not can_view_entity(user, entity):
        raise Http404("No such entity.")


def require_view_entity_page(user: User, entity: Entity) -> None:
    if not can_view_entity_page(user, entity):
        raise Http404("No such entity.")


def require_view_registry(user: User, entity: Entity) -> None:
    if not can_view_registry(user, entity):
        raise Http404("No such registered model.")


def require_view_project(user: User, project: Project) -> None:
    if not can_view_project(user, project):
        raise Http404("No such project.")


def require_change(user: User, entity: Entity, *, visible: bool | None = None) -> None:
    """404 when the user cannot see the entity's object at all, 403 when they see it but may not change it."""
    if can_change(user, entity):
        return
    if visible is None:
        visible = can_view_entity(user, entity)
    if not visible:
        raise Http404("Not found.")
    raise PermissionDenied(f"You need the member or admin role in '{entity.name}' to do this.")


def require_change_project(user: User, project: Project) -> None:
    """Write into a project: 404 when it is invisible to the user, 403 when it is only readable."""
    require_change(user, project.entity, visible=can_view_project(user, project))


def require_admin(user: User, entity: Entity) -> None:
    """Manage the entity's members and protected aliases: 404 when it is invisible to the user, 403 for
    members and viewers."""
    if is_admin(user, entity):
        return
    require_view_entity(user, entity)
    raise PermissionDenied(f"Only admins of '{entity.name}' may change its members and protected aliases.")


def can_see_account(viewer: User, user: User) -> bool:
    """Another user's account (email, teams, keys' names): their own, and site admins (superusers), who manage
    every account on the admin site anyway. Everyone else sees a name only."""
    return viewer.is_authenticated and (viewer.pk == user.pk or viewer.is_superuser)


def require_create_team(user: User) -> None:
    """Teams are made by the site's admins (superusers), as on the admin site."""
    if not (user.is_authenticated and user.is_superuser):
        raise PermissionDenied("Only site admins may create teams.")


def require_alias_allowed(user: User, entity: Entity, alias: str) -> None:
    require_change(user, entity)
    if not may_set_alias(user, entity, alias):
        raise PermissionDenied(
            f"The alias '{alias}' is protected: only admins of '{entity.name}' may set or remove it."
        )


def visible_projects_q(user: User, prefix: str = "") -> Q:
    """A filter for projects (or rows under them, via `prefix`) this user may see."""
    public = Q(**{f"{prefix}is_public": True})
    if user.is_authenticated and user.is_superuser:
        return Q()
    entity_ids = list(_roles(user))
    return public | Q(**{f"{prefix}entity_id__in": entity_ids})


def visible_entities_q(user: User, prefix: str = "") -> Q:
    """A filter for entities (or rows under them) this user may see."""
    if user.is_authenticated and user.is_superuser:
        return Q()
    return Q(**{f"{prefix}id__in": list(_roles(user))})


def visible_registries_q(user: User, prefix: str = "") -> Q:
    """A filter for registry rows (registered models, links: `prefix` leads to their entity) this user may see."""
    return visible_entities_q(user, prefix)
