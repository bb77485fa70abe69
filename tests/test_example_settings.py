"""The example project's SQLite settings: the ones docs/benchmarks.md recommends."""

from __future__ import annotations

from pathlib import Path

import django
import pytest
from django.db import connections
from django.db.backends.sqlite3.base import DatabaseWrapper

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connections["default"].vendor != "sqlite" or django.VERSION < (5, 1),
        reason="the example project's SQLite options need SQLite and Django 5.1+",
    ),
]


def test_a_sqlite_database_runs_in_wal_mode_with_normal_sync(
    tmp_path: Path,
) -> None:
    settings = {**connections["default"].settings_dict, "NAME": tmp_path / "db.sqlite3"}
    database = DatabaseWrapper(settings, alias="settings-check")
    try:
        with database.cursor() as cursor:
            pragmas = [
                cursor.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous")
            ]
    finally:
        database.close()

    assert pragmas == ["wal", 1]
