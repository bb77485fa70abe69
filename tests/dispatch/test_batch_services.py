"""queue, retry_failed, cancel and duplicate, with sending through the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from django_qstash_batch import dispatch, services
from django_qstash_batch.client import QStashClient
from django_qstash_batch.models import Batch, BatchStatus, Delivery, Message
from django_qstash_batch.services import send_batch
from django_qstash_batch.testing import QStashEmulator
from tests.dispatch.conftest import queued_batch, sent_items, url_messages

pytestmark = pytest.mark.django_db


def partly_failed_batch(qstash: QStashEmulator) -> Batch:
    qstash.faults.item_error("https://example.com/hooks/1", "refused", times=1)
    batch = queued_batch(3)
    dispatch.dispatch_batch(batch.pk)
    batch.refresh_from_db()
    assert batch.status == "partial"
    return batch


def test_queue_refuses_a_batch_that_is_not_a_draft() -> None:
    batch = queued_batch(1)

    with pytest.raises(ValidationError, match="Only a draft batch"):
        services.queue(batch)


def test_queue_refuses_a_draft_without_messages() -> None:
    batch = Batch.objects.create()

    with pytest.raises(ValidationError, match="at least one message"):
        services.queue(batch)


def test_retry_failed_resends_only_the_failed_messages(
    qstash: QStashEmulator,
) -> None:
    batch = partly_failed_batch(qstash)
    qstash.received.clear()

    retried = services.retry_failed(batch)
    dispatch.dispatch_batch(batch.pk)

    assert retried == 1
    assert [i["destination"] for i in sent_items(qstash)] == [
        "https://example.com/hooks/1"
    ]
    batch.refresh_from_db()
    assert (batch.status, batch.accepted_count, batch.failed_count) == ("sent", 3, 0)


def test_retry_failed_gives_the_batch_fresh_attempts(qstash: QStashEmulator) -> None:
    batch = partly_failed_batch(qstash)

    services.retry_failed(batch)

    batch.refresh_from_db()
    assert (batch.status, batch.attempts, batch.last_error) == ("queued", 0, "")
    assert batch.messages.get(position=1).error == ""


def test_retry_failed_refuses_a_batch_that_is_not_finished() -> None:
    batch = queued_batch(1)

    with pytest.raises(ValidationError, match="Only a partly sent or failed"):
        services.retry_failed(batch)


def test_cancel_cancels_a_queued_batch_locally(qstash: QStashEmulator) -> None:
    batch = queued_batch(3)

    result = services.cancel(batch)

    batch.refresh_from_db()
    assert (result.cancelled, result.too_late) == (3, 0)
    assert batch.status == "cancelled"
    assert set(batch.messages.values_list("status", flat=True)) == {"cancelled"}
    assert not dispatch.dispatch_batch(batch.pk).claimed
    assert qstash.received == []


def test_cancel_refuses_a_batch_being_sent() -> None:
    batch = queued_batch(1)
    dispatch.claim(batch.pk)

    with pytest.raises(ValidationError, match="being sent"):
        services.cancel(batch)


def test_cancel_deletes_delayed_messages_in_qstash(qstash: QStashEmulator) -> None:
    batch = send_batch(
        [
            {"url": "https://example.com/later", "delay": 3600},
            {"url": "https://example.com/now"},
        ]
    )
    dispatch.dispatch_batch(batch.pk)
    delayed = Delivery.objects.get(message__position=0)

    result = services.cancel(batch)

    delayed.refresh_from_db()
    assert (result.cancelled, result.too_late) == (1, 0)
    assert delayed.state == "cancelled"
    assert batch.messages.get(position=0).status == "cancelled"
    assert batch.messages.get(position=1).status == "accepted"
    assert "CANCELED" in qstash.states(delayed.qstash_message_id)
    deletes = [r for r in qstash.received if r.method == "DELETE"]
    assert [r.path for r in deletes] == [f"/v2/messages/{delayed.qstash_message_id}"]


def test_cancel_counts_delayed_messages_qstash_no_longer_has(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    batch = send_batch([{"url": "https://example.com/later", "delay": 3600}])
    dispatch.dispatch_batch(batch.pk)
    client.cancel_message(Delivery.objects.get().qstash_message_id)

    result = services.cancel(batch)

    assert (result.cancelled, result.too_late) == (0, 1)
    assert batch.messages.get().status == "accepted"


def test_cancel_leaves_a_sent_batch_without_delays_alone(
    qstash: QStashEmulator,
) -> None:
    batch = queued_batch(2)
    dispatch.dispatch_batch(batch.pk)

    result = services.cancel(batch)

    batch.refresh_from_db()
    assert (result.cancelled, batch.status) == (0, "sent")
    assert not [r for r in qstash.received if r.method == "DELETE"]


def test_duplicate_copies_every_message_into_a_new_draft(
    qstash: QStashEmulator,
) -> None:
    original = send_batch(
        url_messages(3, headers={"X-Tenant": "acme"}, retries=1), label="orders"
    )
    dispatch.dispatch_batch(original.pk)

    copy = services.duplicate(original)

    assert copy.pk != original.pk
    assert (copy.status, copy.label, copy.message_count) == ("draft", "orders", 3)
    fields: tuple[Any, ...] = ("position", "url", "body", "headers", "retries")
    assert list(copy.messages.values_list(*fields)) == list(
        original.messages.values_list(*fields)
    )
    assert set(copy.messages.values_list("status", flat=True)) == {"pending"}
    assert not Message.objects.filter(
        batch=copy, pk__in=original.messages.values("pk")
    ).exists()


def test_a_queued_duplicate_is_published_again(qstash: QStashEmulator) -> None:
    original = queued_batch(2)
    dispatch.dispatch_batch(original.pk)
    copy = services.duplicate(original)

    services.queue(copy)
    dispatch.dispatch_batch(copy.pk)

    copy.refresh_from_db()
    assert copy.status == BatchStatus.SENT
    assert len(qstash.published) == 4
