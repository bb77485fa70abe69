"""A faithful local QStash for tests and development.

``QStashEmulator`` runs a real HTTP server on loopback that implements the parts of
the QStash v2 API this app (and most QStash code) uses, delivers messages with signed
requests, and can be told to fail. The pytest plugin in ``pytest_plugin`` offers it
as the ``qstash_emulator`` fixture. See ``docs/testing.md``.
"""

from __future__ import annotations

from .defaults import (
    DEV_CURRENT_SIGNING_KEY,
    DEV_NEXT_SIGNING_KEY,
    DEV_PORT,
    DEV_TOKEN,
)
from .emulator import QStashEmulator
from .sink import RecordingEndpoint

__all__ = [
    "DEV_CURRENT_SIGNING_KEY",
    "DEV_NEXT_SIGNING_KEY",
    "DEV_PORT",
    "DEV_TOKEN",
    "QStashEmulator",
    "RecordingEndpoint",
]
