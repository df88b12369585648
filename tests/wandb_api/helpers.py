"""Plain helpers for the W&B API tests."""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from artifacts import services

SDK_REQUIREMENTS = Path(__file__).with_name("sdk_requirements")


def api_key(user) -> str:
    return services.api_key_create(user=user, name="sdk test")[1]


def sdk_env(base_url: str, key: str, root: Path) -> dict[str, str]:
    """An environment that isolates the SDK in `root` and keeps it off every network but this server."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("WANDB_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"))
    }
    dirs = {name: root / name.lower() for name in ("HOME", "WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR")}
    dirs |= {"WANDB_DATA_DIR": root / "data", "WANDB_ARTIFACT_DIR": root / "artifacts"}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env |= {name: str(path) for name, path in dirs.items()}
    env |= {
        "WANDB_BASE_URL": base_url,
        "WANDB_API_KEY": key,
        # Anything bound elsewhere (telemetry, the SDK's version check) goes to a closed local port and fails fast.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "WANDB_CONSOLE": "off",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_X_DISABLE_STATS": "true",
        "WANDB_X_DISABLE_MACHINE_INFO": "true",
        "WANDB_ERROR_REPORTING": "false",
        "WANDB_INIT_TIMEOUT": "60",
    }
    return env


def basic_auth(key: str) -> str:
    return "Basic " + base64.b64encode(f"api:{key}".encode()).decode()


def b64md5(data: bytes) -> str:
    """W&B's per-file digest."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def sdk_venv(version: str) -> Path:
    """The Python of `.venv-wandb-<version>` in the checkout: `wandb==<version>` and its dependencies, pinned in
    sdk_requirements/. Made once; made again only when that file changes. Raises when pip fails."""
    requirements = (SDK_REQUIREMENTS / f"wandb-{version}.txt").read_text()
    venv = Path(settings.BASE_DIR) / f".venv-wandb-{version}"
    python, installed = venv / "bin" / "python", venv / ".installed"
    if installed.is_file() and installed.read_text() == requirements and python.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "-r", SDK_REQUIREMENTS / f"wandb-{version}.txt"],
        capture_output=True,
        text=True,
    )
    if pip.returncode != 0:
        raise RuntimeError(f"Could not install wandb=={version} into {venv}:\n{pip.stdout}{pip.stderr}")
    installed.write_text(requirements)
    return python
