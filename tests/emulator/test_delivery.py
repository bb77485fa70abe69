"""Delivery: what destinations receive, retries, DLQ, callbacks, delays."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests

from django_qstash_batch.signing import verify
from django_qstash_batch.testing import QStashEmulator, RecordingEndpoint

from .conftest import FakeClock


def send(
    http: requests.Session, emulator: QStashEmulator, destination: str, **item: Any
) -> Any:
    """Post a one-item batch and return its outcome."""
    response = http.post(
        f"{emulator.url}/v2/batch", json=[{"destination": destination, **item}]
    )
    assert response.status_code == 200
    return response.json()[0]


def test_destination_gets_body_method_and_content_type(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    headers = {"Content-Type": "application/json", "Upstash-Method": "PUT"}
    send(http, emulator, hook.url_for("/orders"), body='{"a":  1}', headers=headers)

    [hit] = hook.wait_for(1)

    assert hit.method == "PUT"
    assert hit.path == "/orders"
    assert hit.body == b'{"a":  1}'
    assert hit.headers["Content-Type"] == "application/json"


def test_forwarded_headers_arrive_without_prefix(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    headers = {"Upstash-Forward-X-Tenant": "acme", "upstash-forward-x-trace": "t1"}
    send(http, emulator, hook.url_for("/"), headers=headers)

    [hit] = hook.wait_for(1)

    assert hit.headers["X-Tenant"] == "acme"
    assert hit.headers["x-trace"] == "t1"
    assert "Upstash-Forward-X-Tenant" not in hit.headers


def test_items_alike_but_for_forwarded_headers_each_forward_their_own(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    shared = {"Upstash-Retries": "2", "Upstash-Forward-X-Tenant": "acme"}
    items = [
        {
            "destination": hook.url_for(f"/{index}"),
            "headers": {**shared, "Upstash-Forward-X-Request-Id": f"r-{index}"},
        }
        for index in range(3)
    ]
    assert http.post(f"{emulator.url}/v2/batch", json=items).status_code == 200

    hits = sorted(hook.wait_for(3), key=lambda hit: hit.path)

    assert [(hit.path, hit.headers["X-Request-Id"]) for hit in hits] == [
        ("/0", "r-0"),
        ("/1", "r-1"),
        ("/2", "r-2"),
    ]
    assert {hit.headers["X-Tenant"] for hit in hits} == {"acme"}


def test_qstash_headers_are_added(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    outcome = send(http, emulator, hook.url_for("/"))

    [hit] = hook.wait_for(1)

    assert hit.headers["Upstash-Message-Id"] == outcome["messageId"]
    assert hit.headers["Upstash-Retried"] == "0"
    assert hit.headers["User-Agent"] == "Upstash-QStash"
    assert hit.headers["Upstash-Caller-Ip"] == "127.0.0.1"
    assert "Upstash-Topic-Name" not in hit.headers


def test_group_delivery_names_the_group(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    endpoints = [{"url": hook.url_for("/a")}, {"url": hook.url_for("/b")}]
    http.post(f"{emulator.url}/v2/topics/shop/endpoints", json={"endpoints": endpoints})
    send(http, emulator, "shop")

    hits = hook.wait_for(2)

    assert sorted(hit.path for hit in hits) == ["/a", "/b"]
    assert {hit.headers["Upstash-Topic-Name"] for hit in hits} == {"shop"}


def test_delivery_is_signed_for_its_exact_url(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    url = hook.url_for("/signed?x=1")
    send(http, emulator, url, body="payload")

    [hit] = hook.wait_for(1)
    claims = verify(
        hit.headers["Upstash-Signature"],
        hit.body,
        url=url,
        current_key=emulator.current_signing_key,
        next_key=None,
    )

    assert claims["sub"] == url


def test_failed_delivery_is_retried_until_it_succeeds(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    hook.respond(503, times=2)
    outcome = send(http, emulator, hook.url_for("/flaky"))

    hits = hook.wait_for(3)
    emulator.wait_idle()

    assert [hit.headers["Upstash-Retried"] for hit in hits] == ["0", "1", "2"]
    assert emulator.states(outcome["messageId"]) == [
        "CREATED",
        "ACTIVE",
        "ERROR",
        "RETRY",
        "ACTIVE",
        "ERROR",
        "RETRY",
        "ACTIVE",
        "DELIVERED",
    ]


def test_retry_waits_follow_qstash_backoff_scaled(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    hook.respond(500, times=1)
    emulator.retry_backoff_scale = 0.01
    outcome = send(http, emulator, hook.url_for("/"))

    hook.wait_for(2)
    emulator.wait_idle()

    [retry] = [e for e in emulator.events if e.state == "RETRY"]
    expected = retry.time + 0.01 * 12_182  # e ** 2.5 seconds, in milliseconds
    assert retry.message.message_id == outcome["messageId"]
    assert retry.next_delivery_time == pytest.approx(expected, abs=2)


def test_retry_delay_expression_sets_the_wait(
    clocked_emulator: QStashEmulator, clock: FakeClock
) -> None:
    with RecordingEndpoint() as hook, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {clocked_emulator.token}"
        hook.respond(500, times=1)
        headers = {"Upstash-Retry-Delay": "1000 * (retried + 5)"}
        send(http, clocked_emulator, hook.url_for("/"), headers=headers)
        hook.wait_for(1)
        clocked_emulator.wait_for(
            lambda: any(e.state == "RETRY" for e in clocked_emulator.events)
        )

        [retry] = [e for e in clocked_emulator.events if e.state == "RETRY"]
        assert retry.next_delivery_time == retry.time + 5  # 5 s scaled by 0.001

        clock.advance(1)
        hook.wait_for(2)


def test_exhausted_retries_end_in_the_dlq(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    hook.respond(500, "still broken")
    outcome = send(
        http, emulator, hook.url_for("/dead"), headers={"Upstash-Retries": "1"}
    )

    hook.wait_for(2)
    emulator.wait_idle()

    [entry] = emulator.dlq
    assert entry.message.message_id == outcome["messageId"]
    assert entry.response_status == 500
    assert entry.response_body == b"still broken"
    assert emulator.states(outcome["messageId"])[-1] == "FAILED"


def test_unreachable_destination_is_retried_then_failed(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    outcome = send(
        http, emulator, "http://127.0.0.1:9/nothing", headers={"Upstash-Retries": "0"}
    )

    emulator.wait_idle()

    assert emulator.deliveries[0].status is None
    assert "Error" in (emulator.deliveries[0].error or "")
    assert emulator.states(outcome["messageId"])[-1] == "FAILED"


def test_callback_reports_the_delivery(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    hook.respond(200, "thanks")
    headers = {
        "Upstash-Callback": hook.url_for("/callback"),
        "Upstash-Callback-Forward-X-Secret": "s3",
        "Content-Type": "text/plain",
    }
    outcome = send(http, emulator, hook.url_for("/target"), body="hi", headers=headers)

    hook.wait_for(2)
    emulator.wait_idle()
    [callback] = hook.to("/callback")
    payload = json.loads(callback.body)

    assert payload["status"] == 200
    assert base64.b64decode(payload["body"]) == b"thanks"
    assert payload["sourceMessageId"] == outcome["messageId"]
    assert payload["url"] == hook.url_for("/target")
    assert payload["retried"] == 0
    assert payload["maxRetries"] == 3
    assert base64.b64decode(payload["sourceBody"]) == b"hi"
    assert payload["sourceHeader"]["Content-Type"] == ["text/plain"]
    assert payload["createdAt"].isdigit() and payload["notBefore"].isdigit()
    assert callback.headers["X-Secret"] == "s3"
    assert "dlqId" not in payload


def test_callback_is_signed_for_the_callback_url(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    callback_url = hook.url_for("/callback")
    send(http, emulator, hook.url_for("/t"), headers={"Upstash-Callback": callback_url})

    hook.wait_for(2)
    emulator.wait_idle()
    [callback] = hook.to("/callback")

    claims = verify(
        callback.headers["Upstash-Signature"],
        callback.body,
        url=callback_url,
        current_key=emulator.current_signing_key,
        next_key=emulator.next_signing_key,
    )
    assert claims["sub"] == callback_url


def test_callback_follows_every_attempt(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    hook.respond(500, times=1)
    headers = {"Upstash-Callback": hook.url_for("/callback")}
    send(http, emulator, hook.url_for("/t"), headers=headers)

    hook.wait_for(4)
    emulator.wait_idle()

    statuses = [json.loads(hit.body)["status"] for hit in hook.to("/callback")]
    assert sorted(statuses) == [200, 500]


def test_failure_callback_carries_the_dlq_id(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    hook.respond(500, "nope", times=1)
    headers = {
        "Upstash-Retries": "0",
        "Upstash-Failure-Callback": hook.url_for("/failed"),
    }
    send(http, emulator, hook.url_for("/t"), headers=headers)

    hook.wait_for(2)
    emulator.wait_idle()
    [failure] = hook.to("/failed")
    payload = json.loads(failure.body)

    assert payload["dlqId"] == emulator.dlq[0].dlq_id
    assert payload["status"] == 500
    assert base64.b64decode(payload["body"]) == b"nope"


def test_failure_callback_is_not_sent_on_success(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    headers = {"Upstash-Failure-Callback": hook.url_for("/failed")}
    send(http, emulator, hook.url_for("/t"), headers=headers)

    hook.wait_for(1)
    emulator.wait_idle()

    assert hook.to("/failed") == []


def test_delay_holds_the_message_until_due(
    clocked_emulator: QStashEmulator, clock: FakeClock
) -> None:
    with RecordingEndpoint() as hook, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {clocked_emulator.token}"
        send(http, clocked_emulator, hook.url_for("/"), headers={"Upstash-Delay": "1m"})

        clock.advance(59)
        clocked_emulator.wake()
        with pytest.raises(TimeoutError):
            hook.wait_for(1, timeout=0.2)

        clock.advance(1)
        clocked_emulator.wake()
        assert len(hook.wait_for(1)) == 1


def test_not_before_wins_over_delay(
    clocked_emulator: QStashEmulator, clock: FakeClock
) -> None:
    with RecordingEndpoint() as hook, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {clocked_emulator.token}"
        headers = {
            "Upstash-Delay": "1h",
            "Upstash-Not-Before": str(int(clock.now) + 10),
        }
        send(http, clocked_emulator, hook.url_for("/"), headers=headers)

        clock.advance(10)
        clocked_emulator.wake()

        assert len(hook.wait_for(1)) == 1


def test_delivery_off_records_but_never_sends(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    emulator.deliver = False
    send(http, emulator, hook.url_for("/"))

    emulator.wait_idle()

    assert len(emulator.published) == 1
    assert emulator.deliveries == []
    assert hook.requests == []


def test_cancelled_message_is_not_delivered(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    outcome = send(http, emulator, hook.url_for("/"), headers={"Upstash-Delay": "1s"})

    http.delete(f"{emulator.url}/v2/messages/{outcome['messageId']}")
    emulator.wait_idle()

    assert hook.requests == []
    assert emulator.states(outcome["messageId"])[-2:] == [
        "CANCEL_REQUESTED",
        "CANCELED",
    ]
