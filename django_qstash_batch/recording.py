"""Write what QStash answered onto the rows: one short transaction per chunk.

Recording is the part of dispatching that runs once per request, so it is written for
a constant number of queries whatever the chunk's size: one multi-row ``Delivery``
insert (:class:`~django_qstash_batch.bulk.RowInserter`, values prepared once per
column type), one ``executemany`` for the failed messages, one ``UPDATE`` for the
accepted ones, and one prepared ``UPDATE`` of the batch's counters that also extends
the lease. No model instance and no ORM query is built per chunk: the SQL is written
once per dispatch run.

A chunk is a run of consecutive pending positions, so its accepted messages are
updated by position range on the index of pending messages (the failed ones having
left it first) rather than by a list of a hundred ids, which the database would
have to parse and plan for every chunk. The range is only safe while this worker
holds the lease (nobody else can make a message of a sending batch pending again),
so that update is fenced by the lease too; a worker that lost it marks exactly its
chunk's messages, by id. Message ids travel as the database returns them and are
turned into ``UUID`` objects only for the ``message_failed`` signal.

The lease's expiry time doubles as a fencing token: a worker only extends a lease
whose expiry is still the one it wrote. If another worker has taken the batch over
(the lease ran out), the counters are still kept right, but the caller learns it lost
the batch and stops.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models import F

from django_qstash_batch.bulk import RowInserter, column_converter
from django_qstash_batch.exceptions import QStashProtocolError
from django_qstash_batch.models import (
    Batch,
    BatchStatus,
    Delivery,
    DeliveryState,
    Endpoint,
    Message,
    MessageStatus,
)
from django_qstash_batch.wire import CreatedMessage, read_answer

logger = logging.getLogger(__name__)

#: One request item: ``(message id as the database returns it, position,
#: message URL or "", topic name or None, JSON)``.
Entry = tuple[Any, int, str, "str | None", bytes]

#: ``Delivery`` columns written for each created QStash message.
DELIVERY_COLUMNS = (
    "created_at",
    "updated_at",
    "message",
    "qstash_message_id",
    "url",
    "endpoint_name",
    "deduplicated",
    "state",
    "retried",
    "dlq_id",
)


@dataclass(slots=True)
class ChunkRecord:
    """What recording one chunk changed.

    ``lease_lost`` is True when another worker holds the batch now: the caller must
    stop sending it.
    """

    accepted: int = 0
    failed: int = 0
    failures: list[tuple[UUID, str]] = field(default_factory=list)
    lease_lost: bool = False
    lease_expires_at: datetime | None = None


@dataclass(slots=True)
class Reading:
    """A chunk's answer, read and matched to its messages, not yet written.

    ``first`` and ``last`` are the chunk's first and last positions; ``accepted``
    holds the ids of the messages QStash accepted. Ids are as the database returns
    them.
    """

    first: int = 0
    last: int = -1
    accepted: list[Any] = field(default_factory=list)
    notes: list[tuple[str, Any]] = field(default_factory=list)
    failures: list[tuple[Any, str]] = field(default_factory=list)
    created: list[tuple[Any, str | None, CreatedMessage]] = field(default_factory=list)


@contextmanager
def asynchronous_commits() -> Iterator[None]:
    """On PostgreSQL, let this connection's commits skip the write-ahead log flush.

    Losing the last commits of a dispatch run in a database crash does no harm: the
    batch is resumed from its pending messages and QStash deduplicates what was sent
    again. Set once per run (not per chunk) and reset afterwards, so other work on a
    pooled connection keeps the server's setting.
    """
    if connection.vendor != "postgresql":
        yield
        return

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


class Recorder:
    """Records chunks of one batch for the worker holding its lease.

    The SQL and the per-column value converters are prepared once per dispatch run;
    endpoint names are looked up once per topic per run.
    """

    def __init__(
        self, batch_id: UUID, lease_expires_at: datetime, lease_seconds: int
    ) -> None:
        self.batch_id = batch_id
        self.lease_expires_at = lease_expires_at
        self.lease = timedelta(seconds=lease_seconds)
        self._endpoint_names: dict[str, dict[str, str]] = {}

        ops = connection.ops
        quote = ops.quote_name
        self._datetime = ops.adapt_datetimefield_value
        self._deliveries = RowInserter(Delivery, DELIVERY_COLUMNS)

        message_table = quote(Message._meta.db_table)
        batch_table = quote(Batch._meta.db_table)
        # The batch row as long as this worker holds its lease: the fence of every
        # write that is only safe for the lease holder. Parameters: id, expiry.
        lease_held = (
            f"{quote('id')} = %s AND {quote('status')} = '{BatchStatus.SENDING}' "
            f"AND {quote('lease_expires_at')} = %s"
        )
        pending = f"{quote('status')} = '{MessageStatus.PENDING}'"
        self._fail_messages = (
            f"UPDATE {message_table} SET {quote('status')} = '{MessageStatus.FAILED}', "
            f"{quote('error')} = %s, {quote('updated_at')} = %s "
            f"WHERE {quote('id')} = %s AND {pending}"
        )
        # Statuses are literals so that SQLite, like PostgreSQL, can use the
        # partial index of pending messages.
        accept = (
            f"UPDATE {message_table} SET "
            f"{quote('status')} = '{MessageStatus.ACCEPTED}', "
            f"{quote('sent_at')} = %s, {quote('updated_at')} = %s, "
            f"{quote('error')} = '' WHERE {pending} AND "
        )
        self._accept_range = (
            f"{accept}{quote('batch_id')} = %s "
            f"AND {quote('position')} >= %s AND {quote('position')} <= %s "
            f"AND EXISTS (SELECT 1 FROM {batch_table} WHERE {lease_held})"
        )
        self._accept_listed = f"{accept}{quote('id')} IN ({{}})"
        self._note_errors = (
            f"UPDATE {message_table} SET {quote('error')} = %s WHERE {quote('id')} = %s"
        )
        # The batch's counters and lease, fenced by the lease this worker holds.
        self._extend_lease = (
            f"UPDATE {batch_table} SET "
            f"{quote('lease_expires_at')} = %s, {quote('updated_at')} = %s, "
            f"{quote('accepted_count')} = {quote('accepted_count')} + %s, "
            f"{quote('failed_count')} = {quote('failed_count')} + %s "
            f"WHERE {lease_held}"
        )
        convert_batch_pk = column_converter(Batch._meta.pk, connection)
        self._batch_pk = convert_batch_pk(batch_id) if convert_batch_pk else batch_id

    def record(
        self, entries: Sequence[Entry], answer: list[Any], now: datetime
    ) -> ChunkRecord:
        """Record QStash's answer to a chunk, item ``i`` answering entry ``i``.

        The whole answer is read before anything is written, so an answer QStash
        cannot have meant (a length mismatch, an unknown shape) raises
        :class:`~django_qstash_batch.exceptions.QStashProtocolError` and changes
        nothing.
        """
        return self.write(self.read(entries, answer), now)

    def read(self, entries: Sequence[Entry], answer: list[Any]) -> Reading:
        """What an answer means for each entry, without writing anything.

        Raises :class:`~django_qstash_batch.exceptions.QStashProtocolError` for an
        answer that cannot be matched to the entries.
        """
        if len(answer) != len(entries):
            raise QStashProtocolError(
                f"QStash answered {len(answer)} items for a request of "
                f"{len(entries)}: the answer cannot be matched to the messages.",
                detail=(len(entries), len(answer)),
            )

        reading = (
            Reading(first=entries[0][1], last=entries[-1][1]) if entries else Reading()
        )
        for (message_id, _position, url, topic_name, _item), element in zip(
            entries, answer, strict=True
        ):
            messages, error = read_answer(element, url)
            if not messages:
                reading.failures.append((message_id, error))
                continue
            reading.accepted.append(message_id)
            if error:
                reading.notes.append((error, message_id))
            for one in messages:
                reading.created.append((message_id, topic_name, one))
        return reading

    def write(self, reading: Reading, now: datetime) -> ChunkRecord:
        """Write a chunk's :meth:`read` answer in one short transaction."""
        return self._write(reading, now)

    def fail(self, entries: Sequence[Entry], error: str, now: datetime) -> ChunkRecord:
        """Mark every message of a chunk failed with the same error text."""
        return self._write(
            Reading(failures=[(entry[0], error) for entry in entries]), now
        )

    def fail_remaining(self, error: str, now: datetime) -> ChunkRecord:
        """Fail every message of the batch still pending (attempts ran out)."""
        with transaction.atomic():
            pending = Message.objects.filter(
                batch_id=self.batch_id, status=MessageStatus.PENDING
            )
            ids = list(pending.values_list("pk", flat=True))
            failed = pending.update(
                status=MessageStatus.FAILED, error=error, updated_at=now
            )
            record = ChunkRecord(failed=failed, failures=[(pk, error) for pk in ids])
            self._update_batch(record, now)
        return record

    def _write(self, reading: Reading, now: datetime) -> ChunkRecord:
        failures = reading.failures
        record = ChunkRecord(
            failures=[(_as_uuid(message_id), error) for message_id, error in failures]
        )
        stamp = self._datetime(now)
        rows = self._delivery_rows(reading.created, now)
        # Only a message QStash deduplicated can have been recorded before (a chunk
        # sent again after its answer was lost); otherwise the cheaper plain insert
        # (COPY on PostgreSQL) is safe.
        repeated = any(deduplicated for _, _, (_, _, deduplicated) in reading.created)

        with transaction.atomic():
            self._deliveries.insert(rows, ignore_conflicts=repeated)
            with connection.cursor() as cursor:
                # Failures first: a failed message leaves the pending range that
                # the accepting update below covers.
                if failures:
                    cursor.executemany(
                        self._fail_messages,
                        [(error, stamp, message_id) for message_id, error in failures],
                    )
                    record.failed = max(cursor.rowcount, 0)
                if reading.accepted:
                    record.accepted = self._accept(cursor, reading, stamp)
                # After accepting, which clears the error column.
                if reading.notes:
                    cursor.executemany(self._note_errors, reading.notes)

            self._update_batch(record, now)
        return record

    def _accept(self, cursor: Any, reading: Reading, stamp: Any) -> int:
        """Mark the chunk's accepted messages; how many were still pending."""
        cursor.execute(
            self._accept_range,
            [
                stamp,
                stamp,
                self._batch_pk,
                reading.first,
                reading.last,
                self._batch_pk,
                self._datetime(self.lease_expires_at),
            ],
        )
        accepted = max(cursor.rowcount, 0)
        if accepted < len(reading.accepted):
            # The lease is no longer ours (or messages were cancelled meanwhile):
            # mark exactly this chunk's messages, whatever else the range holds.
            ids = reading.accepted
            cursor.execute(
                self._accept_listed.format(", ".join(["%s"] * len(ids))),
                [stamp, stamp, *ids],
            )
            accepted += max(cursor.rowcount, 0)
        return accepted

    def _update_batch(self, record: ChunkRecord, now: datetime) -> None:
        """Add the chunk to the batch's counters and extend the lease, in one query."""
        lease_expires_at = now + self.lease
        adapt = self._datetime
        with connection.cursor() as cursor:
            cursor.execute(
                self._extend_lease,
                [
                    adapt(lease_expires_at),
                    adapt(now),
                    record.accepted,
                    record.failed,
                    self._batch_pk,
                    adapt(self.lease_expires_at),
                ],
            )
            updated = cursor.rowcount
        if updated:
            self.lease_expires_at = lease_expires_at
            record.lease_expires_at = lease_expires_at
            return

        # Another worker took the batch over after our lease ran out. The rows we
        # changed are ours to count all the same.
        record.lease_lost = True
        counters: dict[str, Any] = {"updated_at": now}
        if record.accepted:
            counters["accepted_count"] = F("accepted_count") + record.accepted
        if record.failed:
            counters["failed_count"] = F("failed_count") + record.failed
        if len(counters) > 1:
            Batch.objects.filter(pk=self.batch_id).update(**counters)
        logger.warning("Lost the lease on batch %s while sending it", self.batch_id)

    def _delivery_rows(
        self,
        created: list[tuple[Any, str | None, CreatedMessage]],
        now: datetime,
    ) -> list[tuple[Any, ...]]:
        """New ``Delivery`` rows in the order of :data:`DELIVERY_COLUMNS`."""
        state = str(DeliveryState.CREATED)
        rows = []
        for message_id, topic_name, (qstash_message_id, url, deduplicated) in created:
            endpoint_name = (
                self._endpoint_name(topic_name, url) if topic_name is not None else ""
            )
            rows.append(
                (
                    now,
                    now,
                    message_id,
                    qstash_message_id,
                    url,
                    endpoint_name,
                    deduplicated,
                    state,
                    0,
                    "",
                )
            )
        return rows

    def _endpoint_name(self, topic_name: str, url: str) -> str:
        names = self._endpoint_names.get(topic_name)
        if names is None:
            names = dict(
                Endpoint.objects.filter(topic__name=topic_name)
                .exclude(name="")
                .values_list("url", "name")
            )
            self._endpoint_names[topic_name] = names
        return names.get(url, "")


def _as_uuid(message_id: Any) -> UUID:
    """A message id as the database returned it (hex text on SQLite), as a UUID."""
    return message_id if isinstance(message_id, UUID) else UUID(message_id)
