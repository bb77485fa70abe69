"""``POST /v2/batch`` over raw HTTP: outcomes, validation, quirks and deduplication."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from django_qstash_batch.testing import QStashEmulator

from .conftest import FakeClock

HOOK = "https://shop.example.com/hooks/orders"


@pytest.fixture(autouse=True)
def no_delivery(emulator: QStashEmulator) -> None:
    """These tests look at what was accepted; nothing needs to be delivered."""
    emulator.deliver = False


def post_batch(
    http: requests.Session, emulator: QStashEmulator, items: Any
) -> requests.Response:
    return http.post(f"{emulator.url}/v2/batch", json=items)


def add_group(
    http: requests.Session, emulator: QStashEmulator, name: str, *urls: str
) -> None:
    endpoints = [{"url": url} for url in urls]
    response = http.post(
        f"{emulator.url}/v2/topics/{name}/endpoints", json={"endpoints": endpoints}
    )
    assert response.status_code == 200


def test_url_item_is_answered_with_a_message_id(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    response = post_batch(http, emulator, [{"destination": HOOK, "body": "{}"}])

    assert response.status_code == 200
    [outcome] = response.json()
    assert outcome["messageId"].startswith("msg_")
    assert emulator.published[0].message_id == outcome["messageId"]


def test_outcomes_follow_request_order(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    items = [{"destination": f"{HOOK}/{number}"} for number in range(5)]

    outcomes = post_batch(http, emulator, items).json()

    urls = [emulator.message(outcome["messageId"]).url for outcome in outcomes]
    assert urls == [f"{HOOK}/{number}" for number in range(5)]


def test_group_item_is_answered_with_one_entry_per_endpoint(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    add_group(
        http, emulator, "billing", "https://a.example/hook", "https://b.example/hook"
    )

    [outcome] = post_batch(http, emulator, [{"destination": "billing"}]).json()

    assert [entry["url"] for entry in outcome] == [
        "https://a.example/hook",
        "https://b.example/hook",
    ]
    assert all(entry["messageId"].startswith("msg_") for entry in outcome)
    assert {message.topic_name for message in emulator.published} == {"billing"}


def test_unknown_group_fails_its_slot_only(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    items = [{"destination": "nobody"}, {"destination": HOOK}]

    response = post_batch(http, emulator, items)

    assert response.status_code == 200
    failed, accepted = response.json()
    assert "nobody" in failed["error"]
    assert "messageId" in accepted
    assert len(emulator.published) == 1


def test_group_without_endpoints_fails_its_slot(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    add_group(http, emulator, "emptied", "https://a.example/hook")
    emulator.groups["emptied"].endpoints.clear()

    [outcome] = post_batch(http, emulator, [{"destination": "emptied"}]).json()

    assert "no endpoints" in outcome["error"]


def test_queue_item_records_the_queue(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    post_batch(http, emulator, [{"destination": HOOK, "queue": "slow-lane"}])

    assert emulator.published[0].queue_name == "slow-lane"


@pytest.mark.parametrize(
    "unset", [{"body": None, "queue": None}, {"body": "", "queue": ""}, {}]
)
def test_unset_body_and_queue_are_accepted_in_every_style(
    http: requests.Session, emulator: QStashEmulator, unset: dict[str, Any]
) -> None:
    response = post_batch(http, emulator, [{"destination": HOOK, **unset}])

    assert response.status_code == 200
    assert emulator.published[0].body == b""
    assert emulator.published[0].queue_name is None


def test_header_names_are_matched_in_any_case(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    headers = {
        "upstash-method": "PUT",
        "content-type": "text/plain",
        "upstash-forward-x-tenant": "acme",
        "UPSTASH-RETRIES": "2",
    }

    post_batch(http, emulator, [{"destination": HOOK, "headers": headers}])

    message = emulator.published[0]
    assert message.method == "PUT"
    assert message.content_type == "text/plain"
    assert message.headers == {"x-tenant": "acme"}
    assert message.max_retries == 2


def test_body_is_stored_unchanged(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    body = '{"a": 1,  "b": "ü"}'

    post_batch(http, emulator, [{"destination": HOOK, "body": body}])

    assert emulator.published[0].body == body.encode()


def test_request_that_is_not_an_array_is_a_400(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    response = post_batch(http, emulator, {"destination": HOOK})

    assert response.status_code == 400
    assert "array" in response.json()["error"]


def test_invalid_json_is_a_400(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    response = http.post(f"{emulator.url}/v2/batch", data=b"[{")

    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


def test_missing_destination_is_a_400_naming_the_field(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    items = [{"destination": HOOK}, {"body": "x"}]

    response = post_batch(http, emulator, items)

    assert response.status_code == 400
    assert "messages[1].destination" in response.json()["error"]
    assert emulator.published == []


def test_non_string_body_is_a_400(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    response = post_batch(http, emulator, [{"destination": HOOK, "body": {"a": 1}}])

    assert response.status_code == 400
    assert "messages[0].body" in response.json()["error"]


def test_non_string_header_value_is_a_400(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    items = [{"destination": HOOK, "headers": {"Upstash-Retries": 3}}]

    response = post_batch(http, emulator, items)

    assert response.status_code == 400
    assert "Upstash-Retries" in response.json()["error"]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Upstash-Method", "TRACE"),
        ("Upstash-Delay", "soon"),
        ("Upstash-Not-Before", "tomorrow"),
        ("Upstash-Retries", "-1"),
        ("Upstash-Callback", "not-a-url"),
        ("Upstash-Content-Based-Deduplication", "yes"),
        ("Upstash-Retry-Delay", "import os"),
    ],
)
def test_invalid_header_value_is_a_400_naming_the_header(
    http: requests.Session, emulator: QStashEmulator, header: str, value: str
) -> None:
    items = [{"destination": HOOK, "headers": {header: value}}]

    response = post_batch(http, emulator, items)

    assert response.status_code == 400
    assert header in response.json()["error"]
    assert emulator.published == []


def test_bad_destination_is_a_400(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    response = post_batch(http, emulator, [{"destination": "ftp://files/x"}])

    assert response.status_code == 400
    assert "destination" in response.json()["error"]


def test_retries_above_the_plan_are_a_412(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    items = [{"destination": HOOK, "headers": {"Upstash-Retries": "50"}}]

    response = post_batch(http, emulator, items)

    assert response.status_code == 412
    assert "Upstash-Retries" in response.json()["error"]


def test_missing_token_is_a_401(emulator: QStashEmulator) -> None:
    response = requests.post(f"{emulator.url}/v2/batch", json=[{"destination": HOOK}])

    assert response.status_code == 401
    assert "error" in response.json()
    assert emulator.published == []


def test_wrong_token_is_a_401(emulator: QStashEmulator) -> None:
    response = requests.post(
        f"{emulator.url}/v2/batch",
        json=[{"destination": HOOK}],
        headers={"Authorization": "Bearer nope"},
    )

    assert response.status_code == 401


def test_token_in_query_is_accepted(emulator: QStashEmulator) -> None:
    response = requests.post(
        f"{emulator.url}/v2/batch",
        params={"qstash_token": emulator.token},
        json=[{"destination": HOOK}],
    )

    assert response.status_code == 200


def test_request_is_recorded_as_received(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    items = [{"destination": HOOK, "body": "x"}]

    post_batch(http, emulator, items)

    [received] = emulator.received
    assert (received.method, received.path, received.status) == (
        "POST",
        "/v2/batch",
        200,
    )
    assert received.json == items


def test_same_deduplication_id_returns_the_earlier_id(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    item = {"destination": HOOK, "headers": {"Upstash-Deduplication-Id": "order-7"}}

    [first] = post_batch(http, emulator, [item]).json()
    [second] = post_batch(http, emulator, [item]).json()

    assert second == {"messageId": first["messageId"], "deduplicated": True}
    assert "deduplicated" not in first
    assert len(emulator.published) == 1


def test_duplicate_within_one_batch_is_deduplicated(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    item = {"destination": HOOK, "headers": {"Upstash-Deduplication-Id": "twice"}}

    first, second = post_batch(http, emulator, [item, item]).json()

    assert second["messageId"] == first["messageId"]
    assert second["deduplicated"] is True


def test_content_based_deduplication_accepts_title_case_true(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    headers = {"Upstash-Content-Based-Deduplication": "True"}
    item = {"destination": HOOK, "body": "same", "headers": headers}

    [first] = post_batch(http, emulator, [item]).json()
    [second] = post_batch(http, emulator, [item]).json()

    assert second == {"messageId": first["messageId"], "deduplicated": True}


def test_content_based_deduplication_tells_bodies_apart(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    headers = {"Upstash-Content-Based-Deduplication": "true"}
    items = [
        {"destination": HOOK, "body": "one", "headers": headers},
        {"destination": HOOK, "body": "two", "headers": headers},
    ]

    first, second = post_batch(http, emulator, items).json()

    assert first["messageId"] != second["messageId"]
    assert "deduplicated" not in second


def test_group_duplicate_repeats_every_endpoint(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    add_group(
        http, emulator, "billing", "https://a.example/hook", "https://b.example/hook"
    )
    item = {"destination": "billing", "headers": {"Upstash-Deduplication-Id": "g1"}}

    [first] = post_batch(http, emulator, [item]).json()
    [second] = post_batch(http, emulator, [item]).json()

    assert [entry["messageId"] for entry in second] == [
        entry["messageId"] for entry in first
    ]
    assert all(entry["deduplicated"] is True for entry in second)


def test_deduplication_window_lasts_ten_minutes(
    clocked_emulator: QStashEmulator, clock: FakeClock
) -> None:
    item = {"destination": HOOK, "headers": {"Upstash-Deduplication-Id": "late"}}
    headers = {"Authorization": f"Bearer {clocked_emulator.token}"}
    url = f"{clocked_emulator.url}/v2/batch"
    clocked_emulator.deliver = False

    [first] = requests.post(url, json=[item], headers=headers).json()
    clock.advance(599)
    [inside] = requests.post(url, json=[item], headers=headers).json()
    clock.advance(2)
    [after] = requests.post(url, json=[item], headers=headers).json()

    assert inside["messageId"] == first["messageId"]
    assert after["messageId"] != first["messageId"]
    assert "deduplicated" not in after
