"""The app's error hierarchy.

Everything the app raises at runtime derives from :class:`QStashBatchError`, so a host
project can catch it in one place. Configuration problems derive from Django's
``ImproperlyConfigured`` instead, outside that tree, so a broad ``except
QStashBatchError`` never hides a broken setup. No message built here ever contains the
token or a signing key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from django.core.exceptions import ImproperlyConfigured


class QStashBatchError(Exception):
    """Root of every runtime error raised by django_qstash_batch."""


class QStashConfigurationError(ImproperlyConfigured):
    """The app's settings cannot work (for example: no token is configured)."""


@dataclass(frozen=True)
class RateLimitInfo:
    """The rate-limit headers of a QStash answer, parsed.

    ``reset`` is a unix timestamp in seconds. ``kind`` is ``"daily"`` for the message
    quota (``RateLimit-*``), ``"burst"`` for the per-second limit
    (``Burst-RateLimit-*``).
    """

    kind: str
    limit: int | None
    remaining: int | None
    reset: float | None


class QStashAPIError(QStashBatchError, requests.HTTPError):
    """QStash answered with an error status.

    Carries the HTTP status, QStash's own error text and, for 429 answers, the parsed
    rate-limit headers.
    """

    def __init__(
        self,
        status: int,
        error_text: str,
        *,
        rate_limit: RateLimitInfo | None = None,
        response: requests.Response | None = None,
    ) -> None:
        self.status = status
        self.error_text = error_text
        self.rate_limit = rate_limit
        super().__init__(f"QStash answered {status}: {error_text}", response=response)

    @property
    def is_retryable(self) -> bool:
        """Whether sending the same request later may succeed."""
        return self.status >= 500 or self.status == 429


class RateLimited(QStashAPIError):
    """A 429 for the per-second (burst) limit: wait for its reset, then retry."""


class QuotaExceeded(QStashAPIError):
    """A 429 for the daily message quota: pause dispatching until its reset."""


class QStashProtocolError(QStashBatchError):
    """QStash answered 2xx with a body the app cannot map back onto its request."""

    def __init__(self, message: str, *, detail: Any = None) -> None:
        self.detail = detail
        super().__init__(message)


class QStashConnectionError(QStashBatchError, requests.ConnectionError):
    """QStash could not be reached, or did not answer in time."""
