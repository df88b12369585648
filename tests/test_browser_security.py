"""The CSP in Chromium: what it refuses is noticed, and the admin and the lockout page work under it."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_injected_inline_script_is_refused_and_reported(page, csp_violations, team):
    page.goto("/accounts/login/")
    page.evaluate(
        """() => {
            const s = document.createElement("script");
            s.textContent = "window.injected = true";
            document.body.append(s);
        }"""
    )
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.injected") is None
    assert [v for v in csp_violations if v.startswith("script-src")], csp_violations
    # Seen and asserted: the `page` fixture would otherwise fail this test.
    csp_violations.clear()


def test_the_admin_works_under_the_csp(page, team):
    root = make_user("root", superuser=True)
    page.goto("/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.get_by_role("link", name="Access attempts").click()
    expect(page.get_by_role("heading", name=re.compile("access attempt", re.I))).to_be_visible()
    page.goto(f"/admin/auth/user/{root.pk}/change/")
    # The permissions picker is built by the admin's JavaScript (SelectFilter2.js).
    expect(page.locator("#id_user_permissions_filter")).to_be_visible()
    page.goto("/admin/artifacts/entity/add/")
    page.get_by_label("Name:").fill("newco")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()


def test_a_locked_out_person_sees_why_in_the_apps_layout(page, team, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill("bob")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign-in locked")).to_be_visible()
    expect(page.get_by_text("Try again in 15 minutes")).to_be_visible()
    expect(page.get_by_role("link", name="Modelbook")).to_be_visible()
