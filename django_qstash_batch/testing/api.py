"""Routing, and the endpoints that create messages: batch, publish, enqueue.

``route()`` maps a request to its handler. URL groups, messages, logs and the DLQ
live in ``resources``; keys and queues are small enough to sit here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

from . import resources
from .exchange import Reply, Request, error
from .options import FieldError, PlanLimitError
from .publishing import Item, parse_batch, parse_publish

if TYPE_CHECKING:
    from .emulator import QStashEmulator

Handler = Callable[["QStashEmulator", Request, list[str]], Reply]

# A client that builds the path naively may collapse "https://" into "https:/".
_COLLAPSED_SCHEME = re.compile(r"^(https?):/(?!/)")


def _destination(raw: str, request: Request) -> str:
    """Recover a destination URL embedded in the path, with its own query string."""
    destination = unquote(raw) if raw.lower().startswith("http%3a") else raw
    destination = _COLLAPSED_SCHEME.sub(r"\1://", destination)
    own_query = "&".join(
        part
        for part in request.raw_query.split("&")
        if part and not part.startswith("qstash_token=")
    )
    if own_query and destination.startswith(("http://", "https://")):
        destination = f"{destination}?{own_query}"
    return destination


def _publish(emulator: QStashEmulator, request: Request, items: list[Item]) -> Reply:
    """Accept items; answer a quota refusal or hang up when a fault says so."""
    outcomes, refusal = emulator.publisher.accept(items, request.caller_ip)
    if refusal is not None:
        return Reply(refusal.status, raw=refusal.body, headers=refusal.headers)
    reply = Reply(200, outcomes)
    reply.drop = emulator.faults.take_drop()
    return reply


def batch(emulator: QStashEmulator, request: Request, _: list[str]) -> Reply:
    """``POST /v2/batch``: accept an array of messages, answer per item."""
    try:
        items = parse_batch(request.json(), emulator.max_retries)
    except FieldError as problem:
        return error(400, str(problem))
    except PlanLimitError as problem:
        return error(412, str(problem))
    return _publish(emulator, request, items)


def _single(
    emulator: QStashEmulator, request: Request, destination: str, queue: str | None
) -> Reply:
    """Publish or enqueue one message: 201, or 202 for a duplicate."""
    try:
        item = parse_publish(
            destination, queue, request.headers, request.body, emulator.max_retries
        )
    except FieldError as problem:
        return error(400, str(problem))
    except PlanLimitError as problem:
        return error(412, str(problem))

    if not item.destination.startswith(("http://", "https://")):
        group = emulator.store.groups.get(item.destination)
        if group is None:
            return error(404, f"url group {item.destination!r} not found")

    reply = _publish(emulator, request, [item])
    if reply.status != 200:
        return reply

    outcome = reply.payload[0]
    if isinstance(outcome, dict) and "error" in outcome:
        return Reply(400, outcome, drop=reply.drop)
    duplicate = outcome[0] if isinstance(outcome, list) and outcome else outcome
    reply.status = 202 if duplicate.get("deduplicated") else 201
    reply.payload = outcome
    return reply


def publish(emulator: QStashEmulator, request: Request, rest: list[str]) -> Reply:
    """``POST /v2/publish/{destination}``."""
    return _single(emulator, request, _destination("/".join(rest), request), None)


def enqueue(emulator: QStashEmulator, request: Request, rest: list[str]) -> Reply:
    """``POST /v2/enqueue/{queue}/{destination}``."""
    if len(rest) < 2:
        return error(400, "path must be /v2/enqueue/{queue}/{destination}")
    queue, destination = rest[0], _destination("/".join(rest[1:]), request)
    return _single(emulator, request, destination, queue)


def keys(emulator: QStashEmulator, request: Request, _: list[str]) -> Reply:
    """``GET /v2/keys``: the signing keys."""
    return Reply(
        200,
        {"current": emulator.current_signing_key, "next": emulator.next_signing_key},
    )


def rotate_keys(emulator: QStashEmulator, request: Request, _: list[str]) -> Reply:
    """``POST /v2/keys/rotate``: next becomes current, a new next is made."""
    emulator.rotate_keys()
    return keys(emulator, request, [])


def _queue_json(
    name: str, created_at: int, emulator: QStashEmulator
) -> dict[str, object]:
    lag = sum(1 for message in emulator.store.pending() if message.queue_name == name)
    return {
        "name": name,
        "createdAt": created_at,
        "updatedAt": created_at,
        "parallelism": 1,
        "paused": False,
        "lag": lag,
    }


def list_queues(emulator: QStashEmulator, request: Request, _: list[str]) -> Reply:
    """``GET /v2/queues``: queues made by enqueueing."""
    queues = dict(emulator.store.queues)
    return Reply(200, [_queue_json(name, at, emulator) for name, at in queues.items()])


def get_queue(emulator: QStashEmulator, request: Request, rest: list[str]) -> Reply:
    """``GET /v2/queues/{name}``."""
    created_at = emulator.store.queues.get(rest[0])
    if created_at is None:
        return error(404, f"queue {rest[0]!r} not found")
    return Reply(200, _queue_json(rest[0], created_at, emulator))


#: (method, fixed path segments after /v2/, takes the rest as arguments) -> handler
_ROUTES: list[tuple[str, tuple[str, ...], bool, Handler]] = [
    ("POST", ("batch",), False, batch),
    ("POST", ("publish",), True, publish),
    ("POST", ("enqueue",), True, enqueue),
    ("GET", ("keys",), False, keys),
    ("POST", ("keys", "rotate"), False, rotate_keys),
    ("GET", ("queues",), False, list_queues),
    ("GET", ("queues",), True, get_queue),
    ("GET", ("topics",), False, resources.list_groups),
    ("POST", ("topics",), True, resources.upsert_endpoints),
    ("DELETE", ("topics",), True, resources.delete_group_or_endpoints),
    ("GET", ("topics",), True, resources.get_group),
    ("GET", ("messages",), True, resources.get_message),
    ("DELETE", ("messages",), False, resources.cancel_many),
    ("DELETE", ("messages",), True, resources.cancel_one),
    ("GET", ("events",), False, resources.list_events),
    ("GET", ("logs",), False, resources.list_logs),
    ("GET", ("dlq",), False, resources.list_dead_letters),
    ("DELETE", ("dlq",), False, resources.delete_dead_letters),
    ("POST", ("dlq", "retry"), True, resources.retry_dead_letter),
    ("GET", ("dlq",), True, resources.get_dead_letter),
    ("DELETE", ("dlq",), True, resources.delete_dead_letter),
]


def route(emulator: QStashEmulator, request: Request) -> Reply:
    """Find the handler for ``request`` and run it."""
    if not request.path.startswith("/v2/"):
        return error(404, f"no such endpoint: {request.method} {request.path}")

    segments = request.path[4:].split("/")
    for method, fixed, takes_rest, handler in _ROUTES:
        if method != request.method or tuple(segments[: len(fixed)]) != fixed:
            continue
        rest = segments[len(fixed) :]
        has_rest = bool(rest and rest[0])
        if has_rest == takes_rest:
            return handler(emulator, request, rest)

    return error(404, f"no such endpoint: {request.method} {request.path}")
