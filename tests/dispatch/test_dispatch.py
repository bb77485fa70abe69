"""Dispatching a batch against the emulator: claiming, chunking and recording."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.dispatch import Signal
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_qstash_batch import dispatch
from django_qstash_batch.client import QStashClient
from django_qstash_batch.models import (
    Batch,
    BatchStatus,
    Delivery,
    Message,
    MessageStatus,
)
from django_qstash_batch.services import send_batch
from django_qstash_batch.signals import batch_dispatched, message_failed
from django_qstash_batch.testing import QStashEmulator
from tests.dispatch.conftest import (
    batch_requests,
    expire_lease,
    make_topic,
    queued_batch,
    sent_items,
    url_messages,
)

pytestmark = pytest.mark.django_db


def test_a_queued_batch_is_sent_and_marked_sent(qstash: QStashEmulator) -> None:
    batch = queued_batch(5)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (result.claimed, result.status, result.accepted) == (True, "sent", 5)
    assert (batch.status, batch.accepted_count, batch.failed_count) == ("sent", 5, 0)
    assert batch.sent_at is not None
    assert batch.lease_expires_at is None
    assert len(qstash.published) == 5


def test_every_message_is_accepted_with_its_sent_time(qstash: QStashEmulator) -> None:
    batch = queued_batch(3)

    dispatch.dispatch_batch(batch.pk)

    statuses = set(batch.messages.values_list("status", flat=True))
    assert statuses == {MessageStatus.ACCEPTED}
    assert not batch.messages.filter(sent_at__isnull=True).exists()


def test_each_url_message_gets_one_delivery_with_qstash_id(
    qstash: QStashEmulator,
) -> None:
    batch = queued_batch(3)

    dispatch.dispatch_batch(batch.pk)

    published = {(m.message_id, m.url) for m in qstash.published}
    recorded = set(
        Delivery.objects.filter(message__batch=batch).values_list(
            "qstash_message_id", "url"
        )
    )
    assert recorded == published


def test_messages_are_sent_in_position_order(qstash: QStashEmulator) -> None:
    batch = queued_batch(30)

    dispatch.dispatch_batch(batch.pk)

    urls = [item["destination"] for item in sent_items(qstash)]
    assert urls == [f"https://example.com/hooks/{index}" for index in range(30)]


def test_each_item_has_its_message_id_as_deduplication_id(
    qstash: QStashEmulator,
) -> None:
    batch = queued_batch(3)

    dispatch.dispatch_batch(batch.pk)

    sent = [item["headers"]["Upstash-Deduplication-Id"] for item in sent_items(qstash)]
    expected = [str(pk) for pk in batch.messages.values_list("pk", flat=True)]
    assert sent == expected


def test_a_topic_message_gets_one_delivery_per_endpoint(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    make_topic(
        qstash,
        client,
        "billing",
        {"primary": "https://a.example/hook", "backup": "https://b.example/hook"},
    )
    batch = send_batch([{"topic": "billing", "body": "x"}])

    dispatch.dispatch_batch(batch.pk)

    deliveries = set(
        Delivery.objects.filter(message__batch=batch).values_list(
            "url", "endpoint_name"
        )
    )
    assert deliveries == {
        ("https://a.example/hook", "primary"),
        ("https://b.example/hook", "backup"),
    }
    batch.refresh_from_db()
    assert (batch.status, batch.accepted_count) == ("sent", 1)


def test_every_option_reaches_qstash_as_the_message_says(
    qstash: QStashEmulator,
) -> None:
    not_before = datetime(2031, 1, 1, tzinfo=dt_timezone.utc)
    batch = send_batch(
        [
            {
                "url": "https://example.com/hook",
                "body": "payload",
                "content_type": "text/plain",
                "method": "PUT",
                "headers": {"X-Tenant": "acme"},
                "not_before": not_before,
                "retries": 2,
                "retry_delay": "1000",
                "timeout": 20,
                "callback": "https://example.com/cb",
                "failure_callback": "https://example.com/fcb",
                "deduplication_id": "order-1",
                "flow_control": {"key": "tenant", "parallelism": 2},
                "label": "orders",
            }
        ]
    )

    dispatch.dispatch_batch(batch.pk)

    [message] = qstash.published
    options = message.options
    assert message.body == b"payload"
    assert (options.method, options.content_type) == ("PUT", "text/plain")
    assert options.forward_headers == {"X-Tenant": "acme"}
    assert options.not_before == int(not_before.timestamp())
    assert (options.retries, options.retry_delay, options.timeout) == (2, "1000", 20)
    assert options.callback is not None
    assert options.callback.url == "https://example.com/cb"
    assert options.failure_callback is not None
    assert options.failure_callback.url == "https://example.com/fcb"
    assert sent_items(qstash)[0]["headers"]["Upstash-Deduplication-Id"] == "order-1"
    assert options.flow_control_key == "tenant"
    assert options.labels == ["orders"]


def test_the_callback_setting_is_asked_for_on_every_message(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    qstash_settings["CALLBACK_URL"] = "https://app.example/qstash/callback/"
    batch = queued_batch(2)

    dispatch.dispatch_batch(batch.pk)

    for message in qstash.published:
        assert message.options.callback is not None
        assert message.options.callback.url == "https://app.example/qstash/callback/"


def test_chunks_hold_at_most_max_messages_per_request(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    qstash_settings["MAX_MESSAGES_PER_REQUEST"] = 10
    batch = queued_batch(25)

    dispatch.dispatch_batch(batch.pk)

    assert [len(r.json) for r in batch_requests(qstash)] == [10, 10, 5]


def test_chunks_stay_within_max_request_bytes(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    qstash_settings["MAX_REQUEST_BYTES"] = 1000
    batch = send_batch(url_messages(12, body="x" * 200))

    dispatch.dispatch_batch(batch.pk)

    requests = batch_requests(qstash)
    assert len(requests) > 1
    assert all(len(request.body) <= 1000 for request in requests)
    assert sum(len(request.json) for request in requests) == 12


def test_an_item_larger_than_max_request_bytes_is_sent_alone(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    qstash_settings["MAX_REQUEST_BYTES"] = 500
    batch = send_batch(
        [
            {"url": "https://example.com/a", "body": "small"},
            {"url": "https://example.com/b", "body": "x" * 800},
            {"url": "https://example.com/c", "body": "small"},
        ]
    )

    dispatch.dispatch_batch(batch.pk)

    assert [len(r.json) for r in batch_requests(qstash)] == [1, 1, 1]
    batch.refresh_from_db()
    assert batch.status == "sent"


def test_an_item_error_fails_only_that_message_with_qstash_text(
    qstash: QStashEmulator,
) -> None:
    qstash.faults.item_error("https://example.com/hooks/1", "destination is blocked")
    batch = queued_batch(3)

    dispatch.dispatch_batch(batch.pk)

    failed = batch.messages.get(position=1)
    assert (failed.status, failed.error) == ("failed", "destination is blocked")
    assert not failed.deliveries.exists()
    batch.refresh_from_db()
    assert (batch.status, batch.accepted_count, batch.failed_count) == (
        "partial",
        2,
        1,
    )


def test_a_batch_whose_every_item_is_refused_is_failed(
    qstash: QStashEmulator,
) -> None:
    for index in range(2):
        qstash.faults.item_error(f"https://example.com/hooks/{index}", "refused")
    batch = queued_batch(2)

    dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.failed_count) == ("failed", 2)


def test_a_draft_batch_is_not_sent(qstash: QStashEmulator) -> None:
    batch = queued_batch(2)
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.DRAFT)

    result = dispatch.dispatch_batch(batch.pk)

    assert not result.claimed
    assert qstash.received == []


def test_a_batch_held_by_a_live_lease_is_not_claimed(qstash: QStashEmulator) -> None:
    batch = queued_batch(2)
    assert dispatch.claim(batch.pk) is not None

    result = dispatch.dispatch_batch(batch.pk)

    assert not result.claimed
    assert qstash.received == []


def test_a_batch_whose_lease_expired_is_claimed_and_finished(
    qstash: QStashEmulator,
) -> None:
    batch = queued_batch(2)
    dispatch.claim(batch.pk)
    expire_lease(batch)

    result = dispatch.dispatch_batch(batch.pk)

    batch.refresh_from_db()
    assert result.status == "sent"
    assert batch.attempts == 2


def test_a_batch_not_yet_due_is_not_claimed(qstash: QStashEmulator) -> None:
    batch = queued_batch(1)
    Batch.objects.filter(pk=batch.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )

    assert not dispatch.dispatch_batch(batch.pk).claimed


def test_only_pending_messages_are_sent(qstash: QStashEmulator) -> None:
    batch = queued_batch(4)
    Message.objects.filter(batch=batch, position__in=[0, 2]).update(
        status=MessageStatus.CANCELLED
    )

    dispatch.dispatch_batch(batch.pk)

    urls = [item["destination"] for item in sent_items(qstash)]
    assert urls == ["https://example.com/hooks/1", "https://example.com/hooks/3"]


@contextmanager
def connected(signal: Signal) -> Iterator[mock.Mock]:
    """A mock receiver of ``signal`` for the duration of the block."""
    receiver = mock.Mock()
    signal.connect(receiver)
    try:
        yield receiver
    finally:
        signal.disconnect(receiver)


def test_batch_dispatched_is_sent_with_the_final_status(
    qstash: QStashEmulator,
) -> None:
    with connected(batch_dispatched) as receiver:
        batch = queued_batch(2)
        dispatch.dispatch_batch(batch.pk)

    receiver.assert_called_once()
    kwargs = receiver.call_args.kwargs
    assert kwargs["sender"] is Batch
    assert kwargs["status"] == "sent"
    assert (kwargs["batch"].pk, kwargs["batch"].accepted_count) == (batch.pk, 2)


def test_message_failed_lists_the_failed_messages_and_their_errors(
    qstash: QStashEmulator,
) -> None:
    qstash.faults.item_error("https://example.com/hooks/0", "nope")
    with connected(message_failed) as receiver:
        batch = queued_batch(2)
        dispatch.dispatch_batch(batch.pk)

    receiver.assert_called_once()
    kwargs = receiver.call_args.kwargs
    failed = batch.messages.get(position=0)
    assert kwargs["sender"] is Message
    assert kwargs["batch_id"] == batch.pk
    assert kwargs["failures"] == [(failed.pk, "nope")]


def queries_for_one_chunk(size: int, settings: dict[str, Any]) -> int:
    settings["MAX_MESSAGES_PER_REQUEST"] = size
    batch = queued_batch(size)
    with CaptureQueriesContext(connection) as queries:
        dispatch.dispatch_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.accepted_count) == ("sent", size)
    return len(queries)


def test_a_chunk_of_100_takes_as_many_queries_as_a_chunk_of_10(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    assert queries_for_one_chunk(10, qstash_settings) == queries_for_one_chunk(
        100, qstash_settings
    )


def test_each_further_chunk_adds_the_same_few_queries(
    qstash: QStashEmulator, qstash_settings: dict[str, Any]
) -> None:
    qstash_settings["MAX_MESSAGES_PER_REQUEST"] = 10
    counts = []
    for size in (10, 20, 50):
        batch = queued_batch(size)
        with CaptureQueriesContext(connection) as queries:
            dispatch.dispatch_batch(batch.pk)
        counts.append(len(queries))

    per_chunk = counts[1] - counts[0]
    assert counts[2] - counts[0] == 4 * per_chunk
    assert per_chunk <= 6


def test_due_batch_ids_leaves_fresh_queued_batches_to_their_kick(
    qstash: QStashEmulator,
) -> None:
    fresh = queued_batch(1)
    old = queued_batch(1)
    Batch.objects.filter(pk=old.pk).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )

    assert dispatch.due_batch_ids() == [old.pk]
    assert set(dispatch.due_batch_ids(kick_grace=0)) == {fresh.pk, old.pk}


def test_due_batch_ids_includes_expired_leases_and_due_retries(
    qstash: QStashEmulator,
) -> None:
    abandoned = queued_batch(1)
    dispatch.claim(abandoned.pk)
    expire_lease(abandoned)
    retry = queued_batch(1)
    Batch.objects.filter(pk=retry.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    later = queued_batch(1)
    Batch.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=1)
    )
    sending = queued_batch(1)
    dispatch.claim(sending.pk)

    assert set(dispatch.due_batch_ids()) == {abandoned.pk, retry.pk}


def test_dispatch_due_sends_every_due_batch(qstash: QStashEmulator) -> None:
    batches = [queued_batch(2) for _ in range(3)]

    results = dispatch.dispatch_due()

    assert {r.batch_id for r in results} == {b.pk for b in batches}
    assert set(Batch.objects.values_list("status", flat=True)) == {"sent"}
