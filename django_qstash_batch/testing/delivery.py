"""Delivering messages: worker threads that POST to destinations as QStash would.

Accepted messages wait in a heap ordered by when they are due (their delay or
not-before, read from the store's clock). A small pool of workers takes due messages
and sends each one, signed with the current signing key over the exact URL, with
its forwarded headers and QStash's own. A failed attempt is retried after a backoff
that ``backoff_scale`` can shrink for tests; when retries run out the message goes
to the DLQ and its failure callback is sent. Callbacks are themselves delivered as
signed messages by the same workers.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import requests

from ..signing import sign
from .options import CallbackOptions, Options, evaluate_retry_delay
from .state import (
    ACTIVE,
    CANCELED,
    DELIVERED,
    ERROR,
    FAILED,
    RETRY,
    DeadLetter,
    DeliveryAttempt,
    Message,
    Store,
)

logger = logging.getLogger(__name__)

#: Longest wait between retries QStash uses, in seconds.
MAX_BACKOFF = 86400.0


def default_backoff(retry_number: int) -> float:
    """QStash's documented wait before retry ``retry_number`` (1-based), seconds."""
    return min(MAX_BACKOFF, math.exp(2.5 * retry_number))


def _header_lists(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """Headers in QStash's JSON shape: every name maps to a list of values."""
    return {name: [value] for name, value in headers.items()}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Deliverer:
    """The delivery queue and the workers draining it."""

    def __init__(
        self,
        store: Store,
        signing_key: Callable[[], str],
        *,
        workers: int = 4,
        timeout: float = 10.0,
        backoff_scale: float = 1.0,
    ) -> None:
        self.store = store
        self.signing_key = signing_key
        self.workers = workers
        self.timeout = timeout
        self.backoff_scale = backoff_scale
        self.enabled = True
        self._heap: list[tuple[float, int, Message]] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._busy = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._sessions: list[requests.Session] = []
        self._local = threading.local()

    def start(self) -> None:
        """Start the worker threads."""
        self._stopping = False
        for number in range(self.workers):
            thread = threading.Thread(
                target=self._run, name=f"qstash-emulator-delivery-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the workers after their current attempt and close their sessions."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 1)
        self._threads.clear()
        for session in self._sessions:
            session.close()
        self._sessions.clear()

    def clear(self) -> None:
        """Drop every message waiting for delivery."""
        with self._condition:
            self._heap.clear()
            self._condition.notify_all()

    def schedule(self, messages: list[Message]) -> None:
        """Queue messages for delivery when they are due (no-op when disabled)."""
        if not self.enabled:
            return
        with self._condition:
            for message in messages:
                entry = (message.due, next(self._sequence), message)
                heapq.heappush(self._heap, entry)
            self._condition.notify(len(messages))

    def discard_cancelled(self) -> None:
        """Take cancelled messages out of the queue so they stop counting as work."""
        with self._condition:
            self._heap = [entry for entry in self._heap if entry[2].state != CANCELED]
            heapq.heapify(self._heap)
            self._condition.notify_all()

    def wake(self) -> None:
        """Make the workers look at the clock again (after a fake clock moved)."""
        with self._condition:
            self._condition.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight; False if ``timeout`` passed."""
        with self._condition:
            return self._condition.wait_for(
                lambda: not self._heap and not self._busy, timeout
            )

    def _run(self) -> None:
        """Worker loop: take the next due message, attempt it, repeat."""
        while True:
            with self._condition:
                message = self._next_due()
                if message is None:
                    return
                self._busy += 1
            try:
                self._attempt(message)
            except Exception:
                logger.exception("emulator delivery of %s crashed", message.message_id)
            finally:
                with self._condition:
                    self._busy -= 1
                    self._condition.notify_all()

    def _next_due(self) -> Message | None:
        """Block until a message is due and pop it; None when stopping."""
        while not self._stopping:
            if not self._heap:
                self._condition.wait()
                continue
            wait = self._heap[0][0] - self.store.clock()
            if wait <= 0:
                return heapq.heappop(self._heap)[2]
            # Polling keeps the workers responsive to a fake clock being moved.
            self._condition.wait(min(wait, 0.05))
        return None

    def _session(self) -> requests.Session:
        """This worker thread's keep-alive session."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
            with self._condition:
                self._sessions.append(session)
        return session

    def _headers(self, message: Message) -> dict[str, str]:
        """Everything sent with a delivery: forwarded headers, then QStash's own."""
        headers = dict(message.options.forward_headers)
        if message.options.content_type:
            headers["Content-Type"] = message.options.content_type
        headers.update(
            {
                "Upstash-Signature": sign(
                    message.body, message.url, self.signing_key()
                ),
                "Upstash-Message-Id": message.message_id,
                "Upstash-Retried": str(message.retried),
                "Upstash-Caller-Ip": message.caller_ip,
                "User-Agent": "Upstash-QStash",
            }
        )
        if message.topic_name:
            headers["Upstash-Topic-Name"] = message.topic_name
        return headers

    def _attempt(self, message: Message) -> None:
        """Send one delivery attempt and decide what follows from its result."""
        store = self.store
        if message.state == CANCELED or message.generation != store.generation:
            return

        is_source = message.kind == "message"
        if is_source:
            store.log(message, ACTIVE)

        headers = self._headers(message)
        status: int | None = None
        response_headers: dict[str, str] = {}
        response_body = b""
        error: str | None = None
        try:
            response = self._session().request(
                message.method,
                message.url,
                data=message.body,
                headers=headers,
                timeout=message.options.timeout or self.timeout,
                allow_redirects=False,
            )
            status = response.status_code
            response_headers = dict(response.headers)
            response_body = response.content
        except requests.RequestException as exception:
            error = f"{type(exception).__name__}: {exception}"

        with store.lock:
            if message.generation != store.generation:
                return
            store.deliveries.append(
                DeliveryAttempt(
                    message.message_id,
                    message.kind,
                    message.url,
                    message.method,
                    message.retried,
                    status,
                    error,
                    headers,
                    message.body,
                )
            )
            message.last_status = status

        succeeded = status is not None and 200 <= status < 300
        if error is None and not succeeded:
            error = f"destination answered {status}"
        result = (status, response_headers, response_body)

        if succeeded:
            if is_source:
                store.log(message, DELIVERED, response_status=status)
                self._callback(message, message.options.callback, result)
            else:
                message.state = DELIVERED
            return

        if is_source:
            store.log(message, ERROR, error=error, response_status=status)
            self._callback(message, message.options.callback, result)

        if message.retried < message.max_retries:
            self._retry(message, error)
        elif is_source:
            self._fail(message, error, result)
        else:
            message.state = FAILED
            logger.debug("emulator gave up on callback %s", message.message_id)

    def _retry(self, message: Message, error: str | None) -> None:
        """Schedule the next attempt after the message's backoff."""
        if message.options.retry_delay:
            try:
                seconds = evaluate_retry_delay(
                    message.options.retry_delay, message.retried
                )
                seconds = max(0.0, seconds / 1000)
            except (ValueError, TypeError, ArithmeticError):
                seconds = default_backoff(message.retried + 1)
        else:
            seconds = default_backoff(message.retried + 1)

        message.retried += 1
        message.due = self.store.clock() + seconds * self.backoff_scale
        if message.kind == "message":
            self.store.log(
                message,
                RETRY,
                error=error,
                next_delivery_time=int(message.due * 1000),
            )
        self.schedule([message])

    def _fail(
        self,
        message: Message,
        error: str | None,
        result: tuple[int | None, dict[str, str], bytes],
    ) -> None:
        """Retries ran out: log the failure, file a DLQ entry, send the callback."""
        store = self.store
        status, response_headers, response_body = result
        with store.lock:
            if message.generation != store.generation:
                return
            entry = DeadLetter(
                store.new_dlq_id(),
                message,
                status,
                _header_lists(response_headers),
                response_body,
                store.now_ms(),
            )
            store.dlq[entry.dlq_id] = entry
        store.log(message, FAILED, error=error, response_status=status)
        self._callback(
            message,
            message.options.failure_callback,
            result,
            kind="failure_callback",
            extra={"dlqId": entry.dlq_id},
        )

    def _callback(
        self,
        message: Message,
        target: CallbackOptions | None,
        result: tuple[int | None, dict[str, str], bytes],
        *,
        kind: str = "callback",
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Queue a (failure) callback reporting ``result`` for ``message``."""
        if target is None:
            return

        status, response_headers, response_body = result
        options = message.options
        source_headers = dict(options.forward_headers)
        if options.content_type:
            source_headers["Content-Type"] = options.content_type
        payload = {
            "status": status or 0,
            "header": _header_lists(response_headers),
            "body": _b64(response_body),
            "retried": message.retried,
            "maxRetries": message.max_retries,
            "sourceMessageId": message.message_id,
            "topicName": message.topic_name or "",
            "endpointName": message.endpoint_name or "",
            "url": message.url,
            "method": message.method,
            "sourceHeader": _header_lists(source_headers),
            "sourceBody": _b64(message.body),
            "notBefore": str(message.not_before_ms),
            "createdAt": str(message.created_at),
            "scheduleId": "",
            "callerIP": message.caller_ip,
            **(extra or {}),
        }

        store = self.store
        now = store.clock()
        callback = Message(
            store.new_message_id(),
            target.url,
            json.dumps(payload).encode(),
            Options(
                method=target.method,
                content_type="application/json",
                forward_headers=target.headers,
                retries=target.retries,
                retry_delay=target.retry_delay,
                timeout=target.timeout,
            ),
            int(now * 1000),
            now + target.delay,
            caller_ip=message.caller_ip,
            kind=kind,
            source_id=message.message_id,
            generation=message.generation,
        )
        with store.lock:
            if callback.generation != store.generation:
                return
            store.messages[callback.message_id] = callback
        self.schedule([callback])
