"""Clocks, memory and the description of the machine a run happened on.

Memory comes from ``/proc/self/status`` (Linux): ``VmHWM`` is the process's peak
resident set. Every scenario runs in a fresh process, so its peak is its own.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

STATUS = Path("/proc/self/status")

#: Distributions whose versions a report names.
VERSIONED = (
    "django",
    "djangorestframework",
    "requests",
    "urllib3",
    "psycopg",
    "qstash",
    "django-qstash-batch",
)


def _status_kb(key: str) -> float | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float | None:
    """Resident memory now, in MB."""
    kb = _status_kb("VmRSS")
    return None if kb is None else round(kb / 1024, 1)


def peak_rss_mb() -> float | None:
    """The process's peak resident memory so far, in MB."""
    kb = _status_kb("VmHWM")
    if kb is None:
        import resource

        kb = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return round(kb / 1024, 1)


class Stopwatch:
    """Wall and CPU seconds of one ``with`` block."""

    wall = 0.0
    cpu = 0.0

    @contextmanager
    def timing(self) -> Iterator[Stopwatch]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield self
        finally:
            self.wall = time.perf_counter() - wall
            self.cpu = time.process_time() - cpu


def machine() -> dict[str, Any]:
    """CPU, memory, OS and package versions of this machine."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kb = 0.0
    try:
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory_kb = float(first.split()[1])
    except (OSError, IndexError, ValueError):
        pass

    versions: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "versions": versions,
    }


def database_version() -> str:
    """The database server's version, from inside a configured Django process."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sqlite_version()")
            version = cursor.fetchone()[0]
            pragmas = []
            for name in ("journal_mode", "synchronous"):
                cursor.execute(f"PRAGMA {name}")
                pragmas.append(f"{name}={cursor.fetchone()[0]}")
            return f"SQLite {version} ({', '.join(pragmas)})"
    return connection.vendor
