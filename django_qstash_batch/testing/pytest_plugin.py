"""pytest plugin: the ``qstash_emulator`` fixture.

Installed packages register it through the ``pytest11`` entry point, so a host
project's tests can simply ask for ``qstash_emulator``. One emulator serves the whole
test session (starting a server per test would be slow); each test gets it freshly
reset, with ``settings.QSTASH_BATCH`` pointing at it through pytest-django's
``settings`` fixture, which restores the setting afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .emulator import QStashEmulator

#: Wait between delivery attempts in tests: QStash's 12 s first retry becomes 12 ms.
TEST_RETRY_BACKOFF_SCALE = 0.001


@pytest.fixture(scope="session")
def qstash_emulator_server() -> Iterator[QStashEmulator]:
    """The session's emulator, started once; prefer ``qstash_emulator``."""
    emulator = QStashEmulator(retry_backoff_scale=TEST_RETRY_BACKOFF_SCALE)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def qstash_emulator(
    qstash_emulator_server: QStashEmulator, settings: Any
) -> Iterator[QStashEmulator]:
    """A reset emulator, with ``QSTASH_BATCH`` pointing the app at it."""
    emulator = qstash_emulator_server
    emulator.reset()
    current = getattr(settings, "QSTASH_BATCH", None) or {}
    settings.QSTASH_BATCH = {**current, **emulator.settings()}
    try:
        yield emulator
    finally:
        emulator.reset()
