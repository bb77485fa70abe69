"""Fixtures for the emulator's own tests.

The plugin's fixtures are imported here so these tests run whether or not the
package's ``pytest11`` entry point is installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import qstash
import requests

from django_qstash_batch.testing import QStashEmulator, RecordingEndpoint, pytest_plugin

qstash_emulator_server = pytest_plugin.qstash_emulator_server
qstash_emulator = pytest_plugin.qstash_emulator


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def emulator(qstash_emulator: QStashEmulator) -> QStashEmulator:
    """The shared, freshly reset emulator."""
    return qstash_emulator


@pytest.fixture
def quiet(emulator: QStashEmulator) -> QStashEmulator:
    """The emulator with delivery off, so messages stay pending."""
    emulator.deliver = False
    return emulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clocked_emulator(clock: FakeClock) -> Iterator[QStashEmulator]:
    """A private emulator whose time is ``clock``."""
    with QStashEmulator(clock=clock, retry_backoff_scale=0.001) as emulator:
        yield emulator


@pytest.fixture
def hook() -> Iterator[RecordingEndpoint]:
    """A destination that records what it receives and answers 200."""
    with RecordingEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def http(emulator: QStashEmulator) -> Iterator[requests.Session]:
    """A keep-alive session authenticated against the emulator."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {emulator.token}"
        yield session


@pytest.fixture
def sdk(emulator: QStashEmulator) -> Iterator[qstash.QStash]:
    """The official Python SDK, pointed at the emulator, without client retries."""
    client = qstash.QStash(emulator.token, base_url=emulator.url, retry=False)
    yield client
    client.http._client.close()
