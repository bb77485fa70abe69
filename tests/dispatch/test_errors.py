"""What each failure does (design.md 4.6), every fault injected through the emulator."""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_qstash_batch import dispatch
from django_qstash_batch.models import Batch, BatchStatus, Delivery, Message
from django_qstash_batch.testing import QStashEmulator
from tests.dispatch.conftest import (
    batch_requests,
    make_due,
    queued_batch,
    sent_items,
    wait_for_answers,
)

pytestmark = pytest.mark.django_db


def test_a_5xx_releases_the_batch_for_a_later_attempt(qstash: QStashEmulator) -> None:
    qstash.faults.fail_next(status=503)
    batch = queued_batch(3)

    before = timezone.now()
    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (result.status, batch.status, batch.attempts) == ("queued", "queued", 1)
    assert batch.last_error == "QStash answered 503: service unavailable"
    assert batch.lease_expires_at is None
    assert batch.next_attempt_at is not None
    assert batch.next_attempt_at > before
    assert result.retry_at == batch.next_attempt_at
    assert set(batch.messages.values_list("status", flat=True)) == {"pending"}


def test_the_backoff_grows_with_each_attempt_and_is_jittered() -> None:
    first = [dispatch.backoff_seconds(1) for _ in range(200)]
    fourth = [dispatch.backoff_seconds(4) for _ in range(200)]

    assert 1.0 <= min(first) and max(first) <= 2.0
    assert 8.0 <= min(fourth) and max(fourth) <= 16.0
    assert len(set(first)) > 100
    assert dispatch.backoff_seconds(50) <= dispatch.BACKOFF_CAP_SECONDS


def test_the_next_attempt_after_a_5xx_sends_the_batch(qstash: QStashEmulator) -> None:
    qstash.faults.fail_next(status=500)
    batch = queued_batch(3)
    dispatch.dispatch_batch(batch.pk)
    make_due(batch)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (result.status, batch.attempts, batch.accepted_count) == ("sent", 2, 3)
    assert batch.last_error == ""
    assert len(qstash.published) == 3


def test_an_unreachable_qstash_releases_the_batch(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        qstash_settings["URL"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
    batch = queued_batch(2)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert result.status == batch.status == "queued"
    assert "could not be reached" in batch.last_error


def test_a_timeout_releases_the_batch(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    qstash_settings["TIMEOUT"] = (1, 0.2)
    qstash.faults.latency(0.6)
    batch = queued_batch(2)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert result.status == batch.status == "queued"
    assert "did not answer" in batch.last_error
    wait_for_answers(qstash)


def test_after_max_attempts_the_remaining_messages_fail_with_the_last_error(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    qstash_settings["MAX_ATTEMPTS"] = 2
    qstash.faults.fail_next(2, status=502)
    batch = queued_batch(3)
    dispatch.dispatch_batch(batch.pk)
    make_due(batch)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (result.status, batch.status, batch.failed_count) == ("failed", "failed", 3)
    errors = set(batch.messages.values_list("status", "error"))
    assert errors == {("failed", "QStash answered 502: bad gateway")}


def test_messages_accepted_before_the_last_attempt_stay_accepted(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    qstash_settings["MAX_ATTEMPTS"] = 2
    batch = queued_batch(4)
    # An earlier attempt had the first two messages accepted, then failed.
    Message.objects.filter(batch=batch, position__lt=2).update(status="accepted")
    Batch.objects.filter(pk=batch.pk).update(attempts=1, accepted_count=2)
    qstash.faults.fail_next(status=503)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (result.status, batch.accepted_count, batch.failed_count) == (
        "partial",
        2,
        2,
    )
    assert list(batch.messages.values_list("status", flat=True)) == [
        "accepted",
        "accepted",
        "failed",
        "failed",
    ]


def test_a_burst_429_is_waited_out_without_releasing_the_batch(
    qstash: QStashEmulator,
) -> None:
    qstash.faults.rate_limit_burst(reset_in=0.5)
    batch = queued_batch(2)

    started = time.monotonic()
    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (result.status, batch.attempts) == ("sent", 1)
    assert len(batch_requests(qstash)) == 2
    assert time.monotonic() - started < dispatch.BURST_WAIT_LIMIT_SECONDS + 1


def test_a_burst_429_with_a_distant_reset_releases_the_batch_without_an_attempt(
    qstash: QStashEmulator,
) -> None:
    qstash.faults.rate_limit_burst(reset_in=120)
    batch = queued_batch(2)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (result.status, batch.attempts) == ("queued", 0)
    assert batch.next_attempt_at is not None
    assert batch.next_attempt_at > timezone.now() + timedelta(seconds=100)


def test_a_daily_quota_429_pauses_the_batch_until_the_reset_without_an_attempt(
    qstash: QStashEmulator,
) -> None:
    reset = time.time() + 3600
    qstash.faults.rate_limit_daily(reset_at=reset)
    batch = queued_batch(2)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (result.status, batch.status, batch.attempts) == ("queued", "queued", 0)
    assert batch.next_attempt_at is not None
    assert batch.next_attempt_at.timestamp() == pytest.approx(reset, abs=1)
    assert "daily message limit" in batch.last_error


def test_a_daily_quota_429_pauses_every_other_queued_batch(
    qstash: QStashEmulator,
) -> None:
    reset = time.time() + 3600
    qstash.faults.rate_limit_daily(reset_at=reset)
    hit = queued_batch(1)
    waiting = queued_batch(1)

    dispatch.dispatch_batch(hit.pk)

    waiting.refresh_from_db()
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at.timestamp() == pytest.approx(reset, abs=1)
    assert not dispatch.dispatch_batch(waiting.pk).claimed
    assert len(batch_requests(qstash)) == 1


def test_a_quota_spent_mid_batch_keeps_the_chunks_already_accepted(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    qstash_settings["MAX_MESSAGES_PER_REQUEST"] = 10
    qstash.faults.daily_quota(after=10, reset_at=time.time() + 3600)
    batch = queued_batch(25)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (result.status, batch.accepted_count, batch.attempts) == ("queued", 10, 0)
    assert batch.messages.filter(status="pending").count() == 15


def test_a_rejected_request_is_split_so_one_bad_message_fails_alone(
    qstash: QStashEmulator,
) -> None:
    batch = queued_batch(8)
    # Bypass validation, as a row edited in the database directly would.
    Message.objects.filter(batch=batch, position=5).update(
        flow_control_key="k", flow_control_value="nonsense"
    )

    result = dispatch.dispatch_batch(batch.pk)

    bad = batch.messages.get(position=5)
    assert bad.status == "failed"
    assert bad.error.startswith("QStash answered 400: ")
    assert "Flow-Control-Value" in bad.error
    batch.refresh_from_db()
    assert (result.status, batch.accepted_count, batch.failed_count) == (
        "partial",
        7,
        1,
    )
    assert len(qstash.published) == 7
    assert len(batch_requests(qstash)) > 2


def test_a_400_for_a_single_message_fails_it(qstash: QStashEmulator) -> None:
    qstash.faults.fail_next(status=400, body={"error": "body: invalid"})
    batch = queued_batch(1)

    dispatch.dispatch_batch(batch.pk)

    message = batch.messages.get()
    assert (message.status, message.error) == (
        "failed",
        "QStash answered 400: body: invalid",
    )


@pytest.mark.parametrize(
    ("status", "text"),
    [(401, "unauthorized"), (412, "retries exceed plan"), (404, "queue not found")],
)
def test_other_4xx_fail_the_chunk_for_good_with_qstash_text(
    qstash: QStashEmulator, status: int, text: str
) -> None:
    qstash.faults.fail_next(status=status, body={"error": text})
    batch = queued_batch(3)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (result.status, batch.failed_count, batch.attempts) == ("failed", 3, 1)
    expected = f"QStash answered {status}: {text}"
    assert set(batch.messages.values_list("error", flat=True)) == {expected}
    assert batch.last_error == expected
    assert len(batch_requests(qstash)) == 1


def test_a_permanent_error_fails_only_its_own_chunk(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    qstash_settings["MAX_MESSAGES_PER_REQUEST"] = 2
    qstash.faults.fail_next(status=412)
    batch = queued_batch(5)

    dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.accepted_count, batch.failed_count) == (
        "partial",
        3,
        2,
    )


def test_an_answer_shorter_than_the_request_is_not_taken_for_success(
    qstash: QStashEmulator,
) -> None:
    qstash.faults.fail_next(status=200, body='[{"messageId": "msg_only_one"}]')
    batch = queued_batch(3)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (result.status, batch.accepted_count) == ("queued", 0)
    assert "answered 1 items for a request of 3" in batch.last_error
    assert not Delivery.objects.exists()


def test_an_unreadable_answer_is_retried_later(qstash: QStashEmulator) -> None:
    qstash.faults.fail_next(status=200, body="[42]")
    batch = queued_batch(1)

    result = dispatch.dispatch_batch(batch.pk)

    assert result.status == "queued"
    assert Batch.objects.get(pk=batch.pk).messages.get().status == "pending"


def test_a_lost_answer_then_a_retry_publishes_every_message_once(
    qstash: QStashEmulator,
) -> None:
    qstash.faults.drop_after_accept()
    batch = queued_batch(5)
    assert dispatch.dispatch_batch(batch.pk).status == "queued"
    assert len(qstash.published) == 5
    make_due(batch)

    result = dispatch.dispatch_batch(batch.pk)

    assert result.status == "sent"
    assert len(qstash.published) == 5
    assert len(sent_items(qstash)) == 10
    recorded = set(Delivery.objects.values_list("qstash_message_id", "deduplicated"))
    assert recorded == {(message.message_id, True) for message in qstash.published}


def test_a_worker_that_lost_its_lease_stops_and_keeps_the_counts_right(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    qstash_settings["MAX_MESSAGES_PER_REQUEST"] = 2
    batch = queued_batch(4)
    lease = dispatch.claim(batch.pk)
    assert lease is not None
    # Another worker takes over after the lease ran out.
    Batch.objects.filter(pk=batch.pk).update(
        lease_expires_at=lease.expires_at + timedelta(minutes=1)
    )

    with dispatch.QStashClient.from_settings() as client:
        result = dispatch.Run(lease, client).run()

    batch.refresh_from_db()
    assert result.status == "sending"
    assert batch.status == BatchStatus.SENDING
    assert batch.accepted_count == 2
    assert len(batch_requests(qstash)) == 1
