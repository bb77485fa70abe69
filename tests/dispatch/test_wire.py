"""Message rows to ``/v2/batch`` items, and answer slots to outcomes."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from django_qstash_batch.exceptions import QStashProtocolError
from django_qstash_batch.wire import (
    MESSAGE_FIELDS,
    ItemDefaults,
    build_item,
    encode_item,
    join_items,
    read_answer,
)

MESSAGE_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")

EMPTY_ROW: dict[str, Any] = {
    "id": MESSAGE_ID,
    "position": 0,
    "url": "https://example.com/hook",
    "topic__name": None,
    "queue": "",
    "body": "",
    "content_type": "",
    "method": "POST",
    "headers": {},
    "delay": None,
    "not_before": None,
    "retries": None,
    "retry_delay": "",
    "timeout": None,
    "callback": "",
    "failure_callback": "",
    "deduplication_id": "",
    "content_based_deduplication": False,
    "flow_control_key": "",
    "flow_control_value": "",
    "label": "",
}


def row(**values: Any) -> tuple[Any, ...]:
    merged = {**EMPTY_ROW, **values}
    return tuple(merged[name] for name in MESSAGE_FIELDS)


def headers_of(**values: Any) -> dict[str, str]:
    item = build_item(row(**values), ItemDefaults())
    headers: dict[str, str] = item["headers"]
    return headers


def test_a_plain_message_carries_only_its_destination_body_and_dedup_id() -> None:
    item = build_item(row(body="hello"), ItemDefaults())

    assert item == {
        "destination": "https://example.com/hook",
        "headers": {"Upstash-Deduplication-Id": str(MESSAGE_ID)},
        "body": "hello",
    }


def test_a_topic_message_is_sent_to_the_topic_name() -> None:
    item = build_item(row(url="", **{"topic__name": "billing"}), ItemDefaults())

    assert item["destination"] == "billing"


def test_a_queue_is_sent_only_when_set() -> None:
    assert build_item(row(queue="slow-lane"), ItemDefaults())["queue"] == "slow-lane"
    assert "queue" not in build_item(row(), ItemDefaults())


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"content_type": "text/plain"}, {"Content-Type": "text/plain"}),
        ({"method": "PUT"}, {"Upstash-Method": "PUT"}),
        ({"delay": 90}, {"Upstash-Delay": "90s"}),
        (
            {"not_before": datetime(2030, 1, 1, tzinfo=timezone.utc)},
            {"Upstash-Not-Before": "1893456000"},
        ),
        ({"retries": 0}, {"Upstash-Retries": "0"}),
        (
            {"retry_delay": "pow(2, retried) * 1000"},
            {"Upstash-Retry-Delay": "pow(2, retried) * 1000"},
        ),
        ({"timeout": 30}, {"Upstash-Timeout": "30s"}),
        (
            {"callback": "https://cb.example/ok"},
            {"Upstash-Callback": "https://cb.example/ok"},
        ),
        (
            {"failure_callback": "https://cb.example/ko"},
            {"Upstash-Failure-Callback": "https://cb.example/ko"},
        ),
        (
            {"flow_control_key": "tenant-1", "flow_control_value": "parallelism=2"},
            {
                "Upstash-Flow-Control-Key": "tenant-1",
                "Upstash-Flow-Control-Value": "parallelism=2",
            },
        ),
        ({"label": "invoices"}, {"Upstash-Label": "invoices"}),
        ({"headers": {"X-Tenant": "acme"}}, {"Upstash-Forward-X-Tenant": "acme"}),
    ],
)
def test_each_option_travels_as_its_upstash_header(
    values: dict[str, Any], expected: dict[str, str]
) -> None:
    headers = headers_of(**values)

    assert headers.items() >= expected.items()


def test_the_default_method_is_left_out() -> None:
    assert "Upstash-Method" not in headers_of(method="POST")


def test_a_user_deduplication_id_replaces_the_message_id() -> None:
    assert headers_of(deduplication_id="order-7")["Upstash-Deduplication-Id"] == (
        "order-7"
    )


def test_content_based_deduplication_sends_no_deduplication_id() -> None:
    headers = headers_of(content_based_deduplication=True)

    assert headers["Upstash-Content-Based-Deduplication"] == "true"
    assert "Upstash-Deduplication-Id" not in headers


def test_the_callback_setting_applies_to_messages_without_their_own() -> None:
    defaults = ItemDefaults(callback_url="https://app.example/qstash/callback/")

    headers = build_item(row(), defaults)["headers"]

    assert headers["Upstash-Callback"] == "https://app.example/qstash/callback/"
    assert headers["Upstash-Failure-Callback"] == "https://app.example/qstash/callback/"


def test_a_message_callback_wins_over_the_callback_setting() -> None:
    defaults = ItemDefaults(callback_url="https://app.example/cb/")

    headers = build_item(row(callback="https://mine.example/cb"), defaults)["headers"]

    assert headers["Upstash-Callback"] == "https://mine.example/cb"
    assert headers["Upstash-Failure-Callback"] == "https://app.example/cb/"


def test_encoded_items_join_into_one_json_array() -> None:
    items = [build_item(row(body=text), ItemDefaults()) for text in ("a", "é")]

    body = join_items([encode_item(item) for item in items])

    assert json.loads(body) == items


TRICKY_TEXT = [
    '"quoted"',
    "back\\slash",
    "line\nbreak\ttab",
    "\x00\x1f\x7f",
    "é中😀",
    "",
]


@pytest.mark.parametrize("text", TRICKY_TEXT)
def test_an_item_is_encoded_exactly_as_json_would_encode_it(text: str) -> None:
    item = build_item(
        row(body=text, queue=text or "q", headers={"X-Note": text}), ItemDefaults()
    )

    encoded = encode_item(item)

    assert encoded == json.dumps(item, separators=(",", ":")).encode("ascii")
    assert json.loads(encoded) == item


def test_an_accepted_url_item_creates_one_message() -> None:
    assert read_answer({"messageId": "msg_1"}, "https://a.example") == (
        [("msg_1", "https://a.example", False)],
        "",
    )


def test_a_deduplicated_item_is_marked_so() -> None:
    created, _ = read_answer({"messageId": "msg_1", "deduplicated": True}, "https://a")

    assert created == [("msg_1", "https://a", True)]


def test_a_topic_item_creates_one_message_per_endpoint() -> None:
    answer = [
        {"messageId": "msg_1", "url": "https://a.example"},
        {"messageId": "msg_2", "url": "https://b.example"},
    ]

    assert read_answer(answer, "") == (
        [("msg_1", "https://a.example", False), ("msg_2", "https://b.example", False)],
        "",
    )


def test_a_refused_item_gives_qstash_error_text() -> None:
    assert read_answer({"error": "url group not found"}, "") == (
        [],
        "url group not found",
    )


def test_a_topic_refused_for_some_endpoints_is_accepted_with_the_errors_noted() -> None:
    answer = [{"messageId": "msg_1", "url": "https://a"}, {"error": "blocked"}]

    assert read_answer(answer, "") == ([("msg_1", "https://a", False)], "blocked")


def test_a_topic_answer_with_no_endpoints_is_a_failure() -> None:
    created, error = read_answer([], "")

    assert created == []
    assert "no endpoints" in error


@pytest.mark.parametrize("element", [None, "msg_1", 7, {"id": "msg_1"}, [None]])
def test_an_unreadable_slot_is_a_protocol_error(element: Any) -> None:
    with pytest.raises(QStashProtocolError):
        read_answer(element, "https://a")
