"""Fault controls: make the emulator fail the way QStash can, on demand.

Tests reach these through ``emulator.faults``. Each control is armed by a method call
and used up as requests arrive; ``clear()`` disarms them all. The server consults
them in a fixed order for every authenticated request: latency first, then canned
responses, then the daily quota; item errors apply per batch item and dropped
connections after a publish has been accepted and recorded.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from .state import Clock

_DEFAULT_ERRORS = {
    400: "invalid request",
    401: "unauthorized",
    412: "plan limit exceeded",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}

#: Paths that publish messages, and so count against the daily quota.
PUBLISHING_PREFIXES = ("/v2/batch", "/v2/publish/", "/v2/enqueue/")


@dataclass(slots=True)
class CannedResponse:
    """A response the server sends instead of handling a request."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None

    def matches(self, path: str) -> bool:
        """True when this response applies to a request for ``path``."""
        return self.path is None or path.startswith(self.path)


@dataclass(slots=True)
class _ItemError:
    message: str
    remaining: int | None


@dataclass(slots=True)
class _Quota:
    limit: int
    used: int
    reset_at: float | None


def _error_body(status: int, body: bytes | str | dict[str, object] | None) -> bytes:
    """Encode a fault body; by default QStash's ``{"error": ...}`` shape."""
    if body is None:
        return json.dumps({"error": _DEFAULT_ERRORS.get(status, "error")}).encode()
    if isinstance(body, dict):
        return json.dumps(body).encode()
    return body.encode() if isinstance(body, str) else body


def _next_utc_midnight(now: float) -> float:
    """Unix time of the next UTC midnight after ``now``."""
    return (math.floor(now / 86400) + 1) * 86400.0


class Faults:
    """The armed fault controls of one emulator."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or time.time
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Disarm every fault control."""
        with self._lock:
            self._canned: deque[CannedResponse] = deque()
            self._item_errors: dict[str, _ItemError] = {}
            self._latency = 0.0
            self._latency_path: str | None = None
            self._drops = 0
            self._quota: _Quota | None = None

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 503,
        body: bytes | str | dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests (for ``path`` and below) with ``status``.

        ``body`` defaults to ``{"error": "<reason>"}``; a dict is sent as JSON, a
        string or bytes as they are. Nothing else happens for those requests.
        """
        response = CannedResponse(
            status, _error_body(status, body), headers or {}, path
        )
        with self._lock:
            self._canned.extend(response for _ in range(n))

    def rate_limit_burst(
        self,
        n: int = 1,
        *,
        limit: int = 100,
        reset_in: float = 1.0,
        path: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests with the per-second 429 (``Burst-*``)."""
        headers = {
            "Burst-RateLimit-Limit": str(limit),
            "Burst-RateLimit-Remaining": "0",
            "Burst-RateLimit-Reset": str(math.ceil(self._clock() + reset_in)),
        }
        self.fail_next(n, status=429, headers=headers, path=path)

    def rate_limit_daily(
        self,
        n: int = 1,
        *,
        limit: int = 1000,
        reset_at: float | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests with the daily-quota 429 (``RateLimit-*``)."""
        reset = reset_at if reset_at is not None else _next_utc_midnight(self._clock())
        headers = {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(math.ceil(reset)),
        }
        body: dict[str, object] = {"error": "daily message limit exceeded"}
        self.fail_next(n, status=429, body=body, headers=headers, path=path)

    def daily_quota(self, after: int, *, reset_at: float | None = None) -> None:
        """Allow ``after`` more messages, then answer publishes with the daily 429.

        A request that would take the count past the limit is refused whole. The
        count starts again once the clock passes ``reset_at`` (by default the next
        UTC midnight).
        """
        with self._lock:
            self._quota = _Quota(after, 0, reset_at)

    def item_error(
        self,
        destination: str,
        message: str = "destination rejected",
        *,
        times: int | None = None,
    ) -> None:
        """Put ``{"error": message}`` in the slot of items for ``destination``.

        ``destination`` is a URL or URL group name as written in the request. The
        error applies to the next ``times`` such items, or to all of them.
        """
        with self._lock:
            self._item_errors[destination] = _ItemError(message, times)

    def latency(self, seconds: float, *, path: str | None = None) -> None:
        """Wait ``seconds`` before answering each request (for ``path`` and below)."""
        with self._lock:
            self._latency = seconds
            self._latency_path = path

    def drop_after_accept(self, n: int = 1) -> None:
        """Accept and record the next ``n`` publishes, then hang up without answering.

        This is the lost-response case: the messages exist in QStash but the client
        never learns their ids, so only deduplication ids make a re-send safe.
        """
        with self._lock:
            self._drops += n

    @property
    def quota_armed(self) -> bool:
        """True when a daily quota is being counted."""
        return self._quota is not None

    @property
    def item_errors_armed(self) -> bool:
        """True when some destination has an item error armed."""
        return bool(self._item_errors)

    def delay_for(self, path: str) -> float:
        """Seconds to wait before answering a request for ``path``."""
        if self._latency and (
            self._latency_path is None or path.startswith(self._latency_path)
        ):
            return self._latency
        return 0.0

    def take_canned(self, path: str) -> CannedResponse | None:
        """Use up and return the first armed response that applies to ``path``."""
        if not self._canned:
            return None
        with self._lock:
            for index, response in enumerate(self._canned):
                if response.matches(path):
                    del self._canned[index]
                    return response
        return None

    def take_item_error(self, destination: str) -> str | None:
        """Use up and return the item error armed for ``destination``, if any."""
        if not self._item_errors:
            return None
        with self._lock:
            armed = self._item_errors.get(destination)
            if armed is None:
                return None
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining <= 0:
                    del self._item_errors[destination]
            return armed.message

    def take_drop(self) -> bool:
        """Use up one armed dropped connection; True if there was one."""
        if not self._drops:
            return False
        with self._lock:
            if self._drops <= 0:
                return False
            self._drops -= 1
            return True

    def charge_quota(self, count: int) -> CannedResponse | None:
        """Count ``count`` new messages against the quota; a 429 if it is spent."""
        if self._quota is None:
            return None
        with self._lock:
            quota = self._quota
            now = self._clock()
            if quota.reset_at is None:
                quota.reset_at = _next_utc_midnight(now)
            if now >= quota.reset_at:
                quota.used = 0
                quota.reset_at = _next_utc_midnight(now)

            if quota.used + count <= quota.limit:
                quota.used += count
                return None

            headers = {
                "RateLimit-Limit": str(quota.limit),
                "RateLimit-Remaining": str(quota.limit - quota.used),
                "RateLimit-Reset": str(math.ceil(quota.reset_at)),
            }
            body = _error_body(429, {"error": "daily message limit exceeded"})
            return CannedResponse(429, body, headers)
