"""Team settings without the admin site: members, roles and protected aliases, reached from the registry's gear."""

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains

from artifacts import services
from artifacts.models import Entity, Membership, Role
from tests.factories import make_entity, make_user, snapshot

HX = {"HX-Request": "true"}
TEAM = "/registry/settings/reviewco"


def _role(entity, user) -> str | None:
    return Membership.objects.filter(entity=entity, user=user).values_list("role", flat=True).first()


def _protected() -> list[str]:
    return Entity.objects.get(name="reviewco").protected_aliases


# The services


def test_an_admin_adds_an_existing_user_by_username(team):
    newcomer = make_user("nina")
    services.membership_add(entity=team.entity, username="nina", role=Role.VIEWER, actor=team.admin)
    assert _role(team.entity, newcomer) == Role.VIEWER


def test_adding_an_unknown_or_present_user_is_refused_and_writes_nothing(team):
    before = snapshot()
    with pytest.raises(ValidationError, match="There is no user named 'ghost'"):
        services.membership_add(entity=team.entity, username="ghost", role=Role.MEMBER, actor=team.admin)
    with pytest.raises(ValidationError, match="bob is already in 'reviewco'"):
        services.membership_add(entity=team.entity, username="bob", role=Role.ADMIN, actor=team.admin)
    with pytest.raises(ValidationError, match="Unknown role"):
        services.membership_set(entity=team.entity, user=team.member, role="owner", actor=team.admin)
    assert snapshot() == before
    assert _role(team.entity, team.member) == Role.MEMBER


def test_the_last_admin_cannot_be_demoted_or_removed(team):
    before = snapshot()
    with pytest.raises(ValidationError, match="alice is the last admin of 'reviewco'"):
        services.membership_set(entity=team.entity, user=team.admin, role=Role.MEMBER, actor=team.admin)
    with pytest.raises(ValidationError, match="last admin"):
        services.membership_remove(entity=team.entity, user=team.admin, actor=team.admin)
    assert snapshot() == before
    assert _role(team.entity, team.admin) == Role.ADMIN
    # With a second admin, either may step down.
    services.membership_set(entity=team.entity, user=team.member, role=Role.ADMIN, actor=team.admin)
    services.membership_remove(entity=team.entity, user=team.admin, actor=team.admin)
    assert _role(team.entity, team.admin) is None


def test_members_and_viewers_get_403_and_outsiders_404_and_nothing_is_written(team):
    newcomer = make_user("nina")
    before = snapshot()
    for user in (team.member, team.viewer):
        with pytest.raises(PermissionDenied):
            services.membership_add(entity=team.entity, username="nina", role=Role.MEMBER, actor=user)
        with pytest.raises(PermissionDenied):
            services.membership_set(entity=team.entity, user=team.viewer, role=Role.ADMIN, actor=user)
        with pytest.raises(PermissionDenied):
            services.membership_remove(entity=team.entity, user=team.viewer, actor=user)
        with pytest.raises(PermissionDenied):
            services.entity_protected_alias_add(entity=team.entity, name="staging", actor=user)
        with pytest.raises(PermissionDenied):
            services.entity_protected_alias_remove(entity=team.entity, name="production", actor=user)
    with pytest.raises(Http404):
        services.membership_add(entity=team.entity, username="nina", role=Role.MEMBER, actor=team.outsider)
    with pytest.raises(Http404):
        services.entity_protected_alias_add(entity=team.entity, name="staging", actor=team.outsider)
    assert snapshot() == before
    assert _role(team.entity, newcomer) is None
    assert _protected() == ["production"]


def test_protected_aliases_are_added_and_removed_by_admins(team):
    services.entity_protected_alias_add(entity=team.entity, name="staging", actor=team.admin)
    assert _protected() == ["production", "staging"]
    services.entity_protected_alias_remove(entity=team.entity, name="production", actor=team.admin)
    assert _protected() == ["staging"]


def test_bad_protected_aliases_are_refused(team):
    for name, message in [
        ("latest", "managed automatically"),
        ("v3", "version numbers"),
        ("bad name", "Invalid alias"),
        ("production", "already protected"),
    ]:
        with pytest.raises(ValidationError, match=message):
            services.entity_protected_alias_add(entity=team.entity, name=name, actor=team.admin)
    with pytest.raises(ValidationError, match="is not protected"):
        services.entity_protected_alias_remove(entity=team.entity, name="staging", actor=team.admin)
    assert _protected() == ["production"]


# The pages


@pytest.fixture
def admin(client, team):
    client.force_login(team.admin)
    return client


def test_the_registry_page_has_a_settings_gear(admin):
    assertContains(admin.get("/registry/model"), 'href="/registry/settings" aria-label="Registry settings"')


def test_the_gear_lists_the_users_teams_or_opens_the_only_one(client, team):
    client.force_login(team.member)
    r = client.get("/registry/settings")
    assert r.status_code == 302 and r["Location"] == TEAM
    make_entity("visionco", viewer=[team.member])
    r = client.get("/registry/settings")
    assertContains(r, 'aria-label="Settings of reviewco"')
    assertContains(r, 'aria-label="Settings of visionco"')
    assertNotContains(r, "otherco")


def test_admins_see_forms_and_members_and_viewers_read_only(client, team):
    client.force_login(team.admin)
    r = client.get(TEAM)
    assertContains(r, 'aria-label="Role of bob"')
    assertContains(r, "Add member")
    assertContains(r, 'aria-label="Stop protecting production"')
    for user in (team.member, team.viewer):
        client.force_login(user)
        r = client.get(TEAM)
        for name in ["alice", "bob", "vera"]:
            assertContains(r, f"<td>{name}")
        assertContains(r, "production")
        assertNotContains(r, "Add member")
        assertNotContains(r, "<select")
        assertNotContains(r, "Stop protecting")


def test_outsiders_and_anonymous_visitors_do_not_see_the_team(client, team):
    client.force_login(team.outsider)
    assert client.get(TEAM).status_code == 404
    assert client.get("/registry/settings/nope").status_code == 404
    client.logout()
    assert client.get(TEAM).status_code in (302, 404)


def test_adding_a_member_updates_the_list_in_place(admin, team):
    nina = make_user("nina")
    r = admin.post(f"{TEAM}/members", {"username": "nina", "role": "viewer"}, headers=HX)
    assertContains(r, 'id="team-members"')
    assertNotContains(r, "<html")
    assertContains(r, "<td>nina")
    assert json.loads(r["HX-Trigger"])["showMessage"]["message"] == "Added nina to reviewco as viewer."
    assert _role(team.entity, nina) == Role.VIEWER


def test_a_refused_add_keeps_what_was_typed_and_writes_nothing(admin):
    before = snapshot()
    r = admin.post(f"{TEAM}/members", {"username": "ghost", "role": "member"}, headers=HX)
    assert r.status_code == 200
    assertContains(r, "There is no user named &#x27;ghost&#x27;.")
    assertContains(r, 'value="ghost"')
    assert "HX-Trigger" not in r
    assert snapshot() == before


def test_changing_a_role_and_removing_a_member(admin, team):
    admin.post(f"{TEAM}/members/bob/role", {"role": "admin"}, headers=HX)
    assert _role(team.entity, team.member) == Role.ADMIN
    r = admin.post(f"{TEAM}/members/vera/remove", headers=HX)
    assertNotContains(r, "<td>vera")
    assert _role(team.entity, team.viewer) is None


def test_the_page_refuses_to_demote_or_remove_the_last_admin(admin, team):
    before = snapshot()
    r = admin.post(f"{TEAM}/members/alice/role", {"role": "viewer"}, headers=HX)
    assertContains(r, "alice is the last admin of &#x27;reviewco&#x27;")
    r = admin.post(f"{TEAM}/members/alice/remove", headers=HX)
    assertContains(r, 'role="alert"')
    assert snapshot() == before
    r = admin.post(f"{TEAM}/members/alice/remove")
    assert r.status_code == 302
    assert _role(team.entity, team.admin) == Role.ADMIN


def test_protected_aliases_on_the_page(admin):
    r = admin.post(f"{TEAM}/protected-aliases", {"alias": "staging"}, headers=HX)
    assertContains(r, 'id="protected-aliases"')
    assertContains(r, 'aria-label="Stop protecting staging"')
    r = admin.post(f"{TEAM}/protected-aliases", {"alias": "latest"}, headers=HX)
    assertContains(r, "managed automatically")
    assertContains(r, 'value="latest"')
    admin.post(f"{TEAM}/protected-aliases/production/delete", headers=HX)
    assert _protected() == ["staging"]


def test_members_get_403_and_outsiders_404_on_every_change(client, team):
    make_user("nina")
    posts = [
        (f"{TEAM}/members", {"username": "nina", "role": "admin"}),
        (f"{TEAM}/members/vera/role", {"role": "admin"}),
        (f"{TEAM}/members/vera/remove", {}),
        (f"{TEAM}/protected-aliases", {"alias": "staging"}),
        (f"{TEAM}/protected-aliases/production/delete", {}),
    ]
    before = snapshot()
    for user, status in [(team.member, 403), (team.viewer, 403), (team.outsider, 404)]:
        client.force_login(user)
        for url, data in posts:
            assert client.post(url, data, headers=HX).status_code == status, (user, url)
    assert snapshot() == before
    assert _protected() == ["production"]


def test_an_admin_who_leaves_is_sent_to_the_team_list(admin, team):
    services.membership_set(entity=team.entity, user=team.member, role=Role.ADMIN)
    r = admin.post(f"{TEAM}/members/alice/remove", headers=HX)
    assert r["HX-Redirect"] == "/registry/settings"


def test_the_settings_page_uses_the_same_number_of_queries_at_3_and_at_60_members(
    client, team, django_assert_num_queries
):
    client.force_login(team.admin)
    client.get(TEAM)
    with CaptureQueriesContext(connection) as small:
        assert client.get(TEAM).status_code == 200
    for i in range(57):
        services.membership_set(entity=team.entity, user=make_user(f"user{i:02}"), role=Role.MEMBER)
    with django_assert_num_queries(len(small.captured_queries)):
        r = client.get(TEAM)
    assertContains(r, "<td>user56")


def test_an_admin_who_steps_down_sees_the_list_read_only(admin, team):
    services.membership_set(entity=team.entity, user=team.member, role=Role.ADMIN)
    r = admin.post(f"{TEAM}/members/alice/role", {"role": "member"}, headers=HX)
    assertNotContains(r, "<select")
    assertContains(r, "<td>alice")
