"""The ``/v2/batch`` wire format: message rows to request items, answers to outcomes.

The dispatcher reads pending messages as plain tuples (:data:`MESSAGE_FIELDS`, in that
order) rather than model instances, and this module turns each tuple straight into
the JSON item QStash expects. Every QStash option travels as an ``Upstash-*`` header,
user headers as ``Upstash-Forward-<Name>``, and every item carries a deduplication id
so that sending it again after a lost answer cannot publish it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import Any
from uuid import UUID

from django_qstash_batch.exceptions import QStashProtocolError
from django_qstash_batch.models import MESSAGE_OPTION_FIELDS

#: The ``Message`` columns an item is built from, in the order of a row tuple.
MESSAGE_FIELDS = ("id", "position", "url", "topic__name", *MESSAGE_OPTION_FIELDS)

#: Index of ``id``, ``position`` and ``url`` in a row tuple.
ID, POSITION, URL = 0, 1, 2

#: QStash's default method: items that use it leave ``Upstash-Method`` out.
DEFAULT_METHOD = "POST"

#: One QStash message created for a request item:
#: ``(qstash_message_id, url, deduplicated)``.
CreatedMessage = tuple[str, str, bool]

#: A string as a JSON string literal, non-ASCII escaped: ``json``'s own C routine.
_quote = encode_basestring_ascii


@dataclass(frozen=True, slots=True)
class ItemDefaults:
    """Values every item of one dispatch run shares, computed once per run.

    ``callback_url`` is the ``CALLBACK_URL`` setting: the callback and failure
    callback of every message that does not name its own.
    """

    callback_url: str | None = None


def build_item(row: Sequence[Any], defaults: ItemDefaults) -> dict[str, Any]:
    """The ``/v2/batch`` item for one message row (see :data:`MESSAGE_FIELDS`)."""
    (
        message_id,
        _position,
        url,
        topic_name,
        queue,
        body,
        content_type,
        method,
        user_headers,
        delay,
        not_before,
        retries,
        retry_delay,
        timeout,
        callback,
        failure_callback,
        deduplication_id,
        content_based_deduplication,
        flow_control_key,
        flow_control_value,
        label,
    ) = row

    headers: dict[str, str] = {}
    if content_type:
        headers["Content-Type"] = content_type
    if method and method != DEFAULT_METHOD:
        headers["Upstash-Method"] = method
    if delay is not None:
        headers["Upstash-Delay"] = f"{delay}s"
    if not_before is not None:
        headers["Upstash-Not-Before"] = str(unix_seconds(not_before))
    if retries is not None:
        headers["Upstash-Retries"] = str(retries)
    if retry_delay:
        headers["Upstash-Retry-Delay"] = retry_delay
    if timeout is not None:
        headers["Upstash-Timeout"] = f"{timeout}s"

    callback = callback or defaults.callback_url
    if callback:
        headers["Upstash-Callback"] = callback
    failure_callback = failure_callback or defaults.callback_url
    if failure_callback:
        headers["Upstash-Failure-Callback"] = failure_callback

    if content_based_deduplication:
        headers["Upstash-Content-Based-Deduplication"] = "true"
    else:
        headers["Upstash-Deduplication-Id"] = deduplication_id or uuid_text(message_id)

    if flow_control_key:
        headers["Upstash-Flow-Control-Key"] = flow_control_key
        headers["Upstash-Flow-Control-Value"] = flow_control_value
    if label:
        headers["Upstash-Label"] = label
    if user_headers:
        for name, value in user_headers.items():
            headers[f"Upstash-Forward-{name}"] = value

    item: dict[str, Any] = {
        "destination": url or topic_name,
        "headers": headers,
        "body": body,
    }
    if queue:
        item["queue"] = queue
    return item


def encode_item(item: dict[str, Any]) -> bytes:
    """One item as compact JSON bytes, ready to be joined into a request body."""
    # Written out rather than through json.dumps: an item is always strings in
    # this one shape, and the encoder's per-call setup would cost more than the
    # escaping itself.
    headers = ",".join(
        f"{_quote(name)}:{_quote(value)}" for name, value in item["headers"].items()
    )
    queue = item.get("queue")
    return (
        f'{{"destination":{_quote(item["destination"])},"headers":{{{headers}}},'
        f'"body":{_quote(item["body"])}'
        + (f',"queue":{_quote(queue)}}}' if queue is not None else "}")
    ).encode("ascii")


def join_items(encoded: Sequence[bytes]) -> bytes:
    """A request body: the encoded items as one JSON array."""
    return b"[" + b",".join(encoded) + b"]"


def uuid_text(value: UUID | str) -> str:
    """A message id in the canonical hyphenated form, whichever form the database
    returned it in (a ``UUID``, or 32 hex digits on databases without a UUID type).
    """
    if isinstance(value, UUID):
        return str(value)
    if len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def unix_seconds(moment: datetime) -> int:
    """A datetime as the integer unix seconds of ``Upstash-Not-Before``."""
    return int(moment.timestamp())


def read_answer(element: Any, url: str) -> tuple[list[CreatedMessage], str]:
    """What QStash created for one item, and the error text if it refused it.

    ``element`` is the item's slot in the answer, ``url`` the message's own URL (empty
    for a topic). An object with ``messageId`` created one message; a list (a topic)
    created one per endpoint; an object with ``error`` was refused. A topic whose
    endpoints were refused only in part counts as accepted, with the refusals kept as
    the error text. Any other shape is a :class:`QStashProtocolError`.
    """
    if isinstance(element, dict):
        created, error = _read_one(element, url)
        return ([created] if created else []), error

    if isinstance(element, list):
        messages: list[CreatedMessage] = []
        errors: list[str] = []
        for entry in element:
            if not isinstance(entry, dict):
                raise QStashProtocolError(
                    "QStash answered a topic item with an entry that is not an object.",
                    detail=type(entry).__name__,
                )
            created, error = _read_one(entry, url)
            if created:
                messages.append(created)
            else:
                errors.append(error)
        if not messages and not errors:
            errors.append("QStash created no message: the topic has no endpoints.")
        return messages, "; ".join(errors)

    raise QStashProtocolError(
        "QStash answered an item with something other than an object or a list.",
        detail=type(element).__name__,
    )


def _read_one(entry: dict[str, Any], url: str) -> tuple[CreatedMessage | None, str]:
    """One created message from an answer object, or its error text."""
    qstash_message_id = entry.get("messageId")
    if isinstance(qstash_message_id, str) and qstash_message_id:
        created_url = entry.get("url")
        return (
            qstash_message_id,
            created_url if isinstance(created_url, str) else url,
            entry.get("deduplicated") is True,
        ), ""

    error = entry.get("error")
    if isinstance(error, str):
        return None, error or "QStash refused the message without saying why."

    raise QStashProtocolError(
        "QStash answered an item with neither a messageId nor an error.",
        detail=sorted(entry),
    )
