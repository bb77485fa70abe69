"""The official ``qstash`` SDK publishing, reading and cancelling messages."""

from __future__ import annotations

import json

import pytest
import qstash
from qstash.errors import (
    QStashError,
)
from qstash.message import BatchJsonRequest

from django_qstash_batch.testing import (
    QStashEmulator,
)

from .sdk_helpers import HOOK, add_group, many, one


def test_batch_returns_a_message_id_per_url(
    sdk: qstash.QStash, quiet: QStashEmulator
) -> None:
    responses = sdk.message.batch(
        [{"url": f"{HOOK}/1", "body": "one"}, {"url": f"{HOOK}/2", "body": "two"}]
    )

    assert [one(r).message_id for r in responses] == [
        m.message_id for m in quiet.published
    ]
    assert [m.body for m in quiet.published] == [b"one", b"two"]


def test_batch_sends_null_body_and_queue_which_are_accepted(
    sdk: qstash.QStash, quiet: QStashEmulator
) -> None:
    sdk.message.batch([{"url": HOOK}])

    item = quiet.received[-1].json[0]
    assert item["body"] is None and item["queue"] is None
    assert quiet.published[0].body == b""


def test_batch_options_arrive_as_headers(
    sdk: qstash.QStash, quiet: QStashEmulator
) -> None:
    sdk.message.batch(
        [
            {
                "url": HOOK,
                "body": "x",
                "method": "PUT",
                "retries": 2,
                "delay": 30,
                "headers": {"X-Tenant": "acme"},
                "content_type": "text/plain",
            }
        ]
    )

    message = quiet.published[0]
    assert message.method == "PUT"
    assert message.max_retries == 2
    assert message.due == pytest.approx(message.created_at / 1000 + 30, abs=1)
    assert message.headers == {"X-Tenant": "acme"}
    assert message.content_type == "text/plain"


def test_batch_json_to_url_serialises_the_body(
    sdk: qstash.QStash, quiet: QStashEmulator
) -> None:
    [response] = sdk.message.batch_json([{"url": HOOK, "body": {"invoice": 42}}])

    message = quiet.message(one(response).message_id)
    assert json.loads(message.body) == {"invoice": 42}
    assert message.content_type == "application/json"


def test_batch_json_to_url_group_returns_one_response_per_endpoint(
    sdk: qstash.QStash, quiet: QStashEmulator
) -> None:
    add_group(sdk, "billing", "https://a.example/hook", "https://b.example/hook")

    [responses] = sdk.message.batch_json([{"url_group": "billing", "body": {"n": 1}}])

    assert [r.url for r in many(responses)] == [
        "https://a.example/hook",
        "https://b.example/hook",
    ]


def test_batch_json_to_queue_records_the_queue(
    sdk: qstash.QStash, quiet: QStashEmulator
) -> None:
    [response] = sdk.message.batch_json(
        [{"queue": "slow-lane", "url": HOOK, "body": {"n": 1}}]
    )

    assert quiet.message(one(response).message_id).queue_name == "slow-lane"


def test_batch_json_deduplicated_item_is_flagged(
    sdk: qstash.QStash, quiet: QStashEmulator
) -> None:
    item: BatchJsonRequest = {
        "url": HOOK,
        "body": {"n": 1},
        "deduplication_id": "order-1",
    }

    [first] = sdk.message.batch_json([item])
    [second] = sdk.message.batch_json([item])

    assert one(second).message_id == one(first).message_id
    assert one(second).deduplicated is True


def test_content_based_deduplication_from_the_sdk(
    sdk: qstash.QStash, quiet: QStashEmulator
) -> None:
    item: BatchJsonRequest = {
        "url": HOOK,
        "body": {"n": 1},
        "content_based_deduplication": True,
    }

    [first] = sdk.message.batch_json([item])
    [second] = sdk.message.batch_json([item])

    assert one(second).message_id == one(first).message_id
    assert one(second).deduplicated is True


def test_publish_to_url(sdk: qstash.QStash, quiet: QStashEmulator) -> None:
    response = sdk.message.publish(url=f"{HOOK}?tenant=acme", body="hello")

    message = quiet.message(one(response).message_id)
    assert message.url == f"{HOOK}?tenant=acme"
    assert message.body == b"hello"


def test_publish_json_to_url_group(sdk: qstash.QStash, quiet: QStashEmulator) -> None:
    add_group(sdk, "billing", "https://a.example/hook", "https://b.example/hook")

    responses = sdk.message.publish_json(url_group="billing", body={"n": 1})

    assert {r.url for r in many(responses)} == {
        "https://a.example/hook",
        "https://b.example/hook",
    }


def test_publish_duplicate_is_flagged(
    sdk: qstash.QStash, quiet: QStashEmulator
) -> None:
    first = sdk.message.publish(url=HOOK, body="x", deduplication_id="p1")
    second = sdk.message.publish(url=HOOK, body="x", deduplication_id="p1")

    assert one(second).message_id == one(first).message_id
    assert one(second).deduplicated is True


def test_enqueue_creates_the_queue(sdk: qstash.QStash, quiet: QStashEmulator) -> None:
    response = sdk.message.enqueue_json(queue="emails", url=HOOK, body={"n": 1})

    assert quiet.message(one(response).message_id).queue_name == "emails"
    assert [queue.name for queue in sdk.queue.list()] == ["emails"]


def test_message_get_returns_the_pending_message(
    sdk: qstash.QStash, quiet: QStashEmulator
) -> None:
    response = sdk.message.publish_json(
        url=HOOK, body={"n": 1}, callback="https://app.example/cb", label="orders"
    )

    message = sdk.message.get(one(response).message_id)

    assert message.message_id == one(response).message_id
    assert message.url == HOOK
    assert message.method == "POST"
    assert message.max_retries == 3
    assert message.callback == "https://app.example/cb"
    assert message.body == '{"n": 1}'
    assert message.label == "orders"


def test_message_cancel(sdk: qstash.QStash, quiet: QStashEmulator) -> None:
    response = sdk.message.publish(url=HOOK, body="x")

    sdk.message.cancel(one(response).message_id)

    assert quiet.states(one(response).message_id)[-1] == "CANCELED"
    with pytest.raises(QStashError, match="404"):
        sdk.message.get(one(response).message_id)


def test_message_cancel_many(sdk: qstash.QStash, quiet: QStashEmulator) -> None:
    ids = [one(r).message_id for r in sdk.message.batch([{"url": HOOK}] * 3)]

    assert sdk.message.cancel_many(ids[:2]) == 2
    assert [quiet.message(i).state for i in ids] == ["CANCELED", "CANCELED", "CREATED"]


def test_message_cancel_all(sdk: qstash.QStash, quiet: QStashEmulator) -> None:
    sdk.message.batch([{"url": HOOK}] * 3)

    assert sdk.message.cancel_all() == 3
