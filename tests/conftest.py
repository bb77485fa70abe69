"""Shared fixtures, and the rules for suites that need outside services.

Tests marked ``postgresql``, ``redis`` or ``browser`` skip, with the reason shown, when
what they need is missing. ``REQUIRE_SERVICES`` (a comma-separated list of those
marker names, set by ``.ci/run``) turns such a skip into a failure: CI must run them.
"""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlsplit

import pytest
from django.db import connection

#: The browser the admin tests drive; Debian's package installs it here.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1
        ) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _missing_service(item: pytest.Item) -> str | None:
    if item.get_closest_marker("postgresql") and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgresql://..."
    if item.get_closest_marker("redis"):
        url = os.environ.get("REDIS_URL")
        if not url:
            return "needs Redis: set REDIS_URL=redis://..."
        if not _redis_answers(url):
            return f"Redis at {urlsplit(url).netloc} does not answer"
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        return f"needs Chromium at {CHROMIUM} (Debian package chromium)"
    return None


SERVICE_MARKERS = ("postgresql", "redis", "browser")


def item_required(item: pytest.Item) -> bool:
    required = set(filter(None, os.environ.get("REQUIRE_SERVICES", "").split(",")))
    return any(
        item.get_closest_marker(name) for name in required & set(SERVICE_MARKERS)
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = _missing_service(item)
    if reason is None:
        return
    if item_required(item):
        pytest.fail(
            f"REQUIRE_SERVICES makes this suite required: {reason}", pytrace=False
        )
    pytest.skip(reason)
