"""Write what QStash answered onto the rows: one short transaction per chunk.

Recording is the part of dispatching that runs once per request, so it is written for
a constant number of queries whatever the chunk's size: one multi-row ``Delivery``
insert (``executemany`` with values prepared once per column type), one
``UPDATE ... WHERE id IN (...)`` for the accepted messages, one ``executemany`` for the
failed ones, and one ``UPDATE`` of the batch's counters that also extends the lease.

The lease's expiry time doubles as a fencing token: a worker only extends a lease
whose expiry is still the one it wrote. If another worker has taken the batch over
(the lease ran out), the counters are still kept right, but the caller learns it lost
the batch and stops.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models import F, Model
from django.db.models.constants import OnConflict

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

#: One request item: ``(message id, message URL or "", topic name or None, JSON)``.
Entry = tuple[UUID, str, "str | None", bytes]


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
        self._accept_sql_by_count: dict[int, str] = {}

        ops = connection.ops
        quote = ops.quote_name
        self._uuid = (
            _unchanged if connection.features.has_native_uuid_field else _uuid_hex
        )
        self._datetime = ops.adapt_datetimefield_value

        columns = [
            _column(Delivery, name)
            for name in (
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
        ]
        delivery_fields = [Delivery._meta.get_field("qstash_message_id")]
        self._insert_deliveries = " ".join(
            part
            for part in (
                ops.insert_statement(on_conflict=OnConflict.IGNORE),
                quote(Delivery._meta.db_table),
                f"({', '.join(quote(column) for column in columns)})",
                f"VALUES ({', '.join(['%s'] * len(columns))})",
                ops.on_conflict_suffix_sql(
                    delivery_fields, OnConflict.IGNORE, None, None
                ),
            )
            if part
        )

        message_table = quote(Message._meta.db_table)
        self._fail_messages = (
            f"UPDATE {message_table} SET {quote('status')} = %s, "
            f"{quote('error')} = %s, {quote('updated_at')} = %s "
            f"WHERE {quote('id')} = %s AND {quote('status')} = %s"
        )
        self._accept_messages = (
            f"UPDATE {message_table} SET {quote('status')} = %s, "
            f"{quote('sent_at')} = %s, {quote('updated_at')} = %s, "
            f"{quote('error')} = '' WHERE {quote('id')} IN ({{}}) "
            f"AND {quote('status')} = %s"
        )
        self._note_errors = (
            f"UPDATE {message_table} SET {quote('error')} = %s WHERE {quote('id')} = %s"
        )

    def record(
        self, entries: Sequence[Entry], answer: list[Any], now: datetime
    ) -> ChunkRecord:
        """Record QStash's answer to a chunk, item ``i`` answering entry ``i``.

        The whole answer is read before anything is written, so an answer QStash
        cannot have meant (a length mismatch, an unknown shape) raises
        :class:`~django_qstash_batch.exceptions.QStashProtocolError` and changes
        nothing.
        """
        if len(answer) != len(entries):
            raise QStashProtocolError(
                f"QStash answered {len(answer)} items for a request of "
                f"{len(entries)}: the answer cannot be matched to the messages.",
                detail=(len(entries), len(answer)),
            )

        accepted: list[UUID] = []
        notes: list[tuple[str, Any]] = []
        failures: list[tuple[UUID, str]] = []
        created: list[tuple[UUID, str | None, CreatedMessage]] = []
        for (message_id, url, topic_name, _item), element in zip(
            entries, answer, strict=True
        ):
            messages, error = read_answer(element, url)
            if not messages:
                failures.append((message_id, error))
                continue
            accepted.append(message_id)
            if error:
                notes.append((error, self._uuid(message_id)))
            for one in messages:
                created.append((message_id, topic_name, one))

        return self._write(accepted, notes, failures, created, now)

    def fail(self, entries: Sequence[Entry], error: str, now: datetime) -> ChunkRecord:
        """Mark every message of a chunk failed with the same error text."""
        failures = [(entry[0], error) for entry in entries]
        return self._write([], [], failures, [], now)

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

    def _write(
        self,
        accepted: list[UUID],
        notes: list[tuple[str, Any]],
        failures: list[tuple[UUID, str]],
        created: list[tuple[UUID, str | None, CreatedMessage]],
        now: datetime,
    ) -> ChunkRecord:
        record = ChunkRecord(failures=failures)
        stamp = self._datetime(now)
        rows = self._delivery_rows(created, stamp)

        with transaction.atomic():
            with connection.cursor() as cursor:
                if rows:
                    cursor.executemany(self._insert_deliveries, rows)
                if failures:
                    cursor.executemany(
                        self._fail_messages,
                        [
                            (
                                str(MessageStatus.FAILED),
                                error,
                                stamp,
                                self._uuid(message_id),
                                str(MessageStatus.PENDING),
                            )
                            for message_id, error in failures
                        ],
                    )
                    record.failed = max(cursor.rowcount, 0)
                if notes:
                    cursor.executemany(self._note_errors, notes)
                if accepted:
                    cursor.execute(
                        self._accept_sql(len(accepted)),
                        [
                            str(MessageStatus.ACCEPTED),
                            stamp,
                            stamp,
                            *[self._uuid(message_id) for message_id in accepted],
                            str(MessageStatus.PENDING),
                        ],
                    )
                    record.accepted = max(cursor.rowcount, 0)

            self._update_batch(record, now)
        return record

    def _accept_sql(self, count: int) -> str:
        """``UPDATE ... WHERE id IN (...)`` for ``count`` accepted messages."""
        sql = self._accept_sql_by_count.get(count)
        if sql is None:
            sql = self._accept_messages.format(", ".join(["%s"] * count))
            self._accept_sql_by_count[count] = sql
        return sql

    def _update_batch(self, record: ChunkRecord, now: datetime) -> None:
        """Add the chunk to the batch's counters and extend the lease, in one query."""
        counters: dict[str, Any] = {"updated_at": now}
        if record.accepted:
            counters["accepted_count"] = F("accepted_count") + record.accepted
        if record.failed:
            counters["failed_count"] = F("failed_count") + record.failed

        lease_expires_at = now + self.lease
        updated = Batch.objects.filter(
            pk=self.batch_id,
            status=BatchStatus.SENDING,
            lease_expires_at=self.lease_expires_at,
        ).update(lease_expires_at=lease_expires_at, **counters)
        if updated:
            self.lease_expires_at = lease_expires_at
            record.lease_expires_at = lease_expires_at
            return

        # Another worker took the batch over after our lease ran out. The rows we
        # changed are ours to count all the same.
        record.lease_lost = True
        if len(counters) > 1:
            Batch.objects.filter(pk=self.batch_id).update(**counters)
        logger.warning("Lost the lease on batch %s while sending it", self.batch_id)

    def _delivery_rows(
        self,
        created: list[tuple[UUID, str | None, CreatedMessage]],
        stamp: Any,
    ) -> list[tuple[Any, ...]]:
        state = str(DeliveryState.CREATED)
        rows = []
        for message_id, topic_name, (qstash_message_id, url, deduplicated) in created:
            endpoint_name = (
                self._endpoint_name(topic_name, url) if topic_name is not None else ""
            )
            rows.append(
                (
                    stamp,
                    stamp,
                    self._uuid(message_id),
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


def _column(model: type[Model], name: str) -> str:
    """The database column of a concrete field."""
    column = model._meta.get_field(name).column  # type: ignore[union-attr]
    return str(column)


def _unchanged(value: UUID) -> Any:
    return value


def _uuid_hex(value: UUID) -> Any:
    return value.hex
