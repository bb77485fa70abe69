"""``send_batch``: validate messages and store them as a queued batch.

Queuing is the app's other hot path besides dispatching: a batch of a hundred thousand
messages is validated and written in one call. Rows are built as plain tuples and
written with one statement (:class:`~django_qstash_batch.bulk.RowInserter`), and the
ids are made in one go (:func:`~django_qstash_batch.bulk.ordered_uuid_hexes`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from django_qstash_batch import validation
from django_qstash_batch.bulk import RowInserter, ordered_uuid_hexes
from django_qstash_batch.conf import conf
from django_qstash_batch.models import (
    MESSAGE_OPTION_FIELDS,
    Batch,
    BatchStatus,
    Message,
    MessageStatus,
    Topic,
)
from django_qstash_batch.options import message_fields, topic_name

logger = logging.getLogger(__name__)

#: Errors reported at most per call; past that, the user has a systematic problem.
MAX_REPORTED_ERRORS = 50


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
            ids = ordered_uuid_hexes(len(rows))
            message_inserter().insert(
                row.values(message_id, batch.pk, now)
                for message_id, row in zip(ids, rows, strict=True)
            )
    except IntegrityError:
        if idempotency_key:
            # Another request stored the same key between our lookup and insert.
            existing = Batch.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        raise

    logger.info("Queued batch %s with %s messages", batch.pk, len(rows))
    return batch


#: Columns written for each new message, in the order of the rows built below.
MESSAGE_COLUMNS = (
    "id",
    "batch",
    "position",
    "url",
    "topic",
    *MESSAGE_OPTION_FIELDS,
    "status",
    "error",
    "sent_at",
    "created_at",
    "updated_at",
)

#: What a message option is when the user did not give it.
OPTION_DEFAULTS: dict[str, Any] = {
    field.name: field.get_default()
    for field in Message._meta.concrete_fields
    if field.name in MESSAGE_OPTION_FIELDS
}


#: A message's option values, in the order of ``MESSAGE_OPTION_FIELDS``.
_option_values = itemgetter(*MESSAGE_OPTION_FIELDS)


def _build_messages(items: list[Mapping[str, Any]]) -> list[MessageRow]:
    """Validated message values; a ``ValidationError`` names each bad option."""
    names = {name for item in items if (name := topic_name(item))}
    topic_ids: dict[str, int] = (
        dict(Topic.objects.filter(name__in=names).values_list("name", "pk"))
        if names
        else {}
    )
    max_body_bytes = conf.MAX_MESSAGE_BYTES

    rows: list[MessageRow] = []
    errors: dict[str, list[str]] = {}
    for position, item in enumerate(items):
        fields, item_errors = message_fields(
            item, topic_ids=topic_ids, max_body_bytes=max_body_bytes
        )
        if item_errors:
            for option, text in item_errors.items():
                key = f"messages[{position}]" + (f".{option}" if option else "")
                errors[key] = [text]
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
        elif not errors:
            rows.append(MessageRow(position, fields))

    if errors:
        raise ValidationError(errors)
    return rows


class MessageRow:
    """One validated message, waiting for its batch to be written."""

    __slots__ = ("fields", "position")

    def __init__(self, position: int, fields: dict[str, Any]) -> None:
        self.position = position
        self.fields = fields

    def values(self, message_id: str, batch_id: Any, now: Any) -> tuple[Any, ...]:
        """The row's values in the order of ``MESSAGE_COLUMNS``."""
        fields = self.fields
        return (
            message_id,
            batch_id,
            self.position,
            fields.get("url", ""),
            fields.get("topic_id"),
            *_option_values({**OPTION_DEFAULTS, **fields}),
            MessageStatus.PENDING,
            "",
            None,
            now,
            now,
        )


def message_inserter() -> RowInserter:
    """An inserter of new ``Message`` rows on the default database."""
    return RowInserter(Message, MESSAGE_COLUMNS)


def _collect(
    errors: dict[str, list[str]], field: str, validate: Any, value: Any
) -> None:
    try:
        validate(value)
    except ValidationError as exc:
        errors[field] = exc.messages
