"""Operations on batches shared by the admin, the API, the commands and the tasks.

Every way into the app goes through these functions, so validation, bookkeeping and the
dispatch kick happen the same way whoever asks. Queuing new messages
(:func:`send_batch`) lives in :mod:`django_qstash_batch.queuing` and is re-exported
here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from django_qstash_batch.client import QStashClient
from django_qstash_batch.models import (
    MESSAGE_OPTION_FIELDS,
    Batch,
    BatchStatus,
    Delivery,
    DeliveryState,
    Message,
    MessageStatus,
)
from django_qstash_batch.queuing import send_batch

__all__ = [
    "CancelResult",
    "cancel",
    "duplicate",
    "queue",
    "retry_failed",
    "send_batch",
]

logger = logging.getLogger(__name__)

#: Rows per page when copying messages through the ORM.
INSERT_BATCH_SIZE = 1000


#: Message fields a duplicate copies: what to send, not what happened to it.
COPIED_MESSAGE_FIELDS = ("position", "url", "topic_id", *MESSAGE_OPTION_FIELDS)


@dataclass(frozen=True)
class CancelResult:
    """What :func:`cancel` did.

    ``cancelled`` counts messages cancelled before they were sent, or whose delayed
    QStash messages were all cancelled in QStash; ``too_late`` counts delayed
    messages QStash had already delivered, failed or dropped.
    """

    cancelled: int = 0
    too_late: int = 0


def queue(batch: Batch | UUID | str) -> Batch:
    """Queue a draft batch for sending; it is sent once the transaction commits."""
    with transaction.atomic():
        batch = _locked(batch)
        if batch.status != BatchStatus.DRAFT:
            raise ValidationError(
                _("Only a draft batch can be queued; this one is %(status)s."),
                code="invalid_status",
                params={"status": batch.get_status_display()},
            )
        count = batch.messages.count()
        if not count:
            raise ValidationError(
                _("A batch needs at least one message."), code="empty_batch"
            )
        batch.status = str(BatchStatus.QUEUED)
        batch.queued_at = timezone.now()
        batch.message_count = count
        batch.save(update_fields=["status", "queued_at", "message_count", "updated_at"])

    logger.info("Queued batch %s with %s messages", batch.pk, count)
    return batch


def retry_failed(batch: Batch | UUID | str) -> int:
    """Queue a batch's failed messages again; how many. Accepted ones stay sent.

    The batch gets a fresh set of attempts. Each message keeps its deduplication id,
    so QStash deduplicates a retry within ten minutes of an earlier acceptance.
    """
    with transaction.atomic():
        batch = _locked(batch)
        if batch.status not in (BatchStatus.PARTIAL, BatchStatus.FAILED):
            raise ValidationError(
                _(
                    "Only a partly sent or failed batch has failed messages to retry; "
                    "this one is %(status)s."
                ),
                code="invalid_status",
                params={"status": batch.get_status_display()},
            )
        now = timezone.now()
        retried = batch.messages.filter(status=MessageStatus.FAILED).update(
            status=MessageStatus.PENDING, error="", updated_at=now
        )
        if not retried:
            return 0

        batch.status = str(BatchStatus.QUEUED)
        batch.failed_count = max(batch.failed_count - retried, 0)
        batch.attempts = 0
        batch.next_attempt_at = None
        batch.lease_expires_at = None
        batch.sent_at = None
        batch.last_error = ""
        batch.queued_at = now
        batch.save(
            update_fields=[
                "status",
                "failed_count",
                "attempts",
                "next_attempt_at",
                "lease_expires_at",
                "sent_at",
                "last_error",
                "queued_at",
                "updated_at",
            ]
        )

    logger.info("Queued %s failed messages of batch %s again", retried, batch.pk)
    return retried


def cancel(
    batch: Batch | UUID | str, *, client: QStashClient | None = None
) -> CancelResult:
    """Cancel what of a batch has not happened yet.

    A draft or queued batch is cancelled with its unsent messages, locally. Messages
    QStash accepted with a delay or not-before time still ahead are cancelled in
    QStash too (``DELETE /v2/messages/{id}``, one request per QStash message). A
    batch being sent right now is refused: try again once its worker is done.
    """
    with transaction.atomic():
        batch = _locked(batch)
        if batch.status == BatchStatus.SENDING:
            raise ValidationError(
                _("The batch is being sent right now; cancel it once it is done."),
                code="invalid_status",
            )
        cancelled = 0
        if batch.status in (BatchStatus.DRAFT, BatchStatus.QUEUED):
            cancelled = batch.messages.filter(status=MessageStatus.PENDING).update(
                status=MessageStatus.CANCELLED, updated_at=timezone.now()
            )
            batch.status = str(BatchStatus.CANCELLED)
            batch.next_attempt_at = None
            batch.save(update_fields=["status", "next_attempt_at", "updated_at"])

    delayed = _delayed_deliveries(batch.pk)
    if not delayed:
        logger.info("Cancelled batch %s: %s unsent messages", batch.pk, cancelled)
        return CancelResult(cancelled=cancelled)

    if client is not None:
        remote, too_late = _cancel_in_qstash(client, delayed)
    else:
        with QStashClient.from_settings() as own_client:
            remote, too_late = _cancel_in_qstash(own_client, delayed)
    logger.info(
        "Cancelled batch %s: %s unsent messages, %s delayed ones in QStash",
        batch.pk,
        cancelled,
        remote,
    )
    return CancelResult(cancelled=cancelled + remote, too_late=too_late)


def duplicate(batch: Batch | UUID | str, *, label: str | None = None) -> Batch:
    """A new draft batch with a copy of every message; queue it to send it again.

    The copies get new ids, and so new default deduplication ids: QStash publishes
    them even within ten minutes of the original (a deduplication id the user gave
    is copied as it is, and still deduplicates).
    """
    source = batch if isinstance(batch, Batch) else Batch.objects.get(pk=batch)
    with transaction.atomic():
        copy = Batch.objects.create(
            label=source.label if label is None else label,
            status=BatchStatus.DRAFT,
            message_count=source.message_count,
        )
        messages = (
            Message.objects.filter(batch_id=source.pk)
            .order_by("position")
            .values(*COPIED_MESSAGE_FIELDS)
        )
        after = -1
        copied = 0
        while True:
            page = list(messages.filter(position__gt=after)[:INSERT_BATCH_SIZE])
            if not page:
                break
            Message.objects.bulk_create(
                [Message(batch=copy, **fields) for fields in page],
                batch_size=INSERT_BATCH_SIZE,
            )
            copied += len(page)
            after = page[-1]["position"]
        if copied != copy.message_count:
            copy.message_count = copied
            copy.save(update_fields=["message_count", "updated_at"])

    logger.info("Duplicated batch %s as %s (%s messages)", source.pk, copy.pk, copied)
    return copy


def _locked(batch: Batch | UUID | str) -> Batch:
    """The batch, read again with its row locked until the transaction ends."""
    pk = batch.pk if isinstance(batch, Batch) else batch
    return Batch.objects.select_for_update().get(pk=pk)


def _delayed_deliveries(batch_id: Any) -> list[tuple[int, str, UUID]]:
    """QStash messages of a batch still waiting for their delay or not-before time.

    ``(delivery pk, QStash message id, message id)`` for each.
    """
    now = timezone.now()
    rows = (
        Delivery.objects.filter(
            message__batch_id=batch_id,
            message__status=MessageStatus.ACCEPTED,
            state=DeliveryState.CREATED,
        )
        .filter(Q(message__delay__gt=0) | Q(message__not_before__gt=now))
        .values_list(
            "pk",
            "qstash_message_id",
            "message_id",
            "message__sent_at",
            "message__delay",
            "message__not_before",
        )
    )
    delayed = []
    for pk, qstash_message_id, message_id, sent_at, delay, not_before in rows:
        due = not_before
        if due is None and sent_at is not None and delay:
            due = sent_at + timedelta(seconds=delay)
        if due is not None and due > now:
            delayed.append((pk, qstash_message_id, message_id))
    return delayed


def _cancel_in_qstash(
    client: QStashClient, delayed: list[tuple[int, str, UUID]]
) -> tuple[int, int]:
    """Cancel delayed QStash messages; (messages cancelled, messages too late).

    Each answer is written as it comes, so an error part-way keeps what was done.
    A message counts as cancelled once every QStash message made for it is.
    """
    cancelled_ids: set[UUID] = set()
    late_ids: set[UUID] = set()
    for delivery_pk, qstash_message_id, message_id in delayed:
        if client.cancel_message(qstash_message_id):
            Delivery.objects.filter(pk=delivery_pk).update(
                state=DeliveryState.CANCELLED, updated_at=timezone.now()
            )
            cancelled_ids.add(message_id)
        else:
            late_ids.add(message_id)

    cancelled_ids -= late_ids
    if cancelled_ids:
        Message.objects.filter(pk__in=cancelled_ids).update(
            status=MessageStatus.CANCELLED, updated_at=timezone.now()
        )
    return len(cancelled_ids), len(late_ids)
