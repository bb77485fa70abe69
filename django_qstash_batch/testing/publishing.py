"""Accepting messages: batch items and single publishes become stored messages.

Work happens in two passes. ``parse_batch`` / ``parse_publish`` check the whole
request first and raise ``FieldError`` (400) or ``PlanLimitError`` (412) before
anything is stored, as QStash refuses a malformed request outright. ``Publisher``
then accepts item by item: an unknown or empty URL group, or an armed item error,
only fails its own slot, a duplicate within the dedup window answers with the
earlier ids, and everything else becomes one message per URL or per group endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from .defaults import DEDUPLICATION_WINDOW
from .faults import CannedResponse, Faults
from .options import (
    FieldError,
    Options,
    PlanLimitError,
    is_url,
    is_valid_name,
    parse_headers,
)
from .state import CREATED, Event, Message, Store

Outcome = dict[str, Any] | list[dict[str, Any]]

_SCHEMES = ("http://", "https://")

#: Request headers that describe the request to the emulator, never the message.
_TRANSPORT_HEADERS = frozenset(
    {
        "authorization",
        "host",
        "content-length",
        "connection",
        "accept",
        "accept-encoding",
        "user-agent",
        "transfer-encoding",
        "keep-alive",
    }
)


@dataclass(slots=True)
class Item:
    """One validated message request, before it is accepted."""

    destination: str
    body: bytes
    queue: str | None
    options: Options
    deduplication_id: str | None = None


def _check_destination(destination: Any, field: str) -> str:
    """Check that a destination is a URL or a legal URL group name."""
    if not isinstance(destination, str) or not destination.strip():
        raise FieldError(f"{field}: required, a URL or URL group name")
    if not is_url(destination) and not is_valid_name(destination):
        raise FieldError(f"{field}: {destination!r} is neither a URL nor a group name")
    return destination


def _check_queue(queue: Any, field: str) -> str | None:
    """Accept a queue name, or ``None``/``""``/absent for no queue."""
    if queue is None or queue == "":
        return None
    if not isinstance(queue, str) or not is_valid_name(queue):
        raise FieldError(f"{field}: must be a queue name")
    return queue


def _too_many_retries(field: str, options: Options, max_retries: int) -> NoReturn:
    """Refuse retries beyond the plan's cap, as QStash does with a 412."""
    raise PlanLimitError(
        f"{field}: Upstash-Retries {options.retries} exceeds the plan's"
        f" maximum of {max_retries}"
    )


def parse_batch(payload: Any, max_retries: int) -> list[Item]:
    """Check a whole ``/v2/batch`` body and return its items."""
    if not isinstance(payload, list):
        raise FieldError("request body must be a JSON array of messages")

    items = []
    for index, raw in enumerate(payload):
        if not isinstance(raw, dict):
            raise FieldError(f"messages[{index}]: must be a JSON object")

        destination = raw.get("destination")
        if not (type(destination) is str and destination.startswith(_SCHEMES)):
            destination = _check_destination(
                destination, f"messages[{index}].destination"
            )
        queue = raw.get("queue")
        if queue:
            queue = _check_queue(queue, f"messages[{index}].queue")

        body = raw.get("body")
        if body is None:
            body = ""
        elif type(body) is not str:
            raise FieldError(f"messages[{index}].body: must be a string")

        headers = raw.get("headers")
        if headers is None:
            headers = {}
        elif not isinstance(headers, dict):
            raise FieldError(f"messages[{index}].headers: must be an object")

        try:
            options, deduplication_id = parse_headers(headers)
        except FieldError as problem:
            raise FieldError(f"messages[{index}].headers: {problem}") from None
        if options.retries > max_retries:
            _too_many_retries(f"messages[{index}].headers", options, max_retries)
        items.append(
            Item(destination, body.encode(), queue or None, options, deduplication_id)
        )
    return items


def parse_publish(
    destination: str,
    queue: str | None,
    headers: Mapping[str, str],
    body: bytes,
    max_retries: int,
) -> Item:
    """Check a ``/v2/publish`` or ``/v2/enqueue`` request and return its item."""
    destination = _check_destination(destination, "destination")
    queue = _check_queue(queue, "queue")
    message_headers = {
        name: value
        for name, value in headers.items()
        if name.lower() not in _TRANSPORT_HEADERS
    }
    try:
        options, deduplication_id = parse_headers(message_headers)
    except FieldError as problem:
        raise FieldError(f"headers: {problem}") from None
    if options.retries > max_retries:
        _too_many_retries("headers", options, max_retries)
    return Item(destination, body, queue, options, deduplication_id)


def _content_key(item: Item) -> Hashable:
    """What content-based deduplication compares: destination, body and headers."""
    options = item.options
    forwarded = tuple(sorted(options.forward_headers.items()))
    return ("content", item.destination, item.body, options.content_type, forwarded)


def _duplicate(outcome: Outcome) -> Outcome:
    """The answer to a duplicate: the earlier ids, marked as deduplicated."""
    if isinstance(outcome, list):
        return [{**entry, "deduplicated": True} for entry in outcome]
    return {**outcome, "deduplicated": True}


class Publisher:
    """Turns validated items into stored messages and answers for each."""

    def __init__(
        self,
        store: Store,
        faults: Faults,
        schedule: Callable[[list[Message]], None],
    ) -> None:
        self.store = store
        self.faults = faults
        self.schedule = schedule

    def message_count(self, items: list[Item]) -> int:
        """How many messages the items would create (for the daily quota)."""
        groups = self.store.groups
        count = 0
        for item in items:
            if is_url(item.destination):
                count += 1
            elif item.destination in groups:
                count += len(groups[item.destination].endpoints)
        return count

    def accept(
        self, items: list[Item], caller_ip: str
    ) -> tuple[list[Outcome], CannedResponse | None]:
        """Accept ``items``; return one outcome per item, or a quota refusal."""
        store, faults = self.store, self.faults
        created: list[Message] = []
        outcomes: list[Outcome] = []
        with store.lock:
            if faults.quota_armed:
                refusal = faults.charge_quota(self.message_count(items))
                if refusal is not None:
                    return [], refusal

            now = store.clock()
            until = now + DEDUPLICATION_WINDOW
            item_errors = faults.item_errors_armed
            for item in items:
                error = (
                    faults.take_item_error(item.destination) if item_errors else None
                )
                if error is not None:
                    outcomes.append({"error": error})
                    continue

                key: Hashable | None = None
                if item.deduplication_id:
                    key = ("id", item.deduplication_id)
                elif item.options.content_based_deduplication:
                    key = _content_key(item)
                if key is not None:
                    earlier = store.remembered(key, now)
                    if earlier is not None:
                        outcomes.append(_duplicate(earlier))
                        continue

                outcome, accepted = self._create(item, caller_ip, now, created)
                if accepted and key is not None:
                    store.remember(key, outcome, until, now)
                outcomes.append(outcome)

        if created:
            self.schedule(created)
        return outcomes, None

    def _group_targets(self, name: str) -> tuple[str, list[tuple[str, str | None]]]:
        """The (url, endpoint name) pairs of a URL group; ``LookupError`` if none."""
        group = self.store.groups.get(name)
        if group is None:
            raise LookupError(f"url group {name!r} not found")
        if not group.endpoints:
            raise LookupError(f"url group {name!r} has no endpoints")
        return group.name, [(e.url, e.name) for e in group.endpoints]

    def _create(
        self, item: Item, caller_ip: str, now: float, created: list[Message]
    ) -> tuple[Outcome, bool]:
        """Store the messages for one item; return its outcome and whether it worked.

        Called with the store lock held.
        """
        store = self.store
        created_at = int(now * 1000)
        options = item.options
        due = float(options.not_before) if options.not_before else now + options.delay
        if item.queue is not None and item.queue not in store.queues:
            store.queues[item.queue] = created_at

        if item.destination.startswith(_SCHEMES):
            message = self._store(
                item, item.destination, None, None, caller_ip, created_at, due
            )
            created.append(message)
            return {"messageId": message.message_id}, True

        try:
            topic_name, targets = self._group_targets(item.destination)
        except LookupError as problem:
            return {"error": str(problem.args[0])}, False
        messages = [
            self._store(
                item, url, topic_name, endpoint_name, caller_ip, created_at, due
            )
            for url, endpoint_name in targets
        ]
        created.extend(messages)
        return [{"messageId": m.message_id, "url": m.url} for m in messages], True

    def _store(
        self,
        item: Item,
        url: str,
        topic_name: str | None,
        endpoint_name: str | None,
        caller_ip: str,
        created_at: int,
        due: float,
    ) -> Message:
        """Create one message, file it and log its creation."""
        store = self.store
        message = Message(
            store.new_message_id(),
            url,
            item.body,
            item.options,
            created_at,
            due,
            topic_name,
            endpoint_name,
            item.queue,
            caller_ip,
            item.deduplication_id,
            store.generation,
        )
        store.messages[message.message_id] = message
        store.published.append(message)
        store.events.append(Event(created_at, CREATED, message))
        return message
