"""The N messages every scenario sends, in each scenario's own input format.

Four in five messages go to a URL and one in five to a topic (a URL group with two
endpoints, so QStash answers it with a list). Each carries a ~1 KB JSON body, two
forwarded headers, a retry count, a callback and a failure callback: the shape of an
order webhook fanned out by a shop. The same function builds every format from the
message's index, so all scenarios send the same bytes apart from deduplication ids,
which are unique per scenario run (``tag``) so the emulator never deduplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

#: The URL group topic messages go to, and its endpoints.
TOPIC = "bench-orders"
TOPIC_ENDPOINTS = (
    "https://warehouse.example.com/hooks/orders",
    "https://billing.example.com/hooks/orders",
)

#: Every fifth message goes to the topic.
TOPIC_EVERY = 5

CALLBACK = "https://shop.example.com/qstash/callback/"
RETRIES = 3

#: Messages per ``/v2/batch`` request in every scenario (the app's default).
CHUNK = 100

_FILLER = "lorem ipsum dolor sit amet " * 34


def body(index: int) -> dict[str, Any]:
    """A JSON body of about 1 KB once encoded."""
    return {
        "order": index,
        "customer": f"cust-{index % 9973:05d}",
        "total": f"{(index % 50_000) / 100:.2f}",
        "currency": "EUR",
        "lines": [{"sku": f"SKU-{index % 311}", "quantity": 1 + index % 4}],
        "note": _FILLER[: 1024 - 190],
    }


def forwarded_headers(index: int) -> dict[str, str]:
    """Headers the destination should receive (forwarded by QStash)."""
    return {"X-Tenant": f"tenant-{index % 17}", "X-Request-Id": f"req-{index:09d}"}


def destination(index: int) -> tuple[str | None, str | None]:
    """``(url, topic)`` of message ``index``: exactly one is set."""
    if index % TOPIC_EVERY == TOPIC_EVERY - 1:
        return None, TOPIC
    return f"https://shop.example.com/hooks/orders/{index % 7}", None


def app_messages(start: int, stop: int) -> Iterator[dict[str, Any]]:
    """Messages for ``send_batch`` (the app assigns deduplication ids itself)."""
    for index in range(start, stop):
        url, topic = destination(index)
        message: dict[str, Any] = {
            "body": body(index),
            "headers": forwarded_headers(index),
            "retries": RETRIES,
            "callback": CALLBACK,
            "failure_callback": CALLBACK,
        }
        if url is not None:
            message["url"] = url
        else:
            message["topic"] = topic
        yield message


def wire_item(index: int, tag: str) -> dict[str, Any]:
    """The ``/v2/batch`` item for message ``index``, headers as the app writes them."""
    url, topic = destination(index)
    headers = {
        "Content-Type": "application/json",
        "Upstash-Retries": str(RETRIES),
        "Upstash-Callback": CALLBACK,
        "Upstash-Failure-Callback": CALLBACK,
        "Upstash-Deduplication-Id": f"{tag}-{index}",
    }
    for name, value in forwarded_headers(index).items():
        headers[f"Upstash-Forward-{name}"] = value
    return {
        "destination": url or topic,
        "headers": headers,
        "body": json.dumps(body(index), separators=(",", ":")),
    }


def floor_bodies(count: int, tag: str) -> list[bytes]:
    """Every ``/v2/batch`` request body for ``count`` messages, encoded up front."""
    return [
        json.dumps(
            [
                wire_item(index, tag)
                for index in range(start, min(start + CHUNK, count))
            ],
            separators=(",", ":"),
        ).encode()
        for start in range(0, count, CHUNK)
    ]


def sdk_options(index: int, tag: str) -> dict[str, Any]:
    """Keyword options of the official SDK's ``publish_json`` / ``batch_json``."""
    url, topic = destination(index)
    options: dict[str, Any] = {
        "body": body(index),
        "headers": forwarded_headers(index),
        "retries": RETRIES,
        "callback": CALLBACK,
        "failure_callback": CALLBACK,
        "deduplication_id": f"{tag}-{index}",
    }
    if url is not None:
        options["url"] = url
    else:
        options["url_group"] = topic
    return options


def expected_deliveries(count: int) -> int:
    """QStash messages created for ``count`` messages (a topic message makes two)."""
    topics = count // TOPIC_EVERY
    return count - topics + topics * len(TOPIC_ENDPOINTS)
