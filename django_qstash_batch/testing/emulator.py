"""``QStashEmulator``: a local, in-memory QStash that speaks real HTTP.

It ties the pieces together (state, faults, the publisher, the delivery workers and
the HTTP server) and is what tests and the ``qstash_emulator`` command use::

    with QStashEmulator() as qstash:
        client = QStash(qstash.token, base_url=qstash.url)
        ...
        assert qstash.published[0].url == "https://example.com/hook"
"""

from __future__ import annotations

import gc
import secrets
import string
import threading
import time
from collections.abc import Callable
from types import TracebackType

from .defaults import (
    DEFAULT_MAX_RETRIES,
    DEV_CURRENT_SIGNING_KEY,
    DEV_NEXT_SIGNING_KEY,
    DEV_TOKEN,
)
from .delivery import Deliverer
from .faults import Faults
from .publishing import Publisher
from .server import EmulatorHTTPServer
from .state import (
    Clock,
    DeadLetter,
    DeliveryAttempt,
    Event,
    Group,
    Message,
    ReceivedRequest,
    Store,
)

_KEY_ALPHABET = string.ascii_letters + string.digits


def tune_for_throughput() -> None:
    """Make the garbage collector run less often, for a process serving only QStash.

    The emulator keeps every message it accepts, so the collector's default
    thresholds make it rescan an ever larger heap while batches pour in. The
    management command and the throughput benchmark call this; a test process
    should not, since it changes the whole interpreter.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _new_signing_key() -> str:
    """A fresh key shaped like QStash's: ``sig_`` and 28 characters (32 bytes)."""
    return "sig_" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(28))


class QStashEmulator:
    """A QStash server on loopback, for tests and local development.

    ``port=0`` picks a free port. ``deliver=False`` accepts and records messages but
    never sends them (for benchmarks). ``retry_backoff_scale`` multiplies every
    wait between delivery attempts, so ``0.001`` turns QStash's 12 s first retry
    into 12 ms. ``max_retries`` is the plan's cap on ``Upstash-Retries`` (more is
    answered with 412). ``clock`` returns unix seconds; replace it to move time in
    tests without sleeping.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEV_TOKEN,
        current_signing_key: str = DEV_CURRENT_SIGNING_KEY,
        next_signing_key: str = DEV_NEXT_SIGNING_KEY,
        deliver: bool = True,
        retry_backoff_scale: float = 1.0,
        delivery_workers: int = 4,
        delivery_timeout: float = 10.0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.token = token
        self.max_retries = max_retries
        self.current_signing_key = current_signing_key
        self.next_signing_key = next_signing_key
        self._initial = (
            current_signing_key,
            next_signing_key,
            deliver,
            retry_backoff_scale,
        )
        self._requested_port = port

        self.store = Store(clock)
        self.faults = Faults(self.store.clock)
        self.deliverer = Deliverer(
            self.store,
            lambda: self.current_signing_key,
            workers=delivery_workers,
            timeout=delivery_timeout,
            backoff_scale=retry_backoff_scale,
        )
        self.deliverer.enabled = deliver
        self.publisher = Publisher(self.store, self.faults, self.deliverer.schedule)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> QStashEmulator:
        """Bind the port and start serving and delivering in background threads."""
        if self._server is not None:
            return self
        self._server = EmulatorHTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="qstash-emulator-http",
            daemon=True,
        )
        self._thread.start()
        self.deliverer.start()
        return self

    def stop(self) -> None:
        """Stop serving, hang up on open connections and stop delivering."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.deliverer.stop()

    def serve_forever(self) -> None:
        """Run in the foreground until interrupted (used by the management command)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> QStashEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on (known once started)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL to give clients, e.g. ``http://127.0.0.1:53211``."""
        return f"http://{self.host}:{self.port}"

    @property
    def deliver(self) -> bool:
        """Whether accepted messages are sent to their destinations."""
        return self.deliverer.enabled

    @deliver.setter
    def deliver(self, value: bool) -> None:
        self.deliverer.enabled = value

    @property
    def retry_backoff_scale(self) -> float:
        """Factor applied to every wait between delivery attempts."""
        return self.deliverer.backoff_scale

    @retry_backoff_scale.setter
    def retry_backoff_scale(self, value: float) -> None:
        self.deliverer.backoff_scale = value

    @property
    def received(self) -> list[ReceivedRequest]:
        """Every HTTP request received, oldest first."""
        return self.store.received

    @property
    def published(self) -> list[Message]:
        """Every message created by a client, oldest first (duplicates excluded)."""
        return self.store.published

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        """Every delivery and callback attempt made, oldest first."""
        return self.store.deliveries

    @property
    def events(self) -> list[Event]:
        """The message log, oldest first."""
        return self.store.events

    @property
    def dlq(self) -> list[DeadLetter]:
        """Messages whose retries ran out, oldest first."""
        return list(self.store.dlq.values())

    @property
    def groups(self) -> dict[str, Group]:
        """URL groups by name."""
        return self.store.groups

    def message(self, message_id: str) -> Message:
        """A message (or callback) by its id; ``KeyError`` if unknown."""
        return self.store.messages[message_id]

    def states(self, message_id: str) -> list[str]:
        """The log states of one message, oldest first."""
        with self.store.lock:
            return [
                event.state
                for event in self.store.events
                if event.message.message_id == message_id
            ]

    def reset(self) -> None:
        """Forget all state, disarm all faults and restore the constructor settings."""
        current, following, deliver, scale = self._initial
        self.deliverer.clear()
        self.store.reset()
        self.faults.clear()
        self.current_signing_key, self.next_signing_key = current, following
        self.deliver = deliver
        self.retry_backoff_scale = scale

    def rotate_keys(self) -> None:
        """Make the next key current and create a new next key, as QStash does."""
        self.current_signing_key = self.next_signing_key
        self.next_signing_key = _new_signing_key()

    def wake(self) -> None:
        """Tell the delivery workers that a fake clock has moved."""
        self.deliverer.wake()

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no delivery is queued or in flight; ``TimeoutError`` if not."""
        if not self.deliverer.wait_idle(timeout):
            raise TimeoutError(f"deliveries still pending after {timeout} s")

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll ``condition`` until it holds; ``TimeoutError`` if it never does."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(0.005)

    def env(self) -> dict[str, str]:
        """The environment variables the official SDKs read, pointing here."""
        return {
            "QSTASH_URL": self.url,
            "QSTASH_TOKEN": self.token,
            "QSTASH_CURRENT_SIGNING_KEY": self.current_signing_key,
            "QSTASH_NEXT_SIGNING_KEY": self.next_signing_key,
        }

    def settings(self) -> dict[str, str]:
        """The ``QSTASH_BATCH`` keys that point the app here."""
        return {
            "URL": self.url,
            "TOKEN": self.token,
            "CURRENT_SIGNING_KEY": self.current_signing_key,
            "NEXT_SIGNING_KEY": self.next_signing_key,
        }
