"""The example project's settings, with the SQLite pragmas a benchmark run asks for.

``--sqlite-pragmas journal_mode=DELETE,synchronous=FULL`` reaches every benchmark
process through ``BENCH_SQLITE_PRAGMAS``, so settings other than the example
project's can be measured side by side without editing it.
"""

from __future__ import annotations

import os

import django

from example_project.settings import *  # noqa: F403
from example_project.settings import DATABASES

_pragmas = os.environ.get("BENCH_SQLITE_PRAGMAS", "")
if (
    _pragmas
    and django.VERSION >= (5, 1)
    and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
):
    DATABASES["default"]["OPTIONS"]["init_command"] = " ".join(
        f"PRAGMA {pragma.strip()};" for pragma in _pragmas.split(",") if pragma.strip()
    )
