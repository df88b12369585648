"""One env-driven settings module: no dev/prod split (see README for the variables)."""

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.getenv(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.getenv(name, str(default)))


DATA_DIR = Path(os.getenv("DATA_DIR", BASE_DIR / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = [h.strip() for h in os.getenv("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")]
CSRF_TRUSTED_ORIGINS = [o for o in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
# The public address given to clients: the SDK snippets and the signed upload/download URLs handed to the SDK.
# Defaults to the request's own scheme and host.
SITE_URL = os.getenv("SITE_URL", "").rstrip("/")
# Whether `manage.py prepare_server` (what `make run` runs) loads the demo data into an empty database.
DEMO = env_bool("DEMO", True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "artifacts",
    "registry",
    "wandb_api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-csp's, skipped for the SDK's calls (no document a browser renders).
    "registry_site.middleware.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "registry_site.middleware.RefuseUnstorableTextMiddleware",
    "registry_site.middleware.SignInToSeeMiddleware",
    "registry_site.faults.FaultMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# A background worker (`manage.py run_worker`) serves no page: it loads the apps whose models it uses and no other,
# to idle in little memory beside the web server.
if sys.argv[1:2] == ["run_worker"] and Path(sys.argv[0]).name == "manage.py":
    INSTALLED_APPS = [
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django_tasks",
        "django_tasks_db",
        "artifacts",
        "registry",
    ]

ROOT_URLCONF = "registry_site.urls"
WSGI_APPLICATION = "registry_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

SQLITE_OPTIONS = {
    # Writers queue on BEGIN IMMEDIATE instead of failing with "database is locked" mid-transaction.
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
}

if os.getenv("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Parameters bound by the server, the fixed lookups prepared there (registry_site/postgresql/base.py).
        # Off for a pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
        DATABASES["default"]["ENGINE"] = "registry_site.postgresql"
        if env_bool("DATABASE_PREPARED", True):
            # Prepared statements on (Django turns them off): the backend says which statement to prepare.
            DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": SQLITE_OPTIONS,
            # Each worker thread keeps its connection: no connect and PRAGMAs per request.
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
            # A file, not :memory:, so tests with threads share one real database.
            "TEST": {"NAME": str(DATA_DIR / "test-db.sqlite3")},
        }
    }
_sqlite = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if _sqlite:
    # Django's SQLite backend with its writers queued in the kernel (registry_site/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "registry_site.sqlite"
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}


def _secret_key(*, shared_database: bool) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in DATA_DIR (one server only)."""
    if key := os.getenv("SECRET_KEY"):
        return key
    if shared_database:
        # Several servers share a PostgreSQL database; a key generated here would be this server's alone, so
        # sessions and signed upload/download URLs made by one server would fail on the others.
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DATABASE_URL is not SQLite: every server that shares the database "
            "must sign sessions and URLs with the same key."
        )
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key(shared_database=not _sqlite)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]

if os.getenv("S3_BUCKET"):
    from boto3.s3.transfer import TransferConfig  # only here: boto3 costs each worker about 25 MiB

    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["S3_BUCKET"],
            "endpoint_url": os.getenv("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.getenv("AWS_S3_REGION_NAME") or None,
            "location": os.getenv("S3_PREFIX", ""),
            # Content-addressed keys: the same key always holds the same bytes.
            "file_overwrite": True,
            # Presigned URLs (S3_DIRECT) are signed with SigV4, which every S3-compatible store accepts.
            "signature_version": "s3v4",
            # Uploads stream to S3 in 8 MiB parts, one at a time: a worker holds about one part per upload.
            "transfer_config": TransferConfig(
                multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, use_threads=False
            ),
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DATA_DIR / "files", "allow_overwrite": True},
    }
# With S3: the SDK and the pages move file bytes straight to and from the bucket through presigned URLs
# (artifacts/storage.py); S3_DIRECT=0 streams them through the app servers instead. Ignored for local files.
S3_DIRECT_TRANSFERS = env_bool("S3_DIRECT", True)
# The storage region names (W&B's `Artifact(storage_region=...)`) the one store answers to; a version logged for
# another is refused. `default` is the SDK's name when it gives none.
STORAGE_REGIONS = [r.strip() for r in os.getenv("STORAGE_REGIONS", "default").split(",") if r.strip()]
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("MANIFEST_STATIC", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Without a manifest (development, tests), whitenoise serves straight from the app and project static dirs.
WHITENOISE_USE_FINDERS = not env_bool("MANIFEST_STATIC", True)
# Uploads larger than this go to a temporary file, never into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

AUTHENTICATION_BACKENDS = [
    # First: refuses every sign-in of a locked-out account or address, even with the right password.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
# Behind a TLS-terminating proxy: the header it sets to "https", as sent (X-Forwarded-Proto) or as Django names
# it (HTTP_X_FORWARDED_PROTO); a name Django never sees would silently leave every request plain http.
if _proxy_ssl_header := os.getenv("SECURE_PROXY_SSL_HEADER", "").strip().upper().replace("-", "_"):
    SECURE_PROXY_SSL_HEADER = ("" if _proxy_ssl_header.startswith("HTTP_") else "HTTP_") + _proxy_ssl_header, "https"
# Reverse proxies in front of the server that append the client's address to X-Forwarded-For.
PROXY_COUNT = env_int("PROXY_COUNT", 0)

# Strict: no inline script or style, no eval; htmx runs with allowEval off (see base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# Sign-in lockout (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one username, or from one
# address, that username or address is refused for LOGIN_COOLOFF_MINUTES (a further try starts it again).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "registry_site.security.client_ip"
AXES_LOCKOUT_CALLABLE = "registry_site.security.lockout_response"

# Wrong API keys (the SDK's): after API_KEY_FAILURE_LIMIT from one address within API_KEY_COOLOFF_SECONDS,
# further wrong keys from it are answered 429 with Retry-After until that window ends. Right keys always pass.
API_KEY_FAILURE_LIMIT = env_int("API_KEY_FAILURE_LIMIT", 20)
API_KEY_COOLOFF_SECONDS = env_int("API_KEY_COOLOFF_SECONDS", 300)

# Automations: webhooks are delivered by a background worker (registry/worker.py; under `make run`, a thread in a
# web worker)
# through Django's tasks API, with the database as the queue (django-tasks-db): the task row commits with the
# change that fired it.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Webhook URLs that resolve to loopback, private, link-local or other non-public addresses are refused unless this
# is on (a receiver on the same machine or network).
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE")
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 10)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 5)
# The wait before attempt n+1 is WEBHOOK_RETRY_BASE_SECONDS * 3**(n-1): 10 s, 30 s, 90 s, 270 s.
WEBHOOK_RETRY_BASE_SECONDS = float(os.getenv("WEBHOOK_RETRY_BASE_SECONDS", "10"))
# A delivery a worker took but did not finish within this (the worker died) is attempted again.
WEBHOOK_LEASE_SECONDS = env_int("WEBHOOK_LEASE_SECONDS", 60)
# How often each worker looks for such deliveries.
WEBHOOK_SWEEP_SECONDS = float(os.getenv("WEBHOOK_SWEEP_SECONDS", "30"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "WARNING")},
}
