"""Settings of the example host project, used by the demo and the test suite.

SQLite is the default. ``DATABASE_URL`` (``postgresql://user@host:port/name``) switches
to PostgreSQL; ``REDIS_URL`` switches the Celery broker from the embedded filesystem
transport to Redis.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import django

from django_qstash_batch.testing.defaults import (
    DEV_CURRENT_SIGNING_KEY,
    DEV_NEXT_SIGNING_KEY,
    DEV_PORT,
    DEV_TOKEN,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EXAMPLE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-for-production")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_qstash_batch",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

WSGI_APPLICATION = "example_project.wsgi.application"


def database_from_url(url: str) -> dict[str, Any]:
    """Turn ``postgresql://user:password@host:port/name`` into a DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    }
    if django.VERSION >= (5, 1):
        # WAL lets the web process and the Celery worker write side by side, and
        # IMMEDIATE transactions take the write lock up front, so two writers queue
        # behind the busy timeout instead of failing with "database is locked".
        DATABASES["default"]["OPTIONS"].update(
            init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            transaction_mode="IMMEDIATE",
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

CELERY_BROKER_URL = os.environ.get("REDIS_URL") or "filesystem://"
BROKER_FOLDERS = {
    "data_folder_in": VAR_DIR / "broker",
    "data_folder_out": VAR_DIR / "broker",
    "processed_folder": VAR_DIR / "broker-processed",
    "control_folder": VAR_DIR / "broker-control",
}
if os.environ.get("REDIS_URL"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {}
else:
    # kombu's filesystem transport: a real broker for a real worker process, with no
    # server to run. The web process and the worker share these folders.
    for folder in BROKER_FOLDERS.values():
        folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **{name: str(folder) for name, folder in BROKER_FOLDERS.items()},
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
# Re-send the kicks that were lost and resume batches whose worker died.
CELERY_BEAT_SCHEDULE = {
    "qstash-dispatch-pending": {
        "task": "django_qstash_batch.dispatch_pending",
        "schedule": 60.0,
    },
}

# Without QSTASH_URL the project talks to the bundled emulator (``manage.py
# qstash_emulator``) with the public credentials of QStash's local dev server. With it,
# the app reads QSTASH_TOKEN and the signing keys from the environment.
if os.environ.get("QSTASH_URL"):
    QSTASH_BATCH: dict[str, Any] = {}
else:
    QSTASH_BATCH = {
        "URL": f"http://127.0.0.1:{DEV_PORT}",
        "TOKEN": DEV_TOKEN,
        "CURRENT_SIGNING_KEY": DEV_CURRENT_SIGNING_KEY,
        "NEXT_SIGNING_KEY": DEV_NEXT_SIGNING_KEY,
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        name: {"handlers": ["console"], "level": "INFO"}
        for name in ("django_qstash_batch", "example_project")
    },
}
