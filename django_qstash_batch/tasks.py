"""Celery tasks: thin wrappers around :mod:`django_qstash_batch.dispatch`.

Tasks receive primary keys only. ``dispatch_batch`` is sent by the commit that
queued a batch; ``dispatch_pending`` is meant for Celery beat (every minute or so)
and re-sends the kicks that were lost and the batches whose worker died.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.utils import timezone

from django_qstash_batch import dispatch

logger = logging.getLogger(__name__)

#: Retries due later than this are not scheduled with a countdown (brokers handle
#: long countdowns poorly); ``dispatch_pending`` picks those batches up when due.
MAX_COUNTDOWN_SECONDS = 300


@shared_task(name="django_qstash_batch.dispatch_batch", ignore_result=True)
def dispatch_batch(batch_id: str) -> str:
    """Send one queued batch; schedule the next attempt when it must wait."""
    result = dispatch.dispatch_batch(batch_id)
    if result.retry_at is not None:
        schedule_retry(batch_id, result.retry_at)
    return result.status


@shared_task(name="django_qstash_batch.dispatch_pending", ignore_result=True)
def dispatch_pending() -> int:
    """Kick every batch that is due but has no task coming: lost kicks, dead workers."""
    batch_ids = dispatch.due_batch_ids()
    for batch_id in batch_ids:
        dispatch_batch.delay(str(batch_id))
    if batch_ids:
        logger.info("Re-kicked %s batches", len(batch_ids))
    return len(batch_ids)


def schedule_retry(batch_id: str, retry_at: datetime) -> None:
    """Send ``dispatch_batch`` again for when the batch is due, if that is soon."""
    countdown = (retry_at - timezone.now()).total_seconds()
    if countdown > MAX_COUNTDOWN_SECONDS:
        return
    dispatch_batch.apply_async((batch_id,), countdown=max(countdown, 0))
