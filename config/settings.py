"""Settings, all from the environment (12-factor); the defaults give the embedded SQLite setup."""

import os
import socket
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

# Read when Arrow's library loads, so set before: its allocator gives freed pages back at once
# (an export's memory stays near what it uses; see datapipeline/memory.py).
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

# Mutable state of this installation (SQLite database, default shared home) lives here.
VAR_DIR = Path(env("DATAPIPELINE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me-in-production-0123456789")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # WhiteNoise serves static files under runserver too (before staticfiles, which would take them over).
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "wiki",
    "datapipeline",
    "optout",
    "exports",
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
    # Times the site's requests for the adaptive export throttle (datapipeline/sitelatency.py).
    "datapipeline.sitelatency.SiteLatencyMiddleware",
]

ROOT_URLCONF = "config.urls"
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
WSGI_APPLICATION = "config.wsgi.application"

# SQLite under VAR_DIR by default; PostgreSQL (production) when DATABASE_URL is set.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions and a busy timeout let a qcluster and a web process share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"}
    )
# Lets several checkouts run their test suites against one PostgreSQL server at once.
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default=None)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Static files are served by WhiteNoise in every mode (DEBUG or not, runserver or gunicorn). After
# `manage.py collectstatic` (make install, make run) they are compressed, with content hashes in their
# names and cached forever; before it (a fresh clone, the tests) they are served from the apps as they are.
STATIC_ROOT.mkdir(exist_ok=True)
STATIC_COLLECTED = (STATIC_ROOT / "staticfiles.json").is_file()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "config.storage.StaticStorage"},
}
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED

# --- The site and the data pipeline -------------------------------------------------------
# Base URL of the site, written in every exported row's instance_url and the *_url columns.
INSTANCE_URL = env("DATAPIPELINE_INSTANCE_URL", default="http://localhost:8000").rstrip("/")
# On PostgreSQL, exports let the database format the rows and stream them with COPY (the same bytes
# as the standard path, datapipeline/pgcopy.py); false always uses the standard path.
DATAPIPELINE_PG_COPY = env.bool("DATAPIPELINE_PG_COPY", default=True)
# Unthrottled COPY exports read the next batch on a second connection while one is written (2); 1 reads
# one batch at a time. Throttled exports always read one batch at a time.
DATAPIPELINE_PG_COPY_STREAMS = env.int("DATAPIPELINE_PG_COPY_STREAMS", default=2)
# Shared home (as in a clustered Confluence): the default export root is <home>/data-pipeline/export.
DATAPIPELINE_SHARED_HOME = Path(env("DATAPIPELINE_SHARED_HOME", default=str(VAR_DIR / "shared-home")))
# Which node ran a job; every qcluster node of a cluster should set its own.
DATAPIPELINE_NODE_ID = env("DATAPIPELINE_NODE_ID", default=socket.gethostname())
# The nice value a throttled export's thread takes (0: leave it), so the site's requests get the CPU first.
DATAPIPELINE_EXPORT_NICENESS = env.int("DATAPIPELINE_EXPORT_NICENESS", default=19)
# Time the site's requests (one row per web process per second while it serves) so that the adaptive
# export throttle can tell when an export slows the site down.
DATAPIPELINE_SITE_LATENCY = env.bool("DATAPIPELINE_SITE_LATENCY", default=True)
# Seconds without a heartbeat after which a running job counts as dead. The worker writes one every
# few seconds from a thread of its own (datapipeline/heartbeat.py), so 30 s means a killed worker
# holds the one-export lock for at most half a minute.
DATAPIPELINE_HEARTBEAT_TIMEOUT = env.int("DATAPIPELINE_HEARTBEAT_TIMEOUT", default=30)
# Directories an export path must lie in (comma-separated absolute paths); empty: any safe directory.
DATAPIPELINE_EXPORT_PATH_ROOTS = env.list("DATAPIPELINE_EXPORT_PATH_ROOTS", default=[])

# --- django-q2 -----------------------------------------------------------------------------
# Exports are long: a generous timeout, retry later than the timeout (else a second worker
# gets the same export), one attempt only, failures acknowledged, no backlog after downtime.
Q_CLUSTER = {
    "name": env("Q_CLUSTER_NAME", default="datapipeline"),
    "workers": env.int("Q_WORKERS", default=1),
    "recycle": 50,
    "timeout": env.int("Q_TIMEOUT", default=24 * 3600),
    "retry": env.int("Q_TIMEOUT", default=24 * 3600) + 3600,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 250,
    "poll": env.float("Q_POLL", default=1.0),
    "sync": env.bool("Q_SYNC", default=False),
    "label": "Task queue",
}
if env("REDIS_URL", default=""):
    Q_CLUSTER["redis"] = env("REDIS_URL")
else:
    Q_CLUSTER["orm"] = "default"

# --- REST framework ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "datapipeline.authentication.BearerTokenAuthentication",
        "datapipeline.authentication.AtlassianSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["datapipeline.permissions.IsSuperuser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["datapipeline.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "datapipeline.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # ``format`` is the export's own parameter (csv | parquet), not a choice of response renderer: JSON only.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Data pipeline REST API",
    "DESCRIPTION": (
        "Compatible with Atlassian's Data pipeline for Confluence Data Center. Every operation is also "
        "served under /rest/datapipeline/1.0/. Superusers only: Authorization: Bearer <personal access token> "
        "(python manage.py token create), or an admin session with CSRF proof (X-CSRFToken, or "
        "X-Atlassian-Token: no-check). Every 4xx answer has the body {statusCode, message, errors: [{key, message}], "
        "timestamp}."
    ),
    "VERSION": "1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The 1.0 alias serves the same operations; the document lists them once, under latest/.
    "PREPROCESSING_HOOKS": ["datapipeline.urls.only_latest_endpoints"],
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
    "loggers": {"datapipeline": {"level": env("LOG_LEVEL", default="INFO")}, "exports": {"level": "INFO"}},
}
