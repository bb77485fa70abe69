"""The other endpoints over raw HTTP: publish, groups, messages, logs, DLQ, keys."""

from __future__ import annotations

from typing import Any

import requests

from django_qstash_batch.testing import QStashEmulator, RecordingEndpoint

#: Nothing listens there, so any delivery fails at once instead of going outside.
HOOK = "http://127.0.0.1:9/hooks/orders"


def batch(http: requests.Session, emulator: QStashEmulator, items: Any) -> Any:
    return http.post(f"{emulator.url}/v2/batch", json=items).json()


def test_publish_answers_201(http: requests.Session, emulator: QStashEmulator) -> None:
    response = http.post(f"{emulator.url}/v2/publish/{HOOK}", data=b"x")

    assert response.status_code == 201
    assert response.json()["messageId"] == emulator.published[0].message_id


def test_publish_duplicate_answers_202(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    headers = {"Upstash-Deduplication-Id": "p-1"}
    http.post(f"{emulator.url}/v2/publish/{HOOK}", data=b"x", headers=headers)

    response = http.post(
        f"{emulator.url}/v2/publish/{HOOK}", data=b"x", headers=headers
    )

    assert response.status_code == 202
    assert response.json()["deduplicated"] is True


def test_publish_keeps_binary_bodies(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    http.post(f"{emulator.url}/v2/publish/{HOOK}", data=b"\x00\xff")

    assert emulator.published[0].body == b"\x00\xff"


def test_publish_ignores_request_headers_that_are_not_forwarded(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    http.post(
        f"{emulator.url}/v2/publish/{HOOK}",
        data=b"x",
        headers={"X-Plain": "no", "Upstash-Forward-X-Kept": "yes"},
    )

    assert emulator.published[0].headers == {"X-Kept": "yes"}


def test_publish_header_forward_forwards_plain_headers(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    http.post(
        f"{emulator.url}/v2/publish/{HOOK}",
        data=b"x",
        headers={"X-Plain": "yes", "Upstash-Header-Forward": "true"},
    )

    assert emulator.published[0].headers["X-Plain"] == "yes"
    assert "Authorization" not in emulator.published[0].headers


def test_publish_to_unknown_group_is_a_404(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    response = http.post(f"{emulator.url}/v2/publish/nobody", data=b"x")

    assert response.status_code == 404


def test_publish_repairs_a_collapsed_scheme(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.deliver = False
    http.post(f"{emulator.url}/v2/publish/https:/shop.example.com/x", data=b"x")

    assert emulator.published[0].url == "https://shop.example.com/x"


def test_enqueue_records_the_queue(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    response = http.post(f"{emulator.url}/v2/enqueue/emails/{HOOK}", data=b"x")

    assert response.status_code == 201
    assert emulator.published[0].queue_name == "emails"
    [queue] = http.get(f"{emulator.url}/v2/queues").json()
    assert queue["name"] == "emails"


def test_unknown_path_is_a_404(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    response = http.get(f"{emulator.url}/v2/nothing-here")

    assert response.status_code == 404
    assert "error" in response.json()


def test_group_json_has_the_fields_clients_need(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    http.post(
        f"{emulator.url}/v2/topics/shop/endpoints",
        json={"endpoints": [{"url": "https://a.example", "name": "a"}]},
    )

    group = http.get(f"{emulator.url}/v2/topics/shop").json()

    assert group["name"] == "shop"
    assert isinstance(group["createdAt"], int) and isinstance(group["updatedAt"], int)
    assert group["endpoints"] == [{"name": "a", "url": "https://a.example"}]


def test_unknown_group_is_a_404(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    assert http.get(f"{emulator.url}/v2/topics/nobody").status_code == 404


def test_upsert_without_url_is_a_400(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    response = http.post(
        f"{emulator.url}/v2/topics/shop/endpoints", json={"endpoints": [{"name": "a"}]}
    )

    assert response.status_code == 400
    assert "endpoints[0].url" in response.json()["error"]


def test_remove_endpoint_by_name(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    endpoints = [
        {"url": "https://a.example", "name": "a"},
        {"url": "https://b.example"},
    ]
    http.post(f"{emulator.url}/v2/topics/shop/endpoints", json={"endpoints": endpoints})

    http.delete(
        f"{emulator.url}/v2/topics/shop/endpoints", json={"endpoints": [{"name": "a"}]}
    )

    assert [e.url for e in emulator.groups["shop"].endpoints] == ["https://b.example"]


def test_message_json_has_the_fields_the_sdk_requires(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.deliver = False
    [outcome] = batch(http, emulator, [{"destination": HOOK, "body": "x"}])

    message = http.get(f"{emulator.url}/v2/messages/{outcome['messageId']}").json()

    for field in ("messageId", "url", "method", "maxRetries", "notBefore", "createdAt"):
        assert field in message
    assert message["body"] == "x"


def test_binary_message_body_is_served_as_base64(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.deliver = False
    response = http.post(f"{emulator.url}/v2/publish/{HOOK}", data=b"\xff")

    message = http.get(f"{emulator.url}/v2/messages/{response.json()['messageId']}")

    assert message.json()["bodyBase64"] == "/w=="


def test_bulk_cancel_by_query_filter(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.deliver = False
    batch(
        http,
        emulator,
        [{"destination": HOOK}, {"destination": HOOK, "queue": "q"}],
    )

    response = http.delete(f"{emulator.url}/v2/messages", params={"queueName": "q"})

    assert response.json() == {"cancelled": 1}
    assert [m.state for m in emulator.published] == ["CREATED", "CANCELED"]


def test_bulk_cancel_by_json_body(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.deliver = False
    outcomes = batch(http, emulator, [{"destination": HOOK}] * 2)

    response = http.delete(
        f"{emulator.url}/v2/messages",
        json={"messageIds": [outcomes[1]["messageId"]]},
    )

    assert response.json() == {"cancelled": 1}


def test_cancel_unknown_message_is_a_404(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    assert http.delete(f"{emulator.url}/v2/messages/msg_nope").status_code == 404


def test_logs_path_uses_the_logs_key(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.deliver = False
    batch(http, emulator, [{"destination": HOOK}])

    payload = http.get(f"{emulator.url}/v2/logs").json()

    assert [entry["state"] for entry in payload["logs"]] == ["CREATED"]


def test_events_are_paged_with_a_cursor(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.deliver = False
    batch(http, emulator, [{"destination": HOOK}] * 3)

    first = http.get(f"{emulator.url}/v2/events", params={"count": 2}).json()
    second = http.get(
        f"{emulator.url}/v2/events", params={"count": 2, "cursor": first["cursor"]}
    ).json()

    assert len(first["events"]) == 2
    assert len(second["events"]) == 1
    assert "cursor" not in second


def test_events_filter_by_state(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.deliver = False
    outcomes = batch(http, emulator, [{"destination": HOOK}] * 2)
    http.delete(f"{emulator.url}/v2/messages/{outcomes[0]['messageId']}")

    events = http.get(f"{emulator.url}/v2/events", params={"state": "CANCELED"}).json()

    assert [e["messageId"] for e in events["events"]] == [outcomes[0]["messageId"]]


def test_dead_letter_retry_publishes_again(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    hook.respond(500, times=1)
    headers = {"Upstash-Retries": "0", "Upstash-Deduplication-Id": "r-1"}
    batch(http, emulator, [{"destination": hook.url_for("/x"), "headers": headers}])
    hook.wait_for(1)
    emulator.wait_idle()
    dlq_id = emulator.dlq[0].dlq_id

    response = http.post(f"{emulator.url}/v2/dlq/retry/{dlq_id}")
    hook.wait_for(2)

    assert response.status_code == 201
    assert response.json()["messageId"] != emulator.published[0].message_id
    assert emulator.dlq == []


def test_dead_letters_delete_by_query(
    http: requests.Session, emulator: QStashEmulator, hook: RecordingEndpoint
) -> None:
    hook.respond(500)
    batch(
        http,
        emulator,
        [{"destination": hook.url_for("/x"), "headers": {"Upstash-Retries": "0"}}],
    )
    hook.wait_for(1)
    emulator.wait_idle()

    response = http.delete(
        f"{emulator.url}/v2/dlq", params={"dlqIds": emulator.dlq[0].dlq_id}
    )

    assert response.json() == {"deleted": 1}


def test_keys_endpoint_serves_the_dev_keys(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    keys = http.get(f"{emulator.url}/v2/keys").json()

    assert keys == {
        "current": emulator.current_signing_key,
        "next": emulator.next_signing_key,
    }


def test_reset_restores_rotated_keys(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    original = emulator.current_signing_key
    http.post(f"{emulator.url}/v2/keys/rotate")

    emulator.reset()

    assert emulator.current_signing_key == original
