"""Helpers for the Playwright tests (the `browser` and `page` fixtures live in conftest.py)."""


def sign_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def settled(page) -> None:
    """Wait until htmx has finished its requests, swaps and settling (new content is wired only then)."""
    # A function, not an expression: Playwright evals a bare expression in the page, which the CSP refuses.
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )
