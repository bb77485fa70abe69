"""The app's settings, read lazily from the ``QSTASH_BATCH`` dict.

Every value is looked up on access, so ``override_settings`` works in tests and nothing
is frozen at import time. Secrets and endpoints resolve in this order: the key in
``QSTASH_BATCH``, then a top-level ``QSTASH_<KEY>`` Django setting, then the
``QSTASH_<KEY>`` environment variable (the names the official SDKs read), then the
default.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

DEFAULT_URL = "https://qstash.upstash.io"

DEFAULTS: dict[str, Any] = {
    "TOKEN": None,
    "URL": DEFAULT_URL,
    "CURRENT_SIGNING_KEY": None,
    "NEXT_SIGNING_KEY": None,
    "CALLBACK_URL": None,
    "MAX_MESSAGES_PER_REQUEST": 100,
    "MAX_REQUEST_BYTES": 5_000_000,
    "MAX_MESSAGE_BYTES": 1_000_000,
    "TIMEOUT": (5, 30),
    "LEASE_SECONDS": 60,
    "MAX_ATTEMPTS": 8,
}

#: Keys that also fall back to a ``QSTASH_<KEY>`` setting and environment variable.
ENVIRONMENT_KEYS = frozenset(
    {"TOKEN", "URL", "CURRENT_SIGNING_KEY", "NEXT_SIGNING_KEY"}
)

#: Keys whose values must never be shown: not in logs, pages, responses or errors.
SECRET_KEYS = frozenset({"TOKEN", "CURRENT_SIGNING_KEY", "NEXT_SIGNING_KEY"})


class Settings:
    """Typed, read-on-access view of the app's configuration."""

    def get(self, key: str) -> Any:
        """Return one setting, resolving the fallbacks described in the module doc."""
        if key not in DEFAULTS:
            raise KeyError(f"unknown QSTASH_BATCH setting {key!r}")

        user_settings: dict[str, Any] = getattr(settings, "QSTASH_BATCH", None) or {}
        if key in user_settings:
            return user_settings[key]

        if key in ENVIRONMENT_KEYS:
            name = f"QSTASH_{key}"
            from_settings = getattr(settings, name, None)
            if from_settings:
                return from_settings
            from_environment = os.environ.get(name)
            if from_environment:
                return from_environment

        return DEFAULTS[key]

    def unknown_keys(self) -> list[str]:
        """Keys in ``QSTASH_BATCH`` that the app does not know (likely typos)."""
        user_settings = getattr(settings, "QSTASH_BATCH", None) or {}
        return sorted(set(user_settings) - set(DEFAULTS))

    @property
    def TOKEN(self) -> str | None:
        return self.get("TOKEN")

    @property
    def URL(self) -> str:
        return str(self.get("URL") or DEFAULT_URL).rstrip("/")

    @property
    def CURRENT_SIGNING_KEY(self) -> str | None:
        return self.get("CURRENT_SIGNING_KEY")

    @property
    def NEXT_SIGNING_KEY(self) -> str | None:
        return self.get("NEXT_SIGNING_KEY")

    @property
    def CALLBACK_URL(self) -> str | None:
        return self.get("CALLBACK_URL")

    @property
    def MAX_MESSAGES_PER_REQUEST(self) -> int:
        return int(self.get("MAX_MESSAGES_PER_REQUEST"))

    @property
    def MAX_REQUEST_BYTES(self) -> int:
        return int(self.get("MAX_REQUEST_BYTES"))

    @property
    def MAX_MESSAGE_BYTES(self) -> int:
        return int(self.get("MAX_MESSAGE_BYTES"))

    @property
    def TIMEOUT(self) -> tuple[float, float]:
        value = self.get("TIMEOUT")
        if isinstance(value, (int, float)):
            return (float(value), float(value))
        connect, read = value
        return (float(connect), float(read))

    @property
    def LEASE_SECONDS(self) -> int:
        return int(self.get("LEASE_SECONDS"))

    @property
    def MAX_ATTEMPTS(self) -> int:
        return int(self.get("MAX_ATTEMPTS"))


conf = Settings()
