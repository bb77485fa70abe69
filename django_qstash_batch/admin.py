"""The Django admin as an operations console for topics, batches and their messages.

Built to stay fast on large tables: foreign keys are raw ids or autocompletes, list
pages select their related rows in the same query and skip the full count, and a
batch shows its messages inline only while there are few of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from django_qstash_batch import services
from django_qstash_batch.exceptions import QStashBatchError
from django_qstash_batch.models import Batch, Delivery, Endpoint, Message, Topic

#: A batch with more messages than this links to the message list instead of inlining.
INLINE_MESSAGE_LIMIT = 50

OUTCOME_FIELDS = ("status", "error", "sent_at")

REQUEST_FIELDSET: Any = (
    _("Request"),
    {"fields": (("method", "content_type"), "headers"), "classes": ("collapse",)},
)
OPTIONS_FIELDSET: Any = (
    _("QStash options"),
    {
        "fields": (
            ("delay", "not_before"),
            ("retries", "retry_delay", "timeout"),
            ("callback", "failure_callback"),
            ("deduplication_id", "content_based_deduplication"),
            ("flow_control_key", "flow_control_value"),
            "label",
        ),
        "classes": ("collapse",),
    },
)


class EndpointInline(admin.TabularInline):
    model = Endpoint
    extra = 1
    fields = ("url", "name", "is_active")


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("name", "endpoint_count", "synced_at", "has_sync_error")
    search_fields = ("name", "description")
    readonly_fields = ("synced_at", "sync_error", "created_at", "updated_at")
    inlines = [EndpointInline]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Topic]:
        return (
            super().get_queryset(request).annotate(_endpoint_count=Count("endpoints"))
        )

    @admin.display(description=_("endpoints"), ordering="_endpoint_count")
    def endpoint_count(self, topic: Any) -> int:
        return int(topic._endpoint_count)

    @admin.display(description=_("sync error"), boolean=True)
    def has_sync_error(self, topic: Topic) -> bool:
        return bool(topic.sync_error)


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "name", "topic", "is_active", "updated_at")
    list_filter = ("is_active",)
    list_select_related = ("topic",)
    search_fields = ("url", "name", "topic__name")
    autocomplete_fields = ("topic",)
    show_full_result_count = False


class MessageInline(admin.StackedInline):
    model = Message
    extra = 0
    show_change_link = True
    autocomplete_fields = ("topic",)
    readonly_fields = ("position", *OUTCOME_FIELDS)
    fieldsets = (
        (None, {"fields": ("position", ("url", "topic"), "queue", "body")}),
        REQUEST_FIELDSET,
        OPTIONS_FIELDSET,
        (_("Outcome"), {"fields": OUTCOME_FIELDS}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("topic")


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "status",
        "message_count",
        "accepted_count",
        "failed_count",
        "attempts",
        "queued_at",
        "sent_at",
    )
    list_filter = ("status",)
    search_fields = ("=id", "label", "=idempotency_key")
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = (
        "status",
        "attempts",
        "message_count",
        "accepted_count",
        "failed_count",
        "queued_at",
        "sent_at",
        "next_attempt_at",
        "lease_expires_at",
        "last_error",
        "messages_link",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("label", "idempotency_key", "status", "messages_link")}),
        (
            _("Progress"),
            {
                "fields": (
                    ("message_count", "accepted_count", "failed_count"),
                    ("attempts", "next_attempt_at", "lease_expires_at"),
                    ("queued_at", "sent_at"),
                    "last_error",
                )
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    actions = [
        "queue_batches",
        "retry_failed_messages",
        "cancel_batches",
        "duplicate_batches",
    ]

    @admin.action(description=_("Queue selected draft batches"))
    def queue_batches(self, request: HttpRequest, queryset: QuerySet[Batch]) -> None:
        queued = self._apply_each(request, queryset, services.queue)
        self._report(
            request,
            len(queued),
            ngettext_lazy(
                "%(count)d batch queued; it is sent within seconds.",
                "%(count)d batches queued; they are sent within seconds.",
                "count",
            ),
        )

    @admin.action(description=_("Retry the failed messages of selected batches"))
    def retry_failed_messages(
        self, request: HttpRequest, queryset: QuerySet[Batch]
    ) -> None:
        retried = self._apply_each(request, queryset, services.retry_failed)
        self._report(
            request,
            sum(retried),
            ngettext_lazy(
                "%(count)d failed message queued again.",
                "%(count)d failed messages queued again.",
                "count",
            ),
        )

    @admin.action(description=_("Cancel selected batches"))
    def cancel_batches(self, request: HttpRequest, queryset: QuerySet[Batch]) -> None:
        results = self._apply_each(request, queryset, services.cancel)
        self._report(
            request,
            sum(result.cancelled for result in results),
            ngettext_lazy(
                "%(count)d message cancelled.", "%(count)d messages cancelled.", "count"
            ),
        )

    @admin.action(description=_("Duplicate selected batches as drafts"))
    def duplicate_batches(
        self, request: HttpRequest, queryset: QuerySet[Batch]
    ) -> None:
        copies = self._apply_each(request, queryset, services.duplicate)
        self._report(
            request,
            len(copies),
            ngettext_lazy(
                "%(count)d draft copy created.",
                "%(count)d draft copies created.",
                "count",
            ),
        )

    def _apply_each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Batch],
        operation: Callable[[Batch], Any],
    ) -> list[Any]:
        """Run ``operation`` on each batch; report each refusal by the batch's name."""
        results = []
        for batch in queryset:
            try:
                results.append(operation(batch))
            except (ValidationError, QStashBatchError) as error:
                reason = " ".join(getattr(error, "messages", None) or [str(error)])
                self.message_user(request, f"{batch}: {reason}", messages.WARNING)
        return results

    def _report(self, request: HttpRequest, count: int, text: Any) -> None:
        """Say what an action did, with the plural form ``count`` calls for."""
        if count:
            self.message_user(request, text % {"count": count}, messages.SUCCESS)

    def get_inlines(self, request: HttpRequest, obj: Batch | None) -> list[Any]:
        if obj is not None and obj.message_count > INLINE_MESSAGE_LIMIT:
            return []
        return [MessageInline]

    @admin.display(description=_("messages"))
    def messages_link(self, batch: Batch) -> str:
        if batch.pk is None:
            return "-"
        url = reverse("admin:qstash_batch_message_changelist")
        return format_html(
            '<a href="{}?batch__id__exact={}">{}</a>',
            url,
            batch.pk,
            _("All %(count)s messages of this batch") % {"count": batch.message_count},
        )

    def save_formset(
        self, request: HttpRequest, form: Any, formset: Any, change: bool
    ) -> None:
        """Number new inline messages after the batch's existing ones."""
        if formset.model is not Message:
            super().save_formset(request, form, formset, change)
            return

        messages = formset.save(commit=False)
        batch = form.instance
        last = batch.messages.order_by("-position").values_list("position", flat=True)
        next_position = (last.first() + 1) if last.exists() else 0
        for message in messages:
            if message.pk is None or message._state.adding:
                message.position = next_position
                next_position += 1
            message.save()
        for message in formset.deleted_objects:
            message.delete()
        formset.save_m2m()

    def save_related(
        self, request: HttpRequest, form: Any, formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        batch = form.instance
        count = batch.messages.count()
        if count != batch.message_count:
            Batch.objects.filter(pk=batch.pk).update(message_count=count)
            batch.message_count = count


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = (
        "qstash_message_id",
        "url",
        "endpoint_name",
        "deduplicated",
        "state",
        "response_status",
        "retried",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("__str__", "destination_display", "queue", "status", "sent_at")
    list_filter = ("status", "method")
    list_select_related = ("topic",)
    search_fields = ("=id", "=batch__id", "url", "topic__name", "deduplication_id")
    raw_id_fields = ("batch",)
    autocomplete_fields = ("topic",)
    readonly_fields = (*OUTCOME_FIELDS, "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("batch", "position", ("url", "topic"), "queue", "body")}),
        REQUEST_FIELDSET,
        OPTIONS_FIELDSET,
        (_("Outcome"), {"fields": (*OUTCOME_FIELDS, "created_at", "updated_at")}),
    )
    inlines = [DeliveryInline]
    show_full_result_count = False

    @admin.display(description=_("destination"))
    def destination_display(self, message: Message) -> str:
        return message.destination


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "qstash_message_id",
        "url",
        "endpoint_name",
        "state",
        "response_status",
        "retried",
        "deduplicated",
        "last_event_at",
    )
    list_filter = ("state", "deduplicated")
    search_fields = ("=qstash_message_id", "url", "endpoint_name", "=message__id")
    raw_id_fields = ("message",)
    show_full_result_count = False
