"""Fault controls: canned failures, both 429s, quota, item errors, latency, drops."""

from __future__ import annotations

import time

import pytest
import requests

from django_qstash_batch.testing import QStashEmulator

from .conftest import FakeClock

HOOK = "https://shop.example.com/hooks/orders"


@pytest.fixture(autouse=True)
def no_delivery(emulator: QStashEmulator) -> None:
    """These tests look at what was accepted; nothing needs to be delivered."""
    emulator.deliver = False


ITEM = [{"destination": HOOK}]


def post_batch(http: requests.Session, emulator: QStashEmulator) -> requests.Response:
    return http.post(f"{emulator.url}/v2/batch", json=ITEM)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 400, 401, 412])
def test_fail_next_answers_with_the_status(
    http: requests.Session, emulator: QStashEmulator, status: int
) -> None:
    emulator.faults.fail_next(status=status)

    response = post_batch(http, emulator)

    assert response.status_code == status
    assert "error" in response.json()
    assert emulator.published == []


def test_fail_next_is_used_up(http: requests.Session, emulator: QStashEmulator) -> None:
    emulator.faults.fail_next(2, status=503)

    statuses = [post_batch(http, emulator).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_fail_next_sends_the_given_body_and_headers(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.fail_next(
        status=502, body="<html>bad gateway</html>", headers={"X-Upstream": "lb-3"}
    )

    response = post_batch(http, emulator)

    assert response.text == "<html>bad gateway</html>"
    assert response.headers["X-Upstream"] == "lb-3"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_fail_next_sends_a_dict_body_as_json(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.fail_next(status=412, body={"error": "too many retries"})

    assert post_batch(http, emulator).json() == {"error": "too many retries"}


def test_fail_next_can_target_a_path(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.fail_next(status=500, path="/v2/topics")

    batch = post_batch(http, emulator)
    topics = http.get(f"{emulator.url}/v2/topics")

    assert (batch.status_code, topics.status_code) == (200, 500)


def test_burst_rate_limit_has_burst_headers(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.rate_limit_burst(limit=100, reset_in=2)

    response = post_batch(http, emulator)

    assert response.status_code == 429
    assert response.headers["Burst-RateLimit-Limit"] == "100"
    assert response.headers["Burst-RateLimit-Remaining"] == "0"
    assert int(response.headers["Burst-RateLimit-Reset"]) >= int(time.time()) + 1
    assert "RateLimit-Limit" not in response.headers


def test_daily_rate_limit_has_ratelimit_headers(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.rate_limit_daily(limit=500, reset_at=1_900_000_000)

    response = post_batch(http, emulator)

    assert response.status_code == 429
    assert response.headers["RateLimit-Limit"] == "500"
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["RateLimit-Reset"] == "1900000000"


def test_daily_quota_allows_k_messages_then_refuses(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.daily_quota(after=2)

    statuses = [post_batch(http, emulator).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert len(emulator.published) == 2


def test_daily_quota_refuses_a_batch_that_would_exceed_it(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.daily_quota(after=2)

    response = http.post(f"{emulator.url}/v2/batch", json=ITEM * 3)

    assert response.status_code == 429
    assert response.headers["RateLimit-Remaining"] == "2"
    assert emulator.published == []


def test_daily_quota_does_not_apply_to_other_endpoints(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.daily_quota(after=0)

    assert http.get(f"{emulator.url}/v2/topics").status_code == 200


def test_daily_quota_resets_at_the_given_time(
    clocked_emulator: QStashEmulator, clock: FakeClock
) -> None:
    clocked_emulator.deliver = False
    clocked_emulator.faults.daily_quota(after=1, reset_at=clock.now + 60)
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {clocked_emulator.token}"

        first = post_batch(http, clocked_emulator).status_code
        refused = post_batch(http, clocked_emulator)
        clock.advance(60)
        after_reset = post_batch(http, clocked_emulator).status_code

    assert (first, refused.status_code, after_reset) == (200, 429, 200)
    assert refused.headers["RateLimit-Reset"] == str(int(clock.now))


def test_item_error_fails_only_that_destination(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.item_error(HOOK, "endpoint is blocked")
    items = [{"destination": HOOK}, {"destination": "https://other.example/x"}]

    failed, accepted = http.post(f"{emulator.url}/v2/batch", json=items).json()

    assert failed == {"error": "endpoint is blocked"}
    assert "messageId" in accepted
    assert [m.url for m in emulator.published] == ["https://other.example/x"]


def test_item_error_can_be_limited_to_a_number_of_items(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.item_error(HOOK, "once", times=1)

    outcomes = http.post(f"{emulator.url}/v2/batch", json=ITEM * 2).json()

    assert outcomes[0] == {"error": "once"}
    assert "messageId" in outcomes[1]


def test_item_error_on_single_publish_is_a_400(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.item_error(HOOK, "blocked")

    response = http.post(f"{emulator.url}/v2/publish/{HOOK}", data=b"x")

    assert response.status_code == 400
    assert response.json() == {"error": "blocked"}


def test_latency_delays_the_answer(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.latency(0.3)

    started = time.monotonic()
    response = post_batch(http, emulator)

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_latency_outlasting_the_client_timeout_times_out(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.latency(0.5)

    with pytest.raises(requests.Timeout):
        http.post(f"{emulator.url}/v2/batch", json=ITEM, timeout=0.1)


def test_drop_after_accept_stores_but_never_answers(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.drop_after_accept()

    with pytest.raises(requests.ConnectionError):
        post_batch(http, emulator)

    assert len(emulator.published) == 1
    assert emulator.received[-1].status is None


def test_resend_after_a_drop_is_deduplicated(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    items = [{"destination": HOOK, "headers": {"Upstash-Deduplication-Id": "d-1"}}]
    emulator.faults.drop_after_accept()

    with pytest.raises(requests.ConnectionError):
        http.post(f"{emulator.url}/v2/batch", json=items)
    [outcome] = http.post(f"{emulator.url}/v2/batch", json=items).json()

    assert outcome == {
        "messageId": emulator.published[0].message_id,
        "deduplicated": True,
    }


def test_clear_disarms_every_fault(
    http: requests.Session, emulator: QStashEmulator
) -> None:
    emulator.faults.fail_next(status=503)
    emulator.faults.item_error(HOOK)
    emulator.faults.daily_quota(after=0)
    emulator.faults.drop_after_accept()
    emulator.faults.latency(5)

    emulator.faults.clear()

    assert "messageId" in post_batch(http, emulator).json()[0]


def test_reset_disarms_faults(http: requests.Session, emulator: QStashEmulator) -> None:
    emulator.faults.fail_next(status=503)

    emulator.reset()

    assert post_batch(http, emulator).status_code == 200
