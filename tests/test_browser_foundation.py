import re

import pytest
from playwright.sync_api import expect

from artifacts import services
from artifacts.models import ApiKey
from tests.browser import sign_in
from tests.factories import PASSWORD, log_version, make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def trained(team, project):
    prep = make_run(project, "prep0001", display_name="prepare-mnist")
    dataset = log_version(project, "mnist-dataset", type="dataset", run=prep, content=b"rows")
    train = make_run(project, "8adpd2kp", display_name="train-cnn", config={"learning_rate": 0.001})
    log_version(project, "mnist_model", run=train, content=b"weights")
    services.version_use(run=train, version=dataset, user=team.member)
    return train


def test_a_member_signs_in_and_walks_from_project_to_run(page, trained):
    sign_in(page, "bob", PASSWORD)
    page.get_by_role("link", name="reviewco/mnist").click()
    expect(page).to_have_url(re.compile(r"/reviewco/mnist$"))
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    expect(page.get_by_role("cell", name="mnist_model")).to_be_visible()
    page.get_by_role("link", name="8adpd2kp").click()
    expect(page).to_have_url(re.compile(r"/reviewco/mnist/runs/8adpd2kp$"))
    expect(page.get_by_role("row", name=re.compile("learning_rate"))).to_contain_text("0.001")
    logged = page.locator("section", has=page.get_by_role("heading", name="Logged artifacts"))
    expect(logged).to_contain_text("reviewco/mnist/mnist_model:v0")
    used = page.locator("section", has=page.get_by_role("heading", name="Used artifacts"))
    expect(used).to_contain_text("reviewco/mnist/mnist-dataset:v0")


def test_a_user_creates_copies_and_revokes_an_api_key(page, team):
    sign_in(page, "bob", PASSWORD)
    page.get_by_label(re.compile("User menu")).click()
    page.get_by_role("menuitem", name="Profile & API keys").click()
    expect(page.get_by_text("export WANDB_BASE_URL=")).to_be_visible()
    page.get_by_label("Key name").fill("laptop")
    page.get_by_role("button", name="Create API key").click()
    secret = page.locator("#new-api-key").inner_text()
    assert len(secret) >= 40
    assert services.api_key_authenticate(secret) == team.member
    page.reload()
    expect(page.locator("#new-api-key")).to_have_count(0)
    page.get_by_role("button", name="Revoke laptop").click()
    expect(page.get_by_text("No active keys.")).to_be_visible()
    assert ApiKey.objects.get().revoked_at is not None


def test_signing_out_from_the_user_menu(page, team):
    sign_in(page, "bob", PASSWORD)
    page.get_by_label(re.compile("User menu")).click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_wrong_password_is_shown_on_the_form(page, team):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()


def _luminance(css: str) -> float:
    r, g, b = (int(n) / 255 for n in re.findall(r"\d+", css)[:3])
    return sum(
        w * (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
        for w, c in zip((0.2126, 0.7152, 0.0722), (r, g, b), strict=True)
    )


def _contrasts(page, selector: str) -> dict[str, float]:
    """Each visible element's text against its own background: WCAG's contrast ratio."""
    colors = page.locator(selector).evaluate_all(
        """els => els.filter(e => e.offsetParent !== null).map(e => {
            const s = getComputedStyle(e);
            return [e.textContent.trim(), s.color, s.backgroundColor];
        })"""
    )
    assert colors, f"nothing visible matches {selector}"
    ratios = {}
    for text, color, background in colors:
        light, dark = sorted((_luminance(color), _luminance(background)), reverse=True)
        ratios[text] = round((light + 0.05) / (dark + 0.05), 2)
    return ratios


def test_primary_buttons_and_the_current_page_link_are_readable(page, team, project):
    """WCAG AA: at least 4.5:1 for text of this size, the signed-out Sign in button included."""
    page.goto("/reviewco/mnist/artifacts")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    readable = _contrasts(page, ".button.primary")
    sign_in(page, "bob", PASSWORD)
    page.goto("/registry/model")
    readable |= _contrasts(page, ".button.primary")
    readable |= _contrasts(page, ".app-sidebar a[aria-current=page]")
    assert readable and all(ratio >= 4.5 for ratio in readable.values()), readable
