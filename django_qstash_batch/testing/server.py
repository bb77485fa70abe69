"""The HTTP side of the emulator: a threaded, keep-alive server on loopback.

Each request is read, recorded, delayed if a latency fault is armed, checked for the
bearer token, answered from an armed canned response if there is one, and otherwise
routed to the API. Responses are written in one piece with a ``Content-Length`` so
HTTP/1.1 clients can reuse their connection; a dropped-connection fault closes the
socket instead of answering.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .api import route
from .exchange import Reply, Request, error
from .state import ReceivedRequest

if TYPE_CHECKING:
    from .emulator import QStashEmulator

logger = logging.getLogger(__name__)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its emulator and its open connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: QStashEmulator) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up early is routine here, not worth a traceback."""
        logger.debug("emulator connection from %s ended abruptly", client_address)

    def close_connections(self) -> None:
        """Hang up on every client still holding a keep-alive connection."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class RequestHandler(BaseHTTPRequestHandler):
    """Serves every request of one client connection."""

    protocol_version = "HTTP/1.1"
    server_version = "qstash-emulator"
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the standard per-request line out of stderr."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("emulator: %s", format % args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        """Read the request body, sized by Content-Length or sent in chunks."""
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        if "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
            return b""

        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _authorized(self, token: str, query: dict[str, list[str]]) -> bool:
        """True when the bearer token or ``qstash_token`` matches the emulator's."""
        header = self.headers.get("Authorization") or ""
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer":
            given = (query.get("qstash_token") or [""])[0]
        return hmac.compare_digest(given.strip().encode(), token.encode())

    def _handle(self) -> None:
        """Read, record and answer one request (every HTTP method comes here)."""
        emulator = self.server.emulator
        path, _, raw_query = self.path.partition("?")
        query = parse_qs(raw_query, keep_blank_values=True) if raw_query else {}
        headers = dict(self.headers.items())
        request = Request(
            self.command,
            path,
            query,
            headers,
            self._read_body(),
            self.client_address[0],
            raw_query,
        )
        record = ReceivedRequest(self.command, path, query, headers, request.body)
        store = emulator.store
        with store.lock:
            store.received.append(record)

        reply = self._reply(emulator, request)

        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        record.status = reply.status
        self._send(reply)

    def _reply(self, emulator: QStashEmulator, request: Request) -> Reply:
        """Decide the answer: faults first, then the API."""
        faults = emulator.faults
        delay = faults.delay_for(request.path)
        if delay:
            generation = emulator.store.generation
            time.sleep(delay)
            if emulator.store.generation != generation:
                # A reset happened meanwhile; this request belongs to a finished test.
                return error(503, "the emulator was reset while this request waited")

        if not self._authorized(emulator.token, request.query):
            return error(401, "unauthorized: missing or invalid bearer token")

        canned = faults.take_canned(request.path)
        if canned is not None:
            return Reply(canned.status, raw=canned.body, headers=canned.headers)

        try:
            return route(emulator, request)
        except Exception:
            logger.exception("emulator failed on %s %s", request.method, request.path)
            return error(500, "internal emulator error")

    def _send(self, reply: Reply) -> None:
        """Write the whole response in one call."""
        body = reply.encode()
        head = [f"HTTP/1.1 {reply.status} {_reason(reply.status)}"]
        if body:
            json_like = reply.raw is None or body[:1] in (b"{", b"[")
            kind = "application/json" if json_like else "text/plain; charset=utf-8"
            head.append(f"Content-Type: {kind}")
        head.append(f"Content-Length: {len(body)}")
        head.extend(f"{name}: {value}" for name, value in reply.headers.items())
        if self.close_connection:
            head.append("Connection: close")
        head.append("\r\n")
        try:
            self.wfile.write("\r\n".join(head).encode("latin-1") + body)
        except OSError:
            # The client gave up waiting (a latency fault outlasting its timeout).
            self.close_connection = True
