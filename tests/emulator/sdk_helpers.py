"""Small helpers for the tests that drive the emulator with the official SDK."""

from __future__ import annotations

from typing import Any, TypeVar

import qstash
from qstash.message import BatchResponse, EnqueueResponse, PublishResponse

#: Nothing listens there, so any delivery fails at once instead of going outside.
HOOK = "http://127.0.0.1:9/hooks/orders"

Single = PublishResponse | EnqueueResponse | BatchResponse
T = TypeVar("T")


def one(response: Single | list[Any]) -> Single:
    """A response for a URL destination (the SDK types it as maybe-a-list)."""
    assert not isinstance(response, list)
    return response


def many(response: Single | list[T]) -> list[T]:
    """The per-endpoint responses for a URL group."""
    assert isinstance(response, list)
    return response


def add_group(sdk: qstash.QStash, name: str, *urls: str) -> None:
    """Create (or extend) a URL group through the SDK."""
    sdk.url_group.upsert_endpoints(name, [{"url": url} for url in urls])
