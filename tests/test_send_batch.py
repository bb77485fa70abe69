"""``send_batch`` stores a batch in the caller's transaction and leaves it queued."""

from __future__ import annotations

import math

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

import django_qstash_batch
from django_qstash_batch.models import Batch, Message, Topic
from django_qstash_batch.services import INSERT_BATCH_SIZE, send_batch

pytestmark = pytest.mark.django_db

URL = "https://example.com/hooks/a"


def test_is_exported_from_the_package() -> None:
    assert django_qstash_batch.send_batch is send_batch


def test_stores_a_queued_batch_with_its_messages_in_order() -> None:
    topic = Topic.objects.create(name="billing")

    batch = send_batch(
        [
            {"url": URL, "body": "first"},
            {"topic": "billing", "body": "second"},
            {"url_group": topic, "body": "third", "queue": "slow-lane"},
        ],
        label="nightly invoices",
    )

    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUEUED
    assert batch.queued_at is not None
    assert batch.label == "nightly invoices"
    assert batch.message_count == 3
    assert list(batch.messages.values_list("position", "url", "topic", "body")) == [
        (0, URL, None, "first"),
        (1, "", topic.pk, "second"),
        (2, "", topic.pk, "third"),
    ]
    assert set(batch.messages.values_list("status", flat=True)) == {"pending"}


def test_writes_nothing_when_the_callers_transaction_rolls_back() -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        send_batch([{"url": URL}, {"url": URL}])
        assert Message.objects.count() == 2
        raise Abort

    assert Batch.objects.count() == 0
    assert Message.objects.count() == 0


def test_a_repeated_idempotency_key_returns_the_first_batch() -> None:
    first = send_batch([{"url": URL, "body": "a"}], idempotency_key="order-7")
    again = send_batch([{"url": URL, "body": "b"}], idempotency_key="order-7")

    assert again.pk == first.pk
    assert Message.objects.get().body == "a"


def test_accepts_any_iterable_of_messages() -> None:
    batch = send_batch({"url": URL, "body": str(n)} for n in range(3))

    assert batch.messages.count() == 3


def test_ten_thousand_messages_take_a_bounded_number_of_queries() -> None:
    Topic.objects.create(name="billing")
    messages = [
        {"topic": "billing"} if n % 2 else {"url": URL, "body": f"item {n}"}
        for n in range(10_000)
    ]
    rows_per_insert = min(
        INSERT_BATCH_SIZE,
        connection.ops.bulk_batch_size(
            [field for field in Message._meta.concrete_fields], [Message()]
        ),
    )

    with CaptureQueriesContext(connection) as queries:
        batch = send_batch(messages)

    inserts = [
        q for q in queries if q["sql"].startswith('INSERT INTO "qstash_batch_message"')
    ]
    assert len(inserts) == math.ceil(10_000 / rows_per_insert)
    # One topic lookup, one batch insert, savepoint/transaction bookkeeping.
    assert len(queries) - len(inserts) <= 5
    assert batch.messages.count() == 10_000
