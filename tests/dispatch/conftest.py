"""Fixtures for the dispatch engine's tests: a live emulator and batch factories."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db.models import F

from django_qstash_batch.client import QStashClient
from django_qstash_batch.models import Batch, Endpoint, Topic
from django_qstash_batch.services import send_batch
from django_qstash_batch.testing import QStashEmulator

#: Settings every dispatch test starts from, besides the emulator's URL and token.
BASE_SETTINGS: dict[str, Any] = {
    "MAX_MESSAGES_PER_REQUEST": 100,
    "MAX_REQUEST_BYTES": 5_000_000,
    "TIMEOUT": (2, 5),
    "LEASE_SECONDS": 60,
    "MAX_ATTEMPTS": 8,
}


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[QStashEmulator]:
    """One emulator for the whole session; it only records, never delivers."""
    with QStashEmulator(deliver=False) as emulator:
        yield emulator


@pytest.fixture
def qstash(emulator_server: QStashEmulator, settings: Any) -> Iterator[QStashEmulator]:
    """The emulator, emptied, with ``QSTASH_BATCH`` pointing at it."""
    emulator_server.reset()
    settings.QSTASH_BATCH = {**emulator_server.settings(), **BASE_SETTINGS}
    yield emulator_server
    emulator_server.reset()


@pytest.fixture
def qstash_settings(settings: Any, qstash: QStashEmulator) -> dict[str, Any]:
    """The live ``QSTASH_BATCH`` dict: tests change keys in place."""
    value: dict[str, Any] = settings.QSTASH_BATCH
    return value


@pytest.fixture
def client(qstash: QStashEmulator) -> Iterator[QStashClient]:
    with QStashClient(url=qstash.url, token=qstash.token, timeout=(2, 5)) as client:
        yield client


def url_messages(count: int, **options: Any) -> list[dict[str, Any]]:
    """``count`` messages to distinct URLs, each with a small JSON body."""
    return [
        {"url": f"https://example.com/hooks/{index}", "body": {"n": index}, **options}
        for index in range(count)
    ]


def queued_batch(count: int = 3, **options: Any) -> Batch:
    """A committed-looking queued batch of ``count`` URL messages."""
    return send_batch(url_messages(count, **options))


def make_due(batch: Batch) -> None:
    """Let a released batch be claimed now instead of after its backoff."""
    Batch.objects.filter(pk=batch.pk).update(next_attempt_at=None)


def expire_lease(batch: Batch) -> None:
    """Pretend the worker holding the batch died a while ago."""
    from datetime import timedelta

    Batch.objects.filter(pk=batch.pk).update(
        lease_expires_at=F("lease_expires_at") - timedelta(hours=1)
    )


def make_topic(
    qstash: QStashEmulator, client: QStashClient, name: str, endpoints: dict[str, str]
) -> Topic:
    """A topic with named endpoints, both in the database and in the emulator."""
    topic = Topic.objects.create(name=name)
    for endpoint_name, url in endpoints.items():
        Endpoint.objects.create(topic=topic, name=endpoint_name, url=url)
    body = {"endpoints": [{"name": n, "url": u} for n, u in endpoints.items()]}
    client.request(
        "POST",
        f"/v2/topics/{name}/endpoints",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    return topic


def sent_items(qstash: QStashEmulator) -> list[dict[str, Any]]:
    """Every item of every ``/v2/batch`` request the emulator received, in order."""
    return [
        item
        for request in qstash.received
        if request.path == "/v2/batch" and isinstance(request.json, list)
        for item in request.json
    ]


def batch_requests(qstash: QStashEmulator) -> list[Any]:
    return [request for request in qstash.received if request.path == "/v2/batch"]


def wait_for_answers(qstash: QStashEmulator, timeout: float = 5.0) -> None:
    """Wait until the emulator has answered every request it received.

    A latency fault outlasting the client's timeout leaves a handler sleeping; it
    must finish before the next test arms faults, or it would use them up.
    """
    qstash.wait_for(
        lambda: all(request.status is not None for request in qstash.received),
        timeout=timeout,
    )


@pytest.fixture
def celery_eager() -> Iterator[Any]:
    """Run Celery tasks in the calling process, as they are sent."""
    from example_project.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def no_kicks() -> Iterator[None]:
    """Commits queue no Celery task: the test drives dispatching itself."""
    from unittest import mock

    with mock.patch("django_qstash_batch.receivers.kick"):
        yield


class Workers:
    """Starts worker processes on the test database and always stops them."""

    def __init__(self, qstash: QStashEmulator, qstash_settings: dict[str, Any]) -> None:
        self.qstash = qstash
        self.settings = qstash_settings
        self.processes: list[Any] = []

    def environment(self, **overrides: Any) -> dict[str, str]:
        import os

        from django.conf import settings
        from django.db import connection

        root = str(settings.BASE_DIR)
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.dispatch.worker_settings",
            "PYTHONPATH": root,
            "QSTASH_TEST_DATABASE_NAME": str(connection.settings_dict["NAME"]),
            "QSTASH_TEST_SETTINGS": json.dumps({**self.settings, **overrides}),
        }

    def start(self, *arguments: str, **overrides: Any) -> Any:
        """Start ``manage.py <arguments>`` (or ``celery`` when it comes first)."""
        import subprocess
        import sys

        from django.conf import settings

        root = settings.BASE_DIR
        if arguments[0] == "celery":
            command = [sys.executable, "-m", "celery", *arguments[1:]]
        else:
            command = [sys.executable, str(root / "manage.py"), *arguments]
        process = subprocess.Popen(
            command,
            cwd=root,
            env=self.environment(**overrides),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        import signal
        import subprocess

        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


@pytest.fixture
def workers(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> Iterator[Workers]:
    started = Workers(qstash, qstash_settings)
    try:
        yield started
    finally:
        started.stop_all()
