"""``send_batch`` stores a batch in the caller's transaction and leaves it queued."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

import django_qstash_batch
from django_qstash_batch.models import Batch, Message, Topic
from django_qstash_batch.services import send_batch

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


@pytest.mark.parametrize("size", [10, 10_000])
def test_queries_do_not_grow_with_the_number_of_messages(size: int) -> None:
    Topic.objects.create(name="billing")
    messages = [
        {"topic": "billing"} if n % 2 else {"url": URL, "body": f"item {n}"}
        for n in range(size)
    ]

    with CaptureQueriesContext(connection) as queries:
        batch = send_batch(messages)

    # The topic lookup, the batch, one statement for all messages, and the
    # savepoint or transaction around them.
    assert len(queries) <= 6
    assert batch.messages.count() == size
    assert list(
        batch.messages.order_by("-position").values_list("position", flat=True)[:2]
    ) == [size - 1, size - 2]


def test_stored_values_read_back_as_python_values() -> None:
    batch = send_batch(
        [{"url": URL, "headers": {"X-Tenant": "acme"}, "body": {"a": 1}, "delay": 5}]
    )

    message = Message.objects.get(batch=batch)
    assert message.headers == {"X-Tenant": "acme"}
    assert message.body == '{"a":1}'
    assert message.delay == 5
    assert message.created_at == batch.queued_at
    assert message.status == Message.Status.PENDING
