"""Claiming batches: who may send which batch, and for how long.

A worker claims a batch with a lease; the lease's expiry time doubles as the fencing
token :mod:`django_qstash_batch.recording` checks. Queries that pick due batches for
the periodic task and the command live here too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from django_qstash_batch.conf import conf
from django_qstash_batch.models import Batch, BatchStatus

logger = logging.getLogger(__name__)

#: A queued batch younger than this is left to the kick its commit scheduled.
KICK_GRACE_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Lease:
    """A claimed batch: held by one worker until ``expires_at``."""

    batch_id: UUID
    expires_at: datetime
    attempts: int


def claim(batch_id: UUID | str) -> Lease | None:
    """Take the batch for this worker if it is due and free; ``None`` otherwise.

    Status ``sending``, a fresh lease and one more attempt are written in one short
    transaction with no network I/O inside it.
    """
    now = timezone.now()
    expires_at = now + timedelta(seconds=conf.LEASE_SECONDS)
    claimable = Batch.objects.filter(claimable_condition(now), pk=batch_id)

    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            # Skip a row another worker is claiming instead of queuing behind it.
            locked = (
                claimable.select_for_update(skip_locked=True)
                .values_list("pk", flat=True)
                .first()
            )
            if locked is None:
                return None

        updated = claimable.update(
            status=BatchStatus.SENDING,
            lease_expires_at=expires_at,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        if not updated:
            return None
        attempts = Batch.objects.filter(pk=batch_id).values_list("attempts", flat=True)[
            0
        ]

    logger.info("Claimed batch %s (attempt %s)", batch_id, attempts)
    return Lease(UUID(str(batch_id)), expires_at, attempts)


def claimable_condition(now: datetime) -> Q:
    """Batches a worker may take now: queued and due, or whose lease ran out."""
    due = Q(status=BatchStatus.QUEUED) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    abandoned = Q(status=BatchStatus.SENDING) & (
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    )
    return due | abandoned


def due_batch_ids(
    *, limit: int = 1000, kick_grace: float = KICK_GRACE_SECONDS
) -> list[UUID]:
    """Batches to dispatch now: due queued ones and those whose lease expired.

    Queued batches that were never tried and changed less than ``kick_grace`` seconds
    ago are left out: their commit's kick is probably still on its way.
    """
    now = timezone.now()
    fresh = Q(
        next_attempt_at__isnull=True, updated_at__gt=now - timedelta(seconds=kick_grace)
    )
    return list(
        Batch.objects.filter(claimable_condition(now))
        .exclude(Q(status=BatchStatus.QUEUED) & fresh)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )


def pause_queued_batches(until: datetime) -> int:
    """Hold back every queued batch until ``until`` (the daily quota's reset).

    The pause is kept on the batches themselves, in ``next_attempt_at``, so every
    worker process sees it through the database, with no cache or extra table.
    """
    return Batch.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=until),
        status=BatchStatus.QUEUED,
    ).update(next_attempt_at=until)
