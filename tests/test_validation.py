"""Every validation rule, seen through ``send_batch``: the error names the field and
the message's index, and nothing is written."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from django_qstash_batch import send_batch
from django_qstash_batch.models import Batch, Message, Topic

pytestmark = pytest.mark.django_db

URL = "https://example.com/hooks/a"


@pytest.fixture
def billing() -> Topic:
    return Topic.objects.create(name="billing")


def rejected(message: dict[str, Any], *, position: int = 1) -> dict[str, list[str]]:
    """Send a batch whose message at ``position`` is ``message``; return the errors."""
    messages: list[dict[str, Any]] = [{"url": URL}] * position + [message]
    with pytest.raises(ValidationError) as error:
        send_batch(messages)

    assert Batch.objects.count() == 0
    assert Message.objects.count() == 0
    return error.value.message_dict


BAD_OPTIONS: list[tuple[str, Any, str]] = [
    ("url", "example.com/hook", "absolute http"),
    ("url", "ftp://example.com/hook", "absolute http"),
    ("url", 42, "Enter a URL"),
    ("queue", "slow lane", "letters, digits"),
    ("queue", "q" * 201, "at most 200"),
    ("content_type", "json", "media type"),
    ("method", "FETCH", "GET, POST, PUT, PATCH, DELETE"),
    ("headers", ["X-A", "1"], "mapping"),
    ("headers", {"X Bad": "1"}, "not a valid header name"),
    ("headers", {"X-Tenant": "acme\r\nX-Evil: 1"}, "line breaks"),
    ("headers", {"X-Count": 3}, "must be strings"),
    ("headers", {"Upstash-Delay": "10s"}, "message's options"),
    ("delay", "10 minutes", "not a duration"),
    ("delay", -1, "negative"),
    ("delay", "400d", "one year"),
    ("delay", timedelta(milliseconds=1500), "whole seconds"),
    ("delay", True, "not a boolean"),
    ("not_before", "tomorrow", "aware datetime or unix seconds"),
    ("not_before", -10, "after 1970"),
    ("retries", -1, "from 0 to"),
    ("retries", "3", "whole number"),
    ("retries", 1001, "from 0 to"),
    ("retry_delay", "1000 * retried; drop", "Unexpected character"),
    ("retry_delay", "sleep(1000)", "Unknown word 'sleep'"),
    ("retry_delay", -5, "negative"),
    ("timeout", 0, "at least one second"),
    ("timeout", "5 seconds", "not a duration"),
    ("callback", "not-a-url", "absolute http"),
    ("failure_callback", "mailto:ops@example.com", "absolute http"),
    ("deduplication_id", "a\nb", "Line breaks"),
    ("deduplication_id", "x" * 256, "at most 255"),
    ("label", "a\rb", "Line breaks"),
    ("content_based_deduplication", "yes", "True or False"),
    ("flow_control", {"parallelism": 2}, "key is required"),
    ("flow_control", {"key": "k"}, "at least one of"),
    ("flow_control", {"key": "k", "rate": 0}, "at least 1"),
    ("flow_control", {"key": "k", "rate": 5, "burst": 2}, "Unknown flow-control"),
    ("body", b"\xff\xfe binary", "UTF-8"),
    ("body", {1, 2}, "JSON-serialisable"),
    ("dealy", 10, "Unknown option"),
]


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    BAD_OPTIONS,
    ids=[f"{option}-{index}" for index, (option, _, _) in enumerate(BAD_OPTIONS)],
)
def test_a_bad_option_is_named_with_the_message_index(
    option: str, value: Any, expected: str
) -> None:
    errors = rejected({"url": URL, option: value}, position=2)

    assert list(errors) == [f"messages[2].{option}"]
    assert expected in errors[f"messages[2].{option}"][0]


def test_a_message_needs_a_destination() -> None:
    errors = rejected({"body": "hello"})

    assert "destination is required" in errors["messages[1].url"][0]


def test_a_message_cannot_have_a_url_and_a_topic(billing: Topic) -> None:
    errors = rejected({"url": URL, "topic": "billing"})

    assert "exactly one destination" in errors["messages[1].url"][0]


def test_topic_and_url_group_cannot_both_be_given(billing: Topic) -> None:
    errors = rejected({"topic": "billing", "url_group": "billing"})

    assert "not both" in errors["messages[1].url_group"][0]


def test_an_unknown_topic_is_named() -> None:
    errors = rejected({"url_group": "invoices"})

    assert "No topic named 'invoices'" in errors["messages[1].url_group"][0]


def test_a_body_over_the_message_limit_is_refused() -> None:
    with override_settings(QSTASH_BATCH={"MAX_MESSAGE_BYTES": 1000}):
        errors = rejected({"url": URL, "body": "é" * 501})

    assert "1002 bytes, over MAX_MESSAGE_BYTES (1000)" in errors["messages[1].body"][0]


def test_a_body_at_the_message_limit_is_accepted() -> None:
    with override_settings(QSTASH_BATCH={"MAX_MESSAGE_BYTES": 1000}):
        batch = send_batch([{"url": URL, "body": "é" * 500}])

    assert batch.messages.get().body == "é" * 500


def test_dedup_id_and_content_based_dedup_exclude_each_other() -> None:
    errors = rejected(
        {"url": URL, "deduplication_id": "d-1", "content_based_deduplication": True}
    )

    assert "not both" in errors["messages[1].content_based_deduplication"][0]


def test_content_type_given_twice_is_refused() -> None:
    errors = rejected(
        {"url": URL, "content_type": "text/plain", "headers": {"content-type": "a/b"}}
    )

    assert "given twice" in errors["messages[1].headers"][0]


def test_a_header_name_is_judged_the_same_in_every_message_that_repeats_it() -> None:
    good = {"url": URL, "headers": {"X-Tenant": "acme"}}
    bad = {"url": URL, "headers": {"Upstash-Delay": "1s", "X Bad": "1"}}

    with pytest.raises(ValidationError) as error:
        send_batch([good, bad, good, bad])

    assert sorted(error.value.message_dict) == [
        "messages[1].headers",
        "messages[3].headers",
    ]


def test_a_message_that_is_not_a_dict_is_refused() -> None:
    errors = rejected("https://example.com")  # type: ignore[arg-type]

    assert "dict of options" in errors["messages[1]"][0]


def test_every_bad_option_of_every_message_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as error:
        send_batch(
            [
                {"url": URL, "retries": -1, "delay": "soon"},
                {"url": URL},
                {"url": "nope"},
            ]
        )

    assert set(error.value.message_dict) == {
        "messages[0].retries",
        "messages[0].delay",
        "messages[2].url",
    }


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ValidationError) as error:
        send_batch([])

    assert "at least one message" in error.value.message_dict["messages"][0]


@pytest.mark.parametrize(
    ("option", "value"), [("label", "a\nb"), ("idempotency_key", "k" * 256)]
)
def test_bad_batch_options_are_named(option: str, value: str) -> None:
    with pytest.raises(ValidationError) as error:
        send_batch([{"url": URL}], **{option: value})

    assert list(error.value.message_dict) == [option]
    assert Batch.objects.count() == 0


GOOD_OPTIONS: list[tuple[str, Any, str, Any]] = [
    ("delay", 90, "delay", 90),
    ("delay", "1d10h30m", "delay", 124_200),
    ("delay", timedelta(minutes=5), "delay", 300),
    ("delay", "45", "delay", 45),
    ("timeout", "2m", "timeout", 120),
    ("method", "put", "method", "PUT"),
    ("retries", 0, "retries", 0),
    ("retry_delay", 1500, "retry_delay", "1500"),
    ("retry_delay", "pow(2, retried) * 1000", "retry_delay", "pow(2, retried) * 1000"),
    (
        "not_before",
        1_900_000_000,
        "not_before",
        datetime.fromtimestamp(1_900_000_000, tz=dt_timezone.utc),
    ),
    ("content_based_deduplication", True, "content_based_deduplication", True),
    (
        "flow_control",
        {"key": "tenant-1", "parallelism": 2, "rate": 10, "period": "1m"},
        "flow_control_value",
        "parallelism=2, rate=10, period=60s",
    ),
    ("body", b"caf\xc3\xa9", "body", "café"),
    ("body", {"order": 7, "items": [1, 2]}, "body", '{"order":7,"items":[1,2]}'),
    ("headers", {"X-Tenant": "acme"}, "headers", {"X-Tenant": "acme"}),
]


@pytest.mark.parametrize(("option", "value", "field", "stored"), GOOD_OPTIONS)
def test_good_values_are_stored_normalised(
    option: str, value: Any, field: str, stored: Any
) -> None:
    batch = send_batch([{"url": URL, option: value}])

    assert getattr(batch.messages.get(), field) == stored


def test_a_json_body_gets_a_json_content_type() -> None:
    message = send_batch([{"url": URL, "body": {"a": 1}}]).messages.get()

    assert message.content_type == "application/json"


def test_a_content_type_header_becomes_the_content_type_option() -> None:
    message = send_batch(
        [{"url": URL, "body": "<a/>", "headers": {"Content-Type": "text/xml"}}]
    ).messages.get()

    assert message.content_type == "text/xml"
    assert message.headers == {}


def test_flow_control_accepts_the_sdk_object() -> None:
    from qstash.message import FlowControl

    message = send_batch(
        [{"url": URL, "flow_control": FlowControl(key="k", rate=5, period=60)}]
    ).messages.get()

    assert (message.flow_control_key, message.flow_control_value) == (
        "k",
        "rate=5, period=60s",
    )
