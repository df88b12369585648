#!/usr/bin/env python
"""Screenshots of the main pages for the README: `make screenshots` (or `.venv/bin/python scripts/screenshots.py`).

Serves a throwaway copy of the demo data (its own DATA_DIR and port), signs in with Debian's Chromium through
Playwright, and writes PNG files to docs/screenshots/.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
CHROMIUM_ARGS += ["--disable-sync", "--no-first-run", "--disable-quic"]
USER, PASSWORD = "shots", "screenshots-only-password"
PAGES = [
    ("registry-list", "/registry/model", 1280),
    ("model-card-with-version-panel", "/registry/model/reviewco/Fine-Tuned-Review-Autocompletion/v2", 1280),
    ("artifact-browser", "/reviewco/mnist/artifacts/model/mnist_model/v1", 1280),
    ("lineage", "/reviewco/mnist/artifacts/model/mnist_model/v0/lineage", 1280),
    ("not-found", "/reviewco/no-such-project", 1280),
    ("registry-list-phone", "/registry/model", 390),
    ("registry-home", "/registry", 1280),
    ("registry", "/orgs/reviewco-org/registry/model", 1280),
]


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "DATA_DIR": data, "MANIFEST_STATIC": "false", "DEBUG": "false"}
        env |= {"DJANGO_SUPERUSER_USERNAME": USER, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
        env.pop("DATABASE_URL", None)
        manage(env, "migrate", "--noinput")
        manage(env, "load_demo")
        manage(env, "ensure_superuser")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "registry_site.wsgi", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            shoot(f"http://127.0.0.1:{port}")
        finally:
            server.terminate()
            server.wait()


def shoot(base: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        for name, path, width in PAGES:
            context = browser.new_context(base_url=base, viewport={"width": width, "height": 860})
            page = context.new_page()
            page.goto("/accounts/login/")
            page.get_by_label("Username").fill(USER)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            page.goto(path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
            print(f"docs/screenshots/{name}.png")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
