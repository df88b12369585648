"""What a worker loads at rest: boto3 (about 25 MiB a process) only when S3 is configured."""

import os
import subprocess
import sys

from django.conf import settings

PROBE = """
import os, sys, django
os.environ["DJANGO_SETTINGS_MODULE"] = "registry_site.settings"
django.setup()
import registry_site.urls, registry_site.wsgi
from artifacts import storage
storage._is_s3()
print(sorted(m for m in ("boto3", "botocore", "storages.backends.s3") if m in sys.modules))
"""


def _loaded(tmp_path, **env) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in ("S3_BUCKET", "DATABASE_URL")}
    environment |= {"DATA_DIR": str(tmp_path), **env}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, cwd=settings.BASE_DIR, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_server_on_local_files_never_loads_boto3(tmp_path):
    assert _loaded(tmp_path) == "[]"


def test_a_server_on_s3_loads_it(tmp_path):
    assert _loaded(tmp_path, S3_BUCKET="models") == "['boto3', 'botocore', 'storages.backends.s3']"
