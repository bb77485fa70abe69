"""``RecordingEndpoint``: a throwaway HTTP destination that records what it receives.

Tests point messages (or callbacks) at it to see exactly what the emulator
delivered, and script its answers to make deliveries fail and retry::

    with RecordingEndpoint() as hook:
        hook.respond(500, times=2)
        ...publish to hook.url_for("/orders")...
        hook.wait_for(3)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from requests.structures import CaseInsensitiveDict


@dataclass(slots=True)
class Hit:
    """One request the endpoint received."""

    method: str
    url: str
    path: str
    headers: CaseInsensitiveDict[str]
    body: bytes

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")


@dataclass(slots=True)
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _SinkServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        endpoint = self.server.endpoint
        hit = Hit(
            self.command,
            f"{endpoint.url}{self.path}",
            self.path,
            CaseInsensitiveDict(dict(self.headers.items())),
            body,
        )
        answer = endpoint._record(hit)

        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], endpoint: RecordingEndpoint) -> None:
        self.endpoint = endpoint
        super().__init__(address, _Handler)


class RecordingEndpoint:
    """An HTTP server on loopback that answers 200 (or as scripted) and records."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._lock = threading.Lock()
        self._script: deque[_Answer] = deque()
        self._default = _Answer(200, b"ok", {})
        self.requests: list[Hit] = []
        self._server: _SinkServer | None = None

    def start(self) -> RecordingEndpoint:
        """Start serving in a background thread."""
        self._server = _SinkServer(self._address, self)
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="recording-endpoint",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> RecordingEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:53212``."""
        if self._server is None:
            raise RuntimeError("the endpoint is not running; call start() first")
        return f"http://{self._address[0]}:{self._server.server_address[1]}"

    def url_for(self, path: str = "/") -> str:
        """An absolute URL on this endpoint."""
        return self.url + path

    def respond(
        self,
        status: int,
        body: bytes | str = b"",
        *,
        headers: dict[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer the next ``times`` requests this way, or every request if None."""
        answer = _Answer(
            status, body.encode() if isinstance(body, str) else body, headers or {}
        )
        with self._lock:
            if times is None:
                self._default = answer
            else:
                self._script.extend(answer for _ in range(times))

    def _record(self, hit: Hit) -> _Answer:
        with self._lock:
            self.requests.append(hit)
            return self._script.popleft() if self._script else self._default

    def to(self, path: str) -> list[Hit]:
        """The requests received at ``path`` (query string included)."""
        with self._lock:
            return [hit for hit in self.requests if hit.path == path]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Hit]:
        """Wait until ``count`` requests arrived and return them all."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{len(self.requests)} of {count} requests after {timeout} s"
                )
            time.sleep(0.005)
        with self._lock:
            return list(self.requests)
