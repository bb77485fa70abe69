"""Topics (QStash URL groups), their endpoints, and outgoing batches of messages.

A :class:`Batch` holds :class:`Message` rows, each of which becomes one QStash message
for a URL, or one per endpoint for a topic; every QStash message created is recorded as
a :class:`Delivery`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, cast

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from django_qstash_batch import validation
from django_qstash_batch.choices import (
    BatchStatus,
    DeliveryState,
    HTTPMethod,
    MessageStatus,
)
from django_qstash_batch.compat import check_constraint


def field_validators(*functions: Callable[[Any], Any]) -> list[Callable[[Any], None]]:
    """The shared validators, typed as Django expects (their results are ignored)."""
    return cast("list[Callable[[Any], None]]", list(functions))


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class Topic(TimestampedModel):
    """A QStash URL group: one message to it fans out to each of its endpoints."""

    name = models.CharField(
        _("name"),
        max_length=validation.NAME_MAX_LENGTH,
        unique=True,
        validators=field_validators(validation.validate_name),
        help_text=_("The URL group's name in QStash: letters, digits, '-', '_', '.'."),
    )
    description = models.TextField(_("description"), blank=True)
    synced_at = models.DateTimeField(
        _("synced at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When the endpoints were last pushed to QStash."),
    )
    sync_error = models.TextField(_("sync error"), blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")

    def __str__(self) -> str:
        return self.name


class Endpoint(TimestampedModel):
    """A URL that receives every message published to its topic."""

    topic = models.ForeignKey(
        Topic,
        on_delete=models.CASCADE,
        related_name="endpoints",
        verbose_name=_("topic"),
    )
    url = models.CharField(
        _("URL"),
        max_length=2000,
        validators=field_validators(validation.validate_http_url),
    )
    name = models.CharField(
        _("name"),
        max_length=validation.NAME_MAX_LENGTH,
        blank=True,
        validators=field_validators(validation.validate_name),
        help_text=_("Optional; unique within the topic."),
    )
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Inactive endpoints are removed from the URL group in QStash."),
    )

    class Meta:
        ordering = ["topic", "url"]
        verbose_name = _("endpoint")
        verbose_name_plural = _("endpoints")
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "url"], name="qstash_batch_endpoint_unique_url"
            ),
            models.UniqueConstraint(
                fields=["topic", "name"],
                condition=~Q(name=""),
                name="qstash_batch_endpoint_unique_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.url


class Batch(TimestampedModel):
    """A group of messages sent to QStash together, in ``POST /v2/batch`` requests."""

    Status = BatchStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    label = models.CharField(_("label"), max_length=255, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=BatchStatus.choices,
        default=BatchStatus.DRAFT,
    )
    idempotency_key = models.CharField(
        _("idempotency key"),
        max_length=255,
        null=True,
        blank=True,
        unique=True,
        help_text=_("Queuing again with the same key returns the existing batch."),
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0, editable=False)
    next_attempt_at = models.DateTimeField(
        _("next attempt at"), null=True, blank=True, editable=False
    )
    lease_expires_at = models.DateTimeField(
        _("lease expires at"), null=True, blank=True, editable=False
    )
    queued_at = models.DateTimeField(
        _("queued at"), null=True, blank=True, editable=False
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    message_count = models.PositiveIntegerField(
        _("messages"), default=0, editable=False
    )
    accepted_count = models.PositiveIntegerField(
        _("accepted"), default=0, editable=False
    )
    failed_count = models.PositiveIntegerField(_("failed"), default=0, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"],
                name="qstash_batch_due_idx",
            ),
            models.Index(
                fields=["status", "lease_expires_at"],
                name="qstash_batch_lease_idx",
            ),
            models.Index(fields=["-created_at"], name="qstash_batch_created_idx"),
        ]

    def __str__(self) -> str:
        return self.label or str(self.id)


#: The fields of a :class:`Message` that describe what QStash is asked to do, in the
#: order the app reads, writes and copies them.
MESSAGE_OPTION_FIELDS = (
    "queue",
    "body",
    "content_type",
    "method",
    "headers",
    "delay",
    "not_before",
    "retries",
    "retry_delay",
    "timeout",
    "callback",
    "failure_callback",
    "deduplication_id",
    "content_based_deduplication",
    "flow_control_key",
    "flow_control_value",
    "label",
)


class Message(TimestampedModel):
    """One item of a batch: a body and QStash options for one URL or one topic.

    Option names follow the official ``qstash`` Python SDK. Durations are stored in
    seconds; ``not_before`` as a datetime.
    """

    Status = MessageStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Not indexed on its own: the unique (batch, position) index serves every
    # lookup by batch, and one index fewer is one write fewer per message.
    batch = models.ForeignKey(
        Batch,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("batch"),
        db_index=False,
    )
    position = models.PositiveIntegerField(_("position"))

    url = models.CharField(
        _("URL"),
        max_length=2000,
        blank=True,
        validators=field_validators(validation.validate_http_url),
        help_text=_("Send to this URL, or leave empty and choose a topic."),
    )
    topic = models.ForeignKey(
        Topic,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("topic"),
        db_index=False,
        help_text=_("Send to every endpoint of this topic instead of one URL."),
    )
    queue = models.CharField(
        _("queue"),
        max_length=validation.NAME_MAX_LENGTH,
        blank=True,
        validators=field_validators(validation.validate_name),
        help_text=_("Enqueue on this QStash queue instead of publishing."),
    )

    body = models.TextField(_("body"), blank=True)
    content_type = models.CharField(
        _("content type"),
        max_length=255,
        blank=True,
        validators=field_validators(validation.validate_content_type),
    )
    method = models.CharField(
        _("method"), max_length=8, choices=HTTPMethod.choices, default=HTTPMethod.POST
    )
    headers = models.JSONField(
        _("headers"),
        default=dict,
        blank=True,
        validators=field_validators(validation.validate_headers),
        help_text=_("Headers forwarded to the destination, as a JSON object."),
    )

    delay = models.PositiveIntegerField(
        _("delay (seconds)"),
        null=True,
        blank=True,
        validators=field_validators(validation.validate_delay),
    )
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    retries = models.PositiveIntegerField(
        _("retries"),
        null=True,
        blank=True,
        validators=field_validators(validation.validate_retries),
        help_text=_("Empty: QStash's default (3)."),
    )
    retry_delay = models.CharField(
        _("retry delay"),
        max_length=255,
        blank=True,
        validators=field_validators(validation.validate_retry_delay),
        help_text=_("Milliseconds, or an expression such as 'pow(2, retried) * 1000'."),
    )
    timeout = models.PositiveIntegerField(
        _("timeout (seconds)"),
        null=True,
        blank=True,
        validators=field_validators(validation.validate_timeout),
    )
    callback = models.CharField(
        _("callback URL"),
        max_length=2000,
        blank=True,
        validators=field_validators(validation.validate_http_url),
    )
    failure_callback = models.CharField(
        _("failure callback URL"),
        max_length=2000,
        blank=True,
        validators=field_validators(validation.validate_http_url),
    )
    deduplication_id = models.CharField(
        _("deduplication id"),
        max_length=255,
        blank=True,
        validators=field_validators(validation.validate_single_line),
        help_text=_(
            "Empty: the message's own id, so a resend is never published twice."
        ),
    )
    content_based_deduplication = models.BooleanField(
        _("content-based deduplication"), default=False
    )
    flow_control_key = models.CharField(
        _("flow-control key"),
        max_length=255,
        blank=True,
        validators=field_validators(validation.validate_single_line),
    )
    flow_control_value = models.CharField(
        _("flow-control value"),
        max_length=255,
        blank=True,
        validators=field_validators(validation.validate_flow_control_value),
        help_text=_("For example 'parallelism=2, rate=10, period=60s'."),
    )
    label = models.CharField(
        _("label"),
        max_length=255,
        blank=True,
        validators=field_validators(validation.validate_single_line),
    )

    status = models.CharField(
        _("status"),
        max_length=16,
        choices=MessageStatus.choices,
        default=MessageStatus.PENDING,
        editable=False,
    )
    error = models.TextField(_("error"), blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["batch", "position"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            check_constraint(
                (Q(url="") & Q(topic__isnull=False))
                | (~Q(url="") & Q(topic__isnull=True)),
                name="qstash_batch_message_one_destination",
            ),
            models.UniqueConstraint(
                fields=["batch", "position"], name="qstash_batch_message_position"
            ),
        ]
        indexes = [
            # The dispatcher's scan. Partial, so a message leaves it when it is
            # sent, and marking a chunk accepted writes no entry to it.
            models.Index(
                fields=["batch", "position"],
                condition=Q(status=MessageStatus.PENDING),
                name="qstash_batch_message_pending",
            ),
            # Protecting a topic from deletion looks its messages up; most
            # messages go to a URL and need no entry.
            models.Index(
                fields=["topic"],
                condition=Q(topic__isnull=False),
                name="qstash_batch_message_topic",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} #{self.position}"

    @property
    def destination(self) -> str:
        """The URL, or the topic's name: what QStash calls the destination."""
        if self.url:
            return self.url
        return self.topic.name if self.topic is not None else ""

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if bool(self.url) == (self.topic_id is not None):
            raise ValidationError(
                {"url": _("Give exactly one destination: a URL or a topic.")}
            )
        if self.deduplication_id and self.content_based_deduplication:
            raise ValidationError(
                {
                    "content_based_deduplication": _(
                        "Use a deduplication id or content-based deduplication, "
                        "not both."
                    )
                }
            )
        if bool(self.flow_control_key) != bool(self.flow_control_value):
            raise ValidationError(
                {
                    "flow_control_value": _(
                        "Set the flow-control key and value together."
                    )
                }
            )


class Delivery(TimestampedModel):
    """One QStash message created for a :class:`Message`.

    A URL destination yields one delivery; a topic yields one per endpoint. The state
    fields are filled from QStash callbacks.
    """

    State = DeliveryState

    message = models.ForeignKey(
        Message,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("message"),
    )
    qstash_message_id = models.CharField(_("QStash message id"), max_length=255)
    url = models.CharField(_("URL"), max_length=2000, blank=True)
    endpoint_name = models.CharField(_("endpoint name"), max_length=255, blank=True)
    deduplicated = models.BooleanField(
        _("deduplicated"),
        default=False,
        help_text=_("QStash saw this message before and did not publish it again."),
    )
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=DeliveryState.choices,
        default=DeliveryState.CREATED,
    )
    response_status = models.PositiveSmallIntegerField(
        _("response status"), null=True, blank=True
    )
    retried = models.PositiveIntegerField(_("retried"), default=0)
    dlq_id = models.CharField(_("DLQ id"), max_length=255, blank=True)
    last_event_at = models.DateTimeField(_("last event at"), null=True, blank=True)

    class Meta:
        ordering = ["message", "url"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            # A constraint rather than unique=True: on PostgreSQL that would also
            # build a pattern-matching index, which no lookup here uses.
            models.UniqueConstraint(
                fields=["qstash_message_id"], name="qstash_batch_delivery_unique_id"
            ),
        ]
        indexes = [
            # The deliveries someone looks for: those in trouble. Created and
            # delivered ones, nearly all of them, cost no entry.
            models.Index(
                fields=["state", "-created_at"],
                condition=Q(state__in=[DeliveryState.RETRYING, DeliveryState.FAILED]),
                name="qstash_batch_delivery_trouble",
            ),
        ]

    def __str__(self) -> str:
        return self.qstash_message_id


__all__ = [
    "MESSAGE_OPTION_FIELDS",
    "Batch",
    "BatchStatus",
    "Delivery",
    "DeliveryState",
    "Endpoint",
    "Message",
    "MessageStatus",
    "Topic",
]
