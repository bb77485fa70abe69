"""Receivers for Django's model signals: kick dispatching once a batch is queued.

A batch whose status moves to ``queued`` registers ``dispatch_batch.delay(id)`` with
``transaction.on_commit``: the worker only hears of the batch once the rows it will
read are committed, and a rolled-back transaction sends nothing. Queryset
``update()`` sends no signal, which is why every way of queuing a batch goes
through :mod:`django_qstash_batch.services` and ``save()``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_init, post_save
from django.dispatch import receiver

from django_qstash_batch.models import Batch, BatchStatus

logger = logging.getLogger(__name__)

#: Attribute holding the status a Batch instance had when it was loaded or saved.
LOADED_STATUS = "_qstash_loaded_status"


@receiver(post_init, sender=Batch, dispatch_uid="qstash_batch_remember_status")
def remember_status(sender: type[Batch], instance: Batch, **kwargs: Any) -> None:
    """Note the status a batch was loaded with, to see it change on save."""
    # A deferred status (``.only()``) stays unknown rather than being fetched.
    instance.__dict__[LOADED_STATUS] = instance.__dict__.get("status")


@receiver(post_save, sender=Batch, dispatch_uid="qstash_batch_kick_on_queue")
def kick_queued_batch(
    sender: type[Batch], instance: Batch, created: bool, **kwargs: Any
) -> None:
    """Schedule ``dispatch_batch`` after the commit when a batch becomes queued."""
    loaded_status = instance.__dict__.get(LOADED_STATUS)
    instance.__dict__[LOADED_STATUS] = instance.status
    if instance.status != BatchStatus.QUEUED:
        return
    if not created and loaded_status == BatchStatus.QUEUED:
        return

    batch_id = str(instance.pk)
    transaction.on_commit(
        lambda: kick(batch_id), using=kwargs.get("using") or "default"
    )


def kick(batch_id: str) -> None:
    """Send the ``dispatch_batch`` task for one batch.

    A broker that cannot be reached must not break the commit that queued the
    batch: the failure is logged and the periodic ``dispatch_pending`` task picks
    the batch up later.
    """
    from django_qstash_batch.tasks import dispatch_batch

    try:
        dispatch_batch.delay(batch_id)
    except Exception:
        logger.exception("Could not send the dispatch task for batch %s", batch_id)
