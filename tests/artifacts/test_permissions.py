import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from artifacts import permissions
from tests.factories import make_project, make_user


def test_roles_decide_what_each_persona_may_do(team, project):
    e = team.entity
    assert permissions.can_view_project(team.viewer, project)
    assert not permissions.can_view_project(team.outsider, project)
    assert not permissions.can_view_project(AnonymousUser(), project)
    assert permissions.can_change(team.member, e) and permissions.can_change(team.admin, e)
    assert not permissions.can_change(team.viewer, e)
    assert permissions.is_admin(team.admin, e) and not permissions.is_admin(team.member, e)


def test_a_public_project_is_visible_to_anyone_but_changeable_only_by_members(team):
    public = make_project(team.entity, "open-data", public=True)
    assert permissions.can_view_project(AnonymousUser(), public)
    assert permissions.can_view_project(team.outsider, public)
    with pytest.raises(PermissionDenied):
        permissions.require_change(team.outsider, e := team.entity, visible=True)
    assert not permissions.can_change(team.outsider, e)


def test_not_visible_is_404_and_visible_but_not_allowed_is_403(team):
    with pytest.raises(Http404):
        permissions.require_change(team.outsider, team.entity)
    with pytest.raises(PermissionDenied):
        permissions.require_change(team.viewer, team.entity)


def test_protected_aliases_need_an_admin(team):
    assert permissions.may_set_alias(team.admin, team.entity, "production")
    assert not permissions.may_set_alias(team.member, team.entity, "production")
    assert permissions.may_set_alias(team.member, team.entity, "staging")


def test_a_superuser_acts_as_admin_everywhere(team):
    root = make_user("root", superuser=True)
    assert permissions.is_admin(root, team.entity)
