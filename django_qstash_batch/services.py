"""Operations on batches shared by the admin, the API, the commands and the tasks.

Every way into the app goes through these functions, so validation, bookkeeping and the
dispatch kick happen the same way whoever asks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from django_qstash_batch import validation
from django_qstash_batch.conf import conf
from django_qstash_batch.models import Batch, BatchStatus, Message, Topic
from django_qstash_batch.options import message_fields, topic_name

logger = logging.getLogger(__name__)

#: Errors reported at most per call; past that, the user has a systematic problem.
MAX_REPORTED_ERRORS = 50

#: Rows per INSERT; the database backend lowers it where it must (SQLite).
INSERT_BATCH_SIZE = 1000


def send_batch(
    messages: Iterable[Mapping[str, Any]],
    *,
    label: str | None = None,
    idempotency_key: str | None = None,
) -> Batch:
    """Store a batch of messages and queue it for sending to QStash.

    Each message is a dict with the option names of the official ``qstash`` SDK
    (``url`` or ``topic``/``url_group``, ``body``, ``headers``, ``delay``...). All of
    them are validated before anything is written; a ``ValidationError`` names every
    bad option as ``messages[<index>].<option>``. The batch and its messages are
    written in the caller's transaction, so nothing is sent unless it commits.

    With an ``idempotency_key`` that an existing batch already has, that batch is
    returned and nothing new is stored.
    """
    items = list(messages)
    batch_errors: dict[str, list[str]] = {}

    if label is not None:
        _collect(batch_errors, "label", validation.validate_single_line, label)
    if idempotency_key is not None:
        _collect(
            batch_errors,
            "idempotency_key",
            validation.validate_single_line,
            idempotency_key,
        )
    if not items:
        batch_errors["messages"] = [_("A batch needs at least one message.")]
    if batch_errors:
        raise ValidationError(batch_errors)

    if idempotency_key:
        existing = Batch.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing

    rows = _build_messages(items)

    now = timezone.now()
    batch = Batch(
        label=label or "",
        idempotency_key=idempotency_key or None,
        status=BatchStatus.QUEUED,
        queued_at=now,
        message_count=len(rows),
    )
    try:
        with transaction.atomic():
            batch.save(force_insert=True)
            for row in rows:
                row.batch = batch
            Message.objects.bulk_create(rows, batch_size=INSERT_BATCH_SIZE)
    except IntegrityError:
        if idempotency_key:
            # Another request stored the same key between our lookup and insert.
            existing = Batch.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        raise

    logger.info("Queued batch %s with %s messages", batch.pk, len(rows))
    return batch


def _build_messages(items: list[Mapping[str, Any]]) -> list[Message]:
    """Unsaved ``Message`` rows; a ``ValidationError`` names each bad option."""
    names = {name for item in items if (name := topic_name(item))}
    topic_ids: dict[str, int] = (
        dict(Topic.objects.filter(name__in=names).values_list("name", "pk"))
        if names
        else {}
    )
    max_body_bytes = conf.MAX_MESSAGE_BYTES

    rows: list[Message] = []
    errors: dict[str, list[str]] = {}
    for position, item in enumerate(items):
        fields, item_errors = message_fields(
            item, topic_ids=topic_ids, max_body_bytes=max_body_bytes
        )
        if item_errors:
            for option, text in item_errors.items():
                key = (
                    f"messages[{position}].{option}"
                    if option
                    else f"messages[{position}]"
                )
                errors[key] = [text]
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
            continue
        if not errors:
            rows.append(Message(position=position, **fields))

    if errors:
        raise ValidationError(errors)
    return rows


def _collect(
    errors: dict[str, list[str]], field: str, validate: Any, value: Any
) -> None:
    try:
        validate(value)
    except ValidationError as exc:
        errors[field] = exc.messages
