"""Run scenario functions in fresh Django processes.

A fresh process per scenario run gives each its own peak memory figure, keeps one
scenario's garbage out of the next one's numbers, and lets several dispatch workers
run side by side. The database and settings are chosen through the environment,
which spawned children inherit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

#: Where the benchmark's PostgreSQL database lives, unless ``DATABASE_URL`` says.
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/qstash_bench"


def configure(database: str, sqlite_dir: str, sqlite_pragmas: str = "") -> None:
    """Point this process and its future children at the chosen database.

    ``sqlite_pragmas`` (``name=value`` pairs, comma-separated) replaces the example
    project's SQLite pragmas; empty keeps them.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["BENCH_SQLITE_PRAGMAS"] = sqlite_pragmas
    if database == "postgresql":
        os.environ.setdefault("BENCH_DATABASE_URL", POSTGRES_URL)
        os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["EXAMPLE_VAR_DIR"] = sqlite_dir


def create_postgres_database() -> None:
    """Create the benchmark's PostgreSQL database if it does not exist yet."""
    from urllib.parse import urlsplit

    import psycopg

    url = os.environ["DATABASE_URL"]
    name = urlsplit(url).path.lstrip("/")
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def _setup_django() -> None:
    import logging

    import django

    django.setup()
    # Per-batch INFO lines would be the benchmark's own overhead and noise.
    logging.getLogger("django_qstash_batch").setLevel(logging.WARNING)


def run(function: Callable[..., dict[str, Any]], **arguments: Any) -> dict[str, Any]:
    """``function(**arguments)`` in a new process; its result."""
    return run_many(function, [arguments])[0]


def run_many(
    function: Callable[..., dict[str, Any]], calls: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One new process per call, all running at once; results in call order.

    Each call gets a pool of its own, so no process ever runs two calls (Python 3.10
    has no ``max_tasks_per_child``).
    """
    context = get_context("spawn")
    pools = [
        ProcessPoolExecutor(
            max_workers=1, mp_context=context, initializer=_setup_django
        )
        for _ in calls
    ]
    try:
        futures = [
            pool.submit(function, **arguments)
            for pool, arguments in zip(pools, calls, strict=True)
        ]
        return [future.result() for future in futures]
    finally:
        for pool in pools:
            pool.shutdown()
