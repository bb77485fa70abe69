"""Recording an answer onto the rows: the recorder against the database.

The emulator answers a topic item for all its endpoints or for none, so the answers
here are written out as QStash documents them, and the recorder is driven directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from django_qstash_batch.claims import claim
from django_qstash_batch.models import Batch, Endpoint, Message, Topic
from django_qstash_batch.pending import PendingReader
from django_qstash_batch.recording import Entry, Recorder
from django_qstash_batch.services import send_batch
from django_qstash_batch.wire import ID, MESSAGE_FIELDS, POSITION, URL

pytestmark = pytest.mark.django_db

TOPIC = MESSAGE_FIELDS.index("topic__name")


def claimed(batch: Batch) -> tuple[Recorder, list[Entry]]:
    """A recorder holding the batch's lease, and its pending messages as entries."""
    lease = claim(batch.pk)
    assert lease is not None
    rows = PendingReader(batch.pk, 100).rows()
    entries = [(row[ID], row[POSITION], row[URL], row[TOPIC], b"{}") for row in rows]
    return Recorder(batch.pk, lease.expires_at, 60), entries


def statuses(batch: Batch) -> list[tuple[str, str]]:
    return list(batch.messages.order_by("position").values_list("status", "error"))


def test_a_topic_refused_by_one_endpoint_is_accepted_with_the_refusal_kept() -> None:
    topic = Topic.objects.create(name="orders")
    for url in ("https://a.example.com/", "https://b.example.com/"):
        Endpoint.objects.create(topic=topic, url=url)
    batch = send_batch([{"topic": "orders", "body": "x"}])
    recorder, entries = claimed(batch)
    answer: list[Any] = [
        [
            {"messageId": "msg_a", "url": "https://a.example.com/"},
            {"error": "endpoint b is blocked"},
        ]
    ]

    record = recorder.record(entries, answer, timezone.now())

    assert (record.accepted, record.failed) == (1, 0)
    assert statuses(batch) == [("accepted", "endpoint b is blocked")]
    message = batch.messages.get()
    assert list(message.deliveries.values_list("qstash_message_id", flat=True)) == [
        "msg_a"
    ]


def test_a_refused_item_between_accepted_ones_fails_alone() -> None:
    batch = send_batch([{"url": f"https://example.com/{n}"} for n in range(3)])
    recorder, entries = claimed(batch)
    answer = [{"messageId": "msg_0"}, {"error": "blocked"}, {"messageId": "msg_2"}]

    record = recorder.record(entries, answer, timezone.now())

    assert statuses(batch) == [
        ("accepted", ""),
        ("failed", "blocked"),
        ("accepted", ""),
    ]
    assert [pk for pk, _ in record.failures] == [batch.messages.get(position=1).pk]
    batch.refresh_from_db()
    assert (batch.accepted_count, batch.failed_count) == (2, 1)


def test_recording_a_chunk_leaves_the_messages_after_it_pending() -> None:
    batch = send_batch([{"url": f"https://example.com/{n}"} for n in range(5)])
    recorder, entries = claimed(batch)

    recorder.record(
        entries[1:3], [{"messageId": "m1"}, {"messageId": "m2"}], timezone.now()
    )

    assert [status for status, _ in statuses(batch)] == [
        "pending",
        "accepted",
        "accepted",
        "pending",
        "pending",
    ]


def test_a_worker_that_lost_its_lease_marks_only_its_own_chunk() -> None:
    batch = send_batch([{"url": f"https://example.com/{n}"} for n in range(3)])
    recorder, entries = claimed(batch)
    # While this worker stalled, its lease ran out, another worker finished the
    # batch and message 1 was queued again: it lies inside this chunk's position
    # range but was never part of the chunk.
    Batch.objects.filter(pk=batch.pk).update(
        lease_expires_at=timezone.now() + timedelta(minutes=5)
    )

    record = recorder.record(
        [entries[0], entries[2]],
        [{"messageId": "m0"}, {"messageId": "m2"}],
        timezone.now(),
    )

    assert record.lease_lost
    assert record.accepted == 2
    assert [status for status, _ in statuses(batch)] == [
        "accepted",
        "pending",
        "accepted",
    ]


def test_the_pending_scan_reads_the_partial_index_of_pending_messages() -> None:
    batch = send_batch([{"url": "https://example.com/"}] * 3)
    sql, params = PendingReader(batch.pk, 100).query(after=-1)

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan TO off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(value) for row in cursor.fetchall() for value in row)

    assert Message._meta.indexes[0].name in plan
