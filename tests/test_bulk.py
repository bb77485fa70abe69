"""``RowInserter``: plain and conflict-ignoring multi-row inserts."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_qstash_batch.bulk import RowInserter, ordered_uuid_hexes
from django_qstash_batch.models import Delivery
from django_qstash_batch.recording import DELIVERY_COLUMNS
from django_qstash_batch.services import send_batch

pytestmark = pytest.mark.django_db


def delivery_rows(count: int, prefix: str) -> list[tuple[object, ...]]:
    batch = send_batch([{"url": "https://example.com/a", "body": "x"}] * count)
    now = timezone.now()
    url = "https://example.com/a"
    return [
        (now, now, message_id, f"{prefix}-{index}", url, "", False, "created", 0, "")
        for index, message_id in enumerate(
            batch.messages.order_by("position").values_list("pk", flat=True)
        )
    ]


def test_ignoring_conflicts_skips_rows_that_exist_and_inserts_the_rest() -> None:
    inserter = RowInserter(Delivery, DELIVERY_COLUMNS)
    rows = delivery_rows(3, "msg")
    inserter.insert(rows[:2])

    with CaptureQueriesContext(connection) as queries:
        inserter.insert(rows, ignore_conflicts=True)

    assert len(queries) == 1
    assert sorted(Delivery.objects.values_list("qstash_message_id", flat=True)) == [
        "msg-0",
        "msg-1",
        "msg-2",
    ]


def test_a_plain_insert_still_refuses_a_duplicate() -> None:
    inserter = RowInserter(Delivery, DELIVERY_COLUMNS)
    rows = delivery_rows(2, "dup")
    inserter.insert(rows)

    with pytest.raises(IntegrityError), transaction.atomic():
        inserter.insert(rows[1:])


def test_many_rows_take_one_statement_when_ignoring_conflicts() -> None:
    inserter = RowInserter(Delivery, DELIVERY_COLUMNS)
    rows = delivery_rows(150, "many")

    with CaptureQueriesContext(connection) as queries:
        inserter.insert(rows, ignore_conflicts=True)

    assert len(queries) == 1
    assert Delivery.objects.count() == 150


def test_new_message_ids_are_distinct_ascending_version_7_uuids() -> None:
    before = time.time_ns() // 1_000_000
    hexes = ordered_uuid_hexes(5_000)
    after = time.time_ns() // 1_000_000

    ids = [uuid.UUID(value) for value in hexes]

    assert len(set(hexes)) == 5_000
    assert hexes == sorted(hexes)
    assert {(one.version, one.variant) for one in ids} == {(7, uuid.RFC_4122)}
    assert [one.hex for one in ids] == hexes
    assert before <= ids[0].int >> 80 <= after


def test_ids_of_two_batches_do_not_collide() -> None:
    first, second = ordered_uuid_hexes(10_000), ordered_uuid_hexes(10_000)

    assert not set(first) & set(second)
