"""The emulator's in-memory state: messages, URL groups, the dedup window, logs, DLQ.

Everything lives in one ``Store`` guarded by one lock, read and written by the HTTP
handler threads and the delivery workers. Time comes from an injectable clock (unix
seconds as a float) so tests can move past the dedup window or a delay without
sleeping. ``reset()`` empties it all between tests.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from .options import Options

Clock = Callable[[], float]

_UNPARSED: Any = object()

#: States a message passes through, spelled as the official SDKs expect them.
CREATED = "CREATED"
ACTIVE = "ACTIVE"
RETRY = "RETRY"
ERROR = "ERROR"
DELIVERED = "DELIVERED"
FAILED = "FAILED"
CANCEL_REQUESTED = "CANCEL_REQUESTED"
CANCELED = "CANCELED"

#: States after which a message is no longer pending.
FINAL_STATES = frozenset({DELIVERED, FAILED, CANCELED})


@dataclass(slots=True, eq=False)
class Message:
    """One message QStash created: per URL destination, or per endpoint of a group.

    ``kind`` is ``"message"`` for what a client published, ``"callback"`` and
    ``"failure_callback"`` for the reports the emulator sends about one
    (``source_id`` then names the message reported on).
    """

    message_id: str
    url: str
    body: bytes
    options: Options
    created_at: int
    due: float
    topic_name: str | None = None
    endpoint_name: str | None = None
    queue_name: str | None = None
    caller_ip: str = "127.0.0.1"
    deduplication_id: str | None = None
    generation: int = 0
    kind: str = "message"
    source_id: str | None = None
    state: str = CREATED
    retried: int = 0
    last_status: int | None = None

    @property
    def method(self) -> str:
        """HTTP method the message is delivered with."""
        return self.options.method

    @property
    def headers(self) -> dict[str, str]:
        """Headers delivered to the destination, without their forward prefix."""
        return self.options.forward_headers

    @property
    def content_type(self) -> str | None:
        """``Content-Type`` delivered with the body."""
        return self.options.content_type

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt before the message fails."""
        return self.options.retries

    @property
    def not_before_ms(self) -> int:
        """When the message becomes due, unix milliseconds."""
        return int(self.due * 1000)


@dataclass(slots=True)
class Endpoint:
    """One member of a URL group."""

    url: str
    name: str | None = None


@dataclass(slots=True)
class Group:
    """A URL group (QStash still calls them topics in its paths)."""

    name: str
    created_at: int
    updated_at: int
    endpoints: list[Endpoint] = field(default_factory=list)


@dataclass(slots=True)
class ReceivedRequest:
    """One HTTP request the emulator received, as it arrived.

    ``status`` is what the emulator answered (``None`` when it dropped the
    connection). ``json`` parses the body on first use: keeping only the raw bytes
    spares the heap (and the garbage collector) thousands of small objects per batch.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    _json: Any = field(default=_UNPARSED, repr=False)

    @property
    def json(self) -> Any:
        """The body parsed as JSON; ``None`` when it is empty or not JSON."""
        if self._json is _UNPARSED:
            try:
                self._json = json.loads(self.body) if self.body.strip() else None
            except ValueError:
                self._json = None
        return self._json


@dataclass(slots=True)
class DeliveryAttempt:
    """One request the emulator made to a destination or callback URL."""

    message_id: str
    kind: str
    url: str
    method: str
    retried: int
    status: int | None
    error: str | None
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class DeadLetter:
    """A message whose retries ran out, with the last response it got."""

    dlq_id: str
    message: Message
    response_status: int | None
    response_headers: dict[str, list[str]]
    response_body: bytes
    created_at: int


@dataclass(slots=True)
class Event:
    """One entry of the message log (``/v2/events``)."""

    time: int
    state: str
    message: Message
    error: str | None = None
    next_delivery_time: int | None = None
    response_status: int | None = None


class Store:
    """All emulator state behind one re-entrant lock."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or time.time
        self.lock = threading.RLock()
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count(1)
        self._dlq_counter = itertools.count()
        self.generation = 0
        self.reset()

    def reset(self) -> None:
        """Forget every message, group, log entry and recorded request."""
        with self.lock:
            self.generation += 1
            self.messages: dict[str, Message] = {}
            self.published: list[Message] = []
            self.received: list[ReceivedRequest] = []
            self.deliveries: list[DeliveryAttempt] = []
            self.groups: dict[str, Group] = {}
            self.queues: dict[str, int] = {}
            self.dedup: dict[Hashable, tuple[float, Any]] = {}
            self.events: list[Event] = []
            self.dlq: dict[str, DeadLetter] = {}
            self._next_sweep = 0.0

    def now_ms(self) -> int:
        """The clock's time in unix milliseconds."""
        return int(self.clock() * 1000)

    def new_message_id(self) -> str:
        """Return a fresh ``msg_…`` id, unique across resets of this emulator."""
        return f"msg_{self._prefix}{next(self._counter):012x}"

    def new_dlq_id(self) -> str:
        """Return a fresh DLQ id shaped like QStash's (``<ms>-<n>``)."""
        return f"{self.now_ms()}-{next(self._dlq_counter)}"

    def log(
        self,
        message: Message,
        state: str,
        *,
        error: str | None = None,
        next_delivery_time: int | None = None,
        response_status: int | None = None,
    ) -> None:
        """Append a log entry and move the message to ``state``."""
        with self.lock:
            if message.generation != self.generation:
                return
            if state not in (ERROR, CANCEL_REQUESTED):
                message.state = state
            self.events.append(
                Event(
                    self.now_ms(),
                    state,
                    message,
                    error,
                    next_delivery_time,
                    response_status,
                )
            )

    def remembered(self, key: Hashable, now: float) -> Any:
        """Return what the dedup window holds for ``key`` at ``now``, or ``None``."""
        entry = self.dedup.get(key)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def remember(self, key: Hashable, outcome: Any, until: float, now: float) -> None:
        """Hold ``outcome`` under ``key`` until the clock reads ``until``."""
        self.dedup[key] = (until, outcome)
        if now >= self._next_sweep:
            self._next_sweep = now + 60
            expired = [key for key, (end, _) in self.dedup.items() if end <= now]
            for stale in expired:
                del self.dedup[stale]

    def pending(self) -> list[Message]:
        """Client messages not yet delivered, failed or cancelled."""
        with self.lock:
            return [
                message
                for message in self.messages.values()
                if message.state not in FINAL_STATES and message.kind == "message"
            ]
