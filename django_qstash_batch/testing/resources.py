"""Endpoints over stored state: URL groups, messages, the log and the DLQ.

Listings are newest first and paginated with an opaque cursor (an offset here),
which is left out on the last page as QStash does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .exchange import Reply, Request, error
from .options import FieldError, is_url, is_valid_name
from .publishing import Item
from .rendering import dead_letter_json, event_json, group_json, message_json
from .state import CANCEL_REQUESTED, CANCELED, FINAL_STATES, Endpoint, Group, Message

if TYPE_CHECKING:
    from .emulator import QStashEmulator

T = TypeVar("T")


def _count(request: Request, default: int, maximum: int) -> int:
    """The ``count`` query parameter, bounded."""
    raw = request.param("count")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise FieldError(f"count: expected a positive integer, got {raw!r}")
    return min(int(raw), maximum)


def _page(
    request: Request, entries: Sequence[T], default: int, maximum: int
) -> tuple[Sequence[T], str | None]:
    """Cut one page from ``entries``; return it and the next cursor, if any."""
    cursor = request.param("cursor") or "0"
    if not cursor.isdigit():
        raise FieldError(f"cursor: unknown cursor {cursor!r}")
    start = int(cursor)
    end = start + _count(request, default, maximum)
    return entries[start:end], (str(end) if end < len(entries) else None)


def _paged(key: str, items: list[dict[str, Any]], cursor: str | None) -> Reply:
    payload: dict[str, Any] = {key: items}
    if cursor is not None:
        payload["cursor"] = cursor
    return Reply(200, payload)


def _message_filter(request: Request) -> Callable[[Message], bool]:
    """A predicate for the message filters shared by logs, DLQ and bulk cancel."""
    ids = set(request.params("messageIds")) | set(request.params("messageId"))
    exact = {
        "url": lambda message: message.url,
        "topicName": lambda message: message.topic_name,
        "queueName": lambda message: message.queue_name,
        "endpointName": lambda message: message.endpoint_name,
        "callerIp": lambda message: message.caller_ip,
    }
    wanted = {
        name: set(request.params(name)) for name in exact if name in request.query
    }
    labels = set(request.params("label"))
    from_date = int(request.param("fromDate") or 0)
    to_date = int(request.param("toDate") or 0)

    def matches(message: Message) -> bool:
        if ids and message.message_id not in ids:
            return False
        for name, values in wanted.items():
            if exact[name](message) not in values:
                return False
        if labels and not labels.intersection(message.options.labels):
            return False
        if from_date and message.created_at < from_date:
            return False
        return not (to_date and message.created_at > to_date)

    return matches


def _body_ids(request: Request, key: str) -> list[str] | None:
    """Ids sent as a JSON body (how the SDKs bulk-delete), or ``None``."""
    payload = request.json()
    if payload is None:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get(key, []), list):
        raise FieldError(f"{key}: expected a JSON object with a list of ids")
    return [str(value) for value in payload.get(key, [])]


def list_groups(emulator: QStashEmulator, request: Request, _: list[str]) -> Reply:
    """``GET /v2/topics``."""
    with emulator.store.lock:
        return Reply(200, [group_json(g) for g in emulator.store.groups.values()])


def get_group(emulator: QStashEmulator, request: Request, rest: list[str]) -> Reply:
    """``GET /v2/topics/{name}``."""
    group = emulator.store.groups.get(rest[0])
    if group is None or len(rest) != 1:
        return error(404, f"url group {rest[0]!r} not found")
    with emulator.store.lock:
        return Reply(200, group_json(group))


def _endpoints(request: Request, needs_url: bool) -> list[dict[str, Any]]:
    """The ``endpoints`` list of an upsert or remove request, checked."""
    payload = request.json()
    endpoints = payload.get("endpoints") if isinstance(payload, dict) else None
    if not isinstance(endpoints, list) or not endpoints:
        raise FieldError("endpoints: required, a non-empty list")
    for index, endpoint in enumerate(endpoints):
        where = f"endpoints[{index}]"
        if not isinstance(endpoint, dict):
            raise FieldError(f"{where}: must be an object")
        url, name = endpoint.get("url"), endpoint.get("name")
        if url is not None and (not isinstance(url, str) or not is_url(url)):
            raise FieldError(f"{where}.url: expected an http(s) URL")
        if name and (not isinstance(name, str) or not is_valid_name(name)):
            raise FieldError(f"{where}.name: letters, digits, '_', '-' and '.' only")
        if needs_url and not url:
            raise FieldError(f"{where}.url: required")
        if not url and not name:
            raise FieldError(f"{where}: needs a url or a name")
    return endpoints


def upsert_endpoints(
    emulator: QStashEmulator, request: Request, rest: list[str]
) -> Reply:
    """``POST /v2/topics/{name}/endpoints``: add or update, creating the group."""
    if rest[1:] != ["endpoints"]:
        return error(404, f"no such endpoint: POST {request.path}")
    if not is_valid_name(rest[0]):
        return error(400, "name: letters, digits, '_', '-' and '.' only")
    try:
        endpoints = _endpoints(request, needs_url=True)
    except FieldError as problem:
        return error(400, str(problem))

    store = emulator.store
    with store.lock:
        now = store.now_ms()
        group = store.groups.setdefault(rest[0], Group(rest[0], now, now))
        for wanted in endpoints:
            url, name = wanted["url"], wanted.get("name") or None
            existing = next(
                (
                    e
                    for e in group.endpoints
                    if (name and e.name == name) or e.url == url
                ),
                None,
            )
            if existing is None:
                group.endpoints.append(Endpoint(url, name))
            else:
                existing.url, existing.name = url, name or existing.name
        group.updated_at = now
    return Reply(200)


def delete_group_or_endpoints(
    emulator: QStashEmulator, request: Request, rest: list[str]
) -> Reply:
    """``DELETE /v2/topics/{name}`` or ``DELETE /v2/topics/{name}/endpoints``."""
    store = emulator.store
    if rest[0] not in store.groups:
        return error(404, f"url group {rest[0]!r} not found")
    if len(rest) == 1:
        with store.lock:
            store.groups.pop(rest[0], None)
        return Reply(200)
    if rest[1:] != ["endpoints"]:
        return error(404, f"no such endpoint: DELETE {request.path}")

    try:
        endpoints = _endpoints(request, needs_url=False)
    except FieldError as problem:
        return error(400, str(problem))

    with store.lock:
        group = store.groups[rest[0]]
        for gone in endpoints:
            group.endpoints = [
                e
                for e in group.endpoints
                if not (
                    (gone.get("name") and e.name == gone["name"])
                    or (gone.get("url") and e.url == gone["url"])
                )
            ]
        group.updated_at = store.now_ms()
        if not group.endpoints:
            del store.groups[rest[0]]
    return Reply(200)


def get_message(emulator: QStashEmulator, request: Request, rest: list[str]) -> Reply:
    """``GET /v2/messages/{id}``: only while the message is still pending."""
    message = emulator.store.messages.get(rest[0])
    if message is None or message.state in FINAL_STATES:
        return error(404, f"message {rest[0]!r} not found")
    return Reply(200, message_json(message))


def _cancel(emulator: QStashEmulator, messages: list[Message]) -> int:
    """Cancel pending messages; return how many were cancelled."""
    store = emulator.store
    cancelled = 0
    with store.lock:
        for message in messages:
            if message.state in FINAL_STATES or message.kind != "message":
                continue
            store.log(message, CANCEL_REQUESTED)
            store.log(message, CANCELED)
            cancelled += 1
    if cancelled:
        emulator.deliverer.discard_cancelled()
    return cancelled


def cancel_one(emulator: QStashEmulator, request: Request, rest: list[str]) -> Reply:
    """``DELETE /v2/messages/{id}``."""
    message = emulator.store.messages.get(rest[0])
    if message is None or message.state in FINAL_STATES:
        return error(404, f"message {rest[0]!r} not found")
    return Reply(200, {"cancelled": _cancel(emulator, [message])})


def cancel_many(emulator: QStashEmulator, request: Request, _: list[str]) -> Reply:
    """``DELETE /v2/messages``: by JSON ``messageIds``, by filters, or everything."""
    try:
        ids = _body_ids(request, "messageIds")
        matches = _message_filter(request)
    except (FieldError, ValueError) as problem:
        return error(400, str(problem))

    pending = emulator.store.pending()
    if ids is not None:
        chosen = [message for message in pending if message.message_id in set(ids)]
    else:
        chosen = [message for message in pending if matches(message)]
    return Reply(200, {"cancelled": _cancel(emulator, chosen)})


def _events(emulator: QStashEmulator, request: Request, key: str) -> Reply:
    """The message log, newest first, filtered and paged."""
    try:
        matches = _message_filter(request)
        states = set(request.params("state"))
        with emulator.store.lock:
            events = [
                event
                for event in reversed(emulator.store.events)
                if matches(event.message) and (not states or event.state in states)
            ]
        page, cursor = _page(request, events, 100, 1000)
    except (FieldError, ValueError) as problem:
        return error(400, str(problem))
    return _paged(key, [event_json(event) for event in page], cursor)


def list_events(emulator: QStashEmulator, request: Request, _: list[str]) -> Reply:
    """``GET /v2/events``: the path and key the official SDKs use."""
    return _events(emulator, request, "events")


def list_logs(emulator: QStashEmulator, request: Request, _: list[str]) -> Reply:
    """``GET /v2/logs``: the path and key of the API reference."""
    return _events(emulator, request, "logs")


def list_dead_letters(
    emulator: QStashEmulator, request: Request, _: list[str]
) -> Reply:
    """``GET /v2/dlq``."""
    try:
        matches = _message_filter(request)
        status = request.param("responseStatus")
        with emulator.store.lock:
            entries = [
                entry
                for entry in reversed(emulator.store.dlq.values())
                if matches(entry.message)
                and (status is None or str(entry.response_status) == status)
            ]
        page, cursor = _page(request, entries, 100, 100)
    except (FieldError, ValueError) as problem:
        return error(400, str(problem))
    return _paged("messages", [dead_letter_json(entry) for entry in page], cursor)


def get_dead_letter(
    emulator: QStashEmulator, request: Request, rest: list[str]
) -> Reply:
    """``GET /v2/dlq/{dlqId}``."""
    entry = emulator.store.dlq.get(rest[0])
    if entry is None:
        return error(404, f"dlq message {rest[0]!r} not found")
    return Reply(200, dead_letter_json(entry))


def delete_dead_letter(
    emulator: QStashEmulator, request: Request, rest: list[str]
) -> Reply:
    """``DELETE /v2/dlq/{dlqId}``."""
    with emulator.store.lock:
        if emulator.store.dlq.pop(rest[0], None) is None:
            return error(404, f"dlq message {rest[0]!r} not found")
    return Reply(200, {"deleted": 1})


def delete_dead_letters(
    emulator: QStashEmulator, request: Request, _: list[str]
) -> Reply:
    """``DELETE /v2/dlq``: by JSON ``dlqIds`` or the ``dlqIds`` query parameter."""
    try:
        ids = _body_ids(request, "dlqIds")
    except FieldError as problem:
        return error(400, str(problem))
    if ids is None:
        ids = request.params("dlqIds")
    with emulator.store.lock:
        deleted = sum(1 for i in ids if emulator.store.dlq.pop(i, None) is not None)
    return Reply(200, {"deleted": deleted})


def retry_dead_letter(
    emulator: QStashEmulator, request: Request, rest: list[str]
) -> Reply:
    """``POST /v2/dlq/retry/{dlqId}``: publish the message again, 201."""
    with emulator.store.lock:
        entry = emulator.store.dlq.pop(rest[0], None)
    if entry is None:
        return error(404, f"dlq message {rest[0]!r} not found")

    # A retry is a new message, so it must not be deduplicated against the original.
    original = entry.message
    options = dataclasses.replace(original.options, content_based_deduplication=False)
    item = Item(original.url, original.body, original.queue_name, options)
    outcomes, refusal = emulator.publisher.accept([item], request.caller_ip)
    if refusal is not None:
        return Reply(refusal.status, raw=refusal.body, headers=refusal.headers)
    return Reply(201, outcomes[0])
