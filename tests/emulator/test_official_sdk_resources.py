"""The official ``qstash`` SDK on URL groups, logs, keys, the DLQ and ``Receiver``."""

from __future__ import annotations

import pytest
import qstash
from qstash import Receiver
from qstash.errors import (
    DailyMessageLimitExceededError,
    QStashError,
    RateLimitExceededError,
    SignatureError,
)
from qstash.log import LogFilter, LogState

from django_qstash_batch.testing import (
    DEV_CURRENT_SIGNING_KEY,
    DEV_NEXT_SIGNING_KEY,
    QStashEmulator,
    RecordingEndpoint,
)

from .sdk_helpers import HOOK, add_group, one


def test_url_group_upsert_get_and_list(
    sdk: qstash.QStash, emulator: QStashEmulator
) -> None:
    sdk.url_group.upsert_endpoints(
        "billing", [{"url": "https://a.example/hook", "name": "a"}]
    )

    group = sdk.url_group.get("billing")
    assert group.name == "billing"
    assert [(e.name, e.url) for e in group.endpoints] == [
        ("a", "https://a.example/hook")
    ]
    assert [g.name for g in sdk.url_group.list()] == ["billing"]


def test_url_group_upsert_updates_an_endpoint_by_name(
    sdk: qstash.QStash, emulator: QStashEmulator
) -> None:
    sdk.url_group.upsert_endpoints(
        "billing", [{"url": "https://old.example", "name": "a"}]
    )
    sdk.url_group.upsert_endpoints(
        "billing", [{"url": "https://new.example", "name": "a"}]
    )

    endpoints = sdk.url_group.get("billing").endpoints
    assert [(e.name, e.url) for e in endpoints] == [("a", "https://new.example")]


def test_url_group_remove_one_endpoint(
    sdk: qstash.QStash, emulator: QStashEmulator
) -> None:
    add_group(sdk, "billing", "https://a.example/hook", "https://b.example/hook")

    sdk.url_group.remove_endpoints("billing", [{"url": "https://a.example/hook"}])

    urls = [e.url for e in sdk.url_group.get("billing").endpoints]
    assert urls == ["https://b.example/hook"]


def test_removing_the_last_endpoint_deletes_the_group(
    sdk: qstash.QStash, emulator: QStashEmulator
) -> None:
    add_group(sdk, "billing", "https://a.example/hook")

    sdk.url_group.remove_endpoints("billing", [{"url": "https://a.example/hook"}])

    assert sdk.url_group.list() == []


def test_url_group_delete(sdk: qstash.QStash, emulator: QStashEmulator) -> None:
    add_group(sdk, "billing", "https://a.example/hook")

    sdk.url_group.delete("billing")

    with pytest.raises(QStashError, match="404"):
        sdk.url_group.get("billing")


def test_events_are_listed_newest_first(
    sdk: qstash.QStash, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    response = sdk.message.publish(url=hook.url_for("/ok"), body="x")
    emulator.wait_idle()

    logs = sdk.log.list(filter=LogFilter(message_id=one(response).message_id)).logs

    assert [log.state for log in logs] == [
        LogState.DELIVERED,
        LogState.ACTIVE,
        LogState.CREATED,
    ]


def test_cancelled_state_parses_in_the_sdk(
    sdk: qstash.QStash, quiet: QStashEmulator
) -> None:
    response = sdk.message.publish(url=HOOK, body="x")
    sdk.message.cancel(one(response).message_id)

    logs = sdk.log.list(filter=LogFilter(state=LogState.CANCELED)).logs

    assert [log.message_id for log in logs] == [one(response).message_id]


def test_signing_keys_are_the_dev_keys(
    sdk: qstash.QStash, emulator: QStashEmulator
) -> None:
    keys = sdk.signing_key.get()

    assert (keys.current, keys.next) == (DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY)


def test_rotating_keys_promotes_next(
    sdk: qstash.QStash, emulator: QStashEmulator
) -> None:
    keys = sdk.signing_key.rotate()

    assert keys.current == DEV_NEXT_SIGNING_KEY
    assert keys.next.startswith("sig_") and len(keys.next) == 32
    assert emulator.current_signing_key == DEV_NEXT_SIGNING_KEY


def test_dead_letters_list_get_and_delete(
    sdk: qstash.QStash, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    hook.respond(500, "boom")
    response = sdk.message.publish(url=hook.url_for("/fail"), body="x", retries=0)
    emulator.wait_idle()

    [entry] = sdk.dlq.list().messages
    assert entry.message_id == one(response).message_id
    assert entry.response_status == 500
    assert entry.response_body == "boom"
    assert sdk.dlq.get(entry.dlq_id).message_id == one(response).message_id

    sdk.dlq.delete(entry.dlq_id)
    assert sdk.dlq.list().messages == []


def test_dead_letters_delete_many(
    sdk: qstash.QStash, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    hook.respond(500)
    sdk.message.batch([{"url": hook.url_for("/fail"), "retries": 0}] * 2)
    emulator.wait_idle()
    ids = [entry.dlq_id for entry in sdk.dlq.list().messages]

    assert sdk.dlq.delete_many(ids) == 2


def test_daily_quota_raises_the_daily_limit_error(
    sdk: qstash.QStash, emulator: QStashEmulator
) -> None:
    emulator.faults.daily_quota(after=1)
    sdk.message.publish(url=HOOK, body="x")

    with pytest.raises(DailyMessageLimitExceededError) as raised:
        sdk.message.publish(url=HOOK, body="y")

    assert raised.value.limit == "1"
    assert raised.value.remaining == "0"


def test_burst_limit_raises_the_rate_limit_error(
    sdk: qstash.QStash, emulator: QStashEmulator
) -> None:
    emulator.faults.rate_limit_burst(limit=50)

    with pytest.raises(RateLimitExceededError) as raised:
        sdk.url_group.list()

    assert raised.value.limit == "50"


def test_receiver_verifies_a_delivery_with_the_current_key(
    sdk: qstash.QStash, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    url = hook.url_for("/signed")
    sdk.message.publish_json(url=url, body={"n": 1})
    [hit] = hook.wait_for(1)

    Receiver(DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY).verify(
        signature=hit.headers["Upstash-Signature"], body=hit.text, url=url
    )


def test_receiver_verifies_a_delivery_after_rotation_with_the_next_key(
    sdk: qstash.QStash, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    url = hook.url_for("/rotated")
    sdk.signing_key.rotate()
    sdk.message.publish_json(url=url, body={"n": 1})
    [hit] = hook.wait_for(1)
    receiver = Receiver(DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY)

    receiver.verify(signature=hit.headers["Upstash-Signature"], body=hit.text, url=url)
    with pytest.raises(SignatureError):
        Receiver(DEV_CURRENT_SIGNING_KEY, DEV_CURRENT_SIGNING_KEY).verify(
            signature=hit.headers["Upstash-Signature"], body=hit.text, url=url
        )


def test_receiver_rejects_a_delivery_for_another_url(
    sdk: qstash.QStash, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    sdk.message.publish(url=hook.url_for("/here"), body="x")
    [hit] = hook.wait_for(1)

    with pytest.raises(SignatureError):
        Receiver(DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY).verify(
            signature=hit.headers["Upstash-Signature"],
            body=hit.text,
            url=hook.url_for("/elsewhere"),
        )
