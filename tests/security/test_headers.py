"""The Content-Security-Policy on every page, templates fit for it, and a deploy check clean in production."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from tests.factories import make_user

BASE_DIR = Path(django_settings.BASE_DIR)


def _directives(header: str) -> dict[str, set[str]]:
    parts = (p.split() for p in header.split(";") if p.strip())
    return {name: set(values) for name, *values in parts}


@pytest.mark.parametrize(
    "url", ["/", "/accounts/login/", "/registry/model", "/profile/", "/admin/", "/reviewco/mnist", "/nowhere/x/y/z"]
)
def test_every_page_sends_a_strict_content_security_policy(client, project, url):
    client.force_login(make_user("root", superuser=True))
    r = client.get(url)
    policy = _directives(r["Content-Security-Policy"])
    assert policy["default-src"] == {"'self'"}
    assert policy["script-src"] == {"'self'"}
    assert policy["style-src"] == {"'self'"}
    assert policy["object-src"] == {"'none'"}
    assert policy["base-uri"] == {"'self'"}
    assert policy["frame-ancestors"] == {"'none'"}
    assert policy["form-action"] == {"'self'"}
    assert not {"'unsafe-inline'", "'unsafe-eval'"} & set().union(*policy.values())


def test_the_sdks_json_calls_skip_the_policy_and_downloads_keep_it(client, project, team):
    from django.test import RequestFactory

    from tests.factories import log_version
    from tests.wandb_api.helpers import api_key, basic_auth
    from wandb_api import tokens

    auth = {"Authorization": basic_auth(api_key(team.member))}
    r = client.post("/graphql", {"query": "{ __typename }"}, content_type="application/json", headers=auth)
    assert r.status_code == 200 and "Content-Security-Policy" not in r
    version = log_version(project)
    blob = version.files.get().blob
    r = client.get(tokens.download_url(RequestFactory().get("/"), blob=blob.sha256, name="model.pt"))
    assert r.status_code == 200 and _directives(r["Content-Security-Policy"])["default-src"] == {"'self'"}
    # A page of an entity whose name starts like an API path keeps it.
    from tests.factories import make_entity, make_project

    make_project(make_entity("graphql-team", admin=[team.member]), "sdk")
    client.force_login(team.member)
    for url in ("/graphql-team", "/graphql-team/sdk", "/graphql-team/sdk/artifacts"):
        r = client.get(url)
        assert r.status_code == 200 and "Content-Security-Policy" in r, url


def test_htmx_is_told_not_to_inject_its_style_nor_to_eval(client, db):
    r = client.get(reverse("login"))
    meta = re.search(rb'<meta name="htmx-config" content=\'([^\']*)\'>', r.content)
    assert meta is not None
    assert b'"includeIndicatorStyles": false' in meta.group(1)
    assert b'"allowEval": false' in meta.group(1)


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "a <script> without src"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on* event handler"),
    (re.compile(r"\shx-on", re.I), "an hx-on handler (eval)"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"<style", re.I), "a <style> element"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


@pytest.mark.parametrize("template", sorted(p.relative_to(BASE_DIR) for p in (BASE_DIR / "templates").rglob("*.html")))
def test_no_template_has_inline_script_style_or_handler(template):
    text = (BASE_DIR / template).read_text()
    for pattern, what in INLINE:
        assert not pattern.search(text), f"{template} has {what}, which the CSP refuses"


PRODUCTION = {
    "DEBUG": "false",
    "SECURE_COOKIES": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
    "ALLOWED_HOSTS": "models.example.com",
}


def _manage(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process: the environment decides the settings; DATA_DIR is a throwaway directory."""
    # The test run's own DJANGO_ALLOW_ASYNC_UNSAFE (for Playwright) is itself a deploy-check error.
    ignored = {*PRODUCTION, "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in ignored}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean | {"DATA_DIR": str(tmp_path), "SECRET_KEY": secrets.token_urlsafe(50)} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deploy_check_is_clean_in_a_production_configuration(tmp_path):
    proc = _manage(tmp_path, PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert proc.returncode == 0, proc.stderr
    assert "no issues" in proc.stdout


def test_the_deploy_check_fails_without_hsts_and_the_https_redirect(tmp_path):
    env = PRODUCTION | {"SECURE_HSTS_SECONDS": "0", "SECURE_SSL_REDIRECT": "false"}
    proc = _manage(tmp_path, env, "check", "--deploy", "--fail-level", "WARNING")
    assert proc.returncode != 0
    assert "security.W004" in proc.stderr
    assert "security.W008" in proc.stderr


def test_the_https_settings_come_from_the_environment(tmp_path):
    names = ["SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_SSL_REDIRECT"]
    code = "from django.conf import settings as s; print([getattr(s, n) for n in %r], s.SECURE_PROXY_SSL_HEADER)"
    proc = _manage(tmp_path, PRODUCTION, "shell", "-v", "0", "-c", code % names)
    assert proc.stdout.strip() == "[31536000, True, True, True] ('HTTP_X_FORWARDED_PROTO', 'https')", proc.stderr
    proc = _manage(tmp_path, {}, "shell", "-v", "0", "-c", code % names)
    assert proc.stdout.strip() == "[0, False, False, False] None", proc.stderr


def test_the_proxy_header_may_be_named_as_the_proxy_sends_it(tmp_path):
    code = "from django.conf import settings as s; print(s.SECURE_PROXY_SSL_HEADER)"
    proc = _manage(tmp_path, {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, "shell", "-v", "0", "-c", code)
    assert proc.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')", proc.stderr


def test_behind_a_tls_proxy_https_requests_get_hsts_and_plain_ones_a_redirect(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    r = client.get("/accounts/login/")
    assert r.status_code == 301
    assert r["Location"] == "https://testserver/accounts/login/"
    r = client.get("/accounts/login/", headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 200
    assert r["Strict-Transport-Security"] == "max-age=31536000"
