"""The request and reply objects passed between the HTTP server and the API handlers.

Handlers never touch sockets: they get a ``Request`` and return a ``Reply``, which
keeps them easy to read and lets the server own keep-alive, faults and encoding.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .options import FieldError

_UNSET: Any = object()


@dataclass(slots=True)
class Request:
    """One parsed HTTP request to the emulator."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    caller_ip: str
    raw_query: str = ""
    _json: Any = field(default=_UNSET, repr=False)

    def json(self) -> Any:
        """The body parsed as JSON (once); ``FieldError`` if it is not JSON."""
        if self._json is _UNSET:
            if not self.body.strip():
                self._json = None
            else:
                try:
                    self._json = json.loads(self.body)
                except ValueError:
                    raise FieldError("request body is not valid JSON") from None
        return self._json

    def param(self, name: str) -> str | None:
        """The first value of a query parameter, or ``None``."""
        values = self.query.get(name)
        return values[0] if values else None

    def params(self, name: str) -> list[str]:
        """All values of a query parameter, comma-separated lists split."""
        values: list[str] = []
        for value in self.query.get(name, []):
            values.extend(part for part in value.split(",") if part)
        return values


@dataclass(slots=True)
class Reply:
    """What to answer: a status, a JSON-able payload (or raw bytes) and headers.

    ``drop`` tells the server to close the connection without sending anything.
    """

    status: int = 200
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    drop: bool = False

    def encode(self) -> bytes:
        """The response body bytes."""
        if self.raw is not None:
            return self.raw
        if self.payload is None:
            return b""
        return json.dumps(self.payload, separators=(",", ":")).encode()


def error(status: int, message: str) -> Reply:
    """QStash's error shape: ``{"error": message}``."""
    return Reply(status, {"error": message})
