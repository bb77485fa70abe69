"""The admin: every page renders, forms validate, and lists stay cheap."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_qstash_batch.admin import INLINE_MESSAGE_LIMIT
from django_qstash_batch.models import Batch, Delivery, Endpoint, Message, Topic
from django_qstash_batch.services import send_batch

pytestmark = pytest.mark.django_db

URL = "https://example.com/hooks/a"
MODELS = ["topic", "endpoint", "batch", "message", "delivery"]


@pytest.fixture
def staff(client: Client, admin_user: User) -> Client:
    client.force_login(admin_user)
    return client


@pytest.fixture
def sample() -> Batch:
    topic = Topic.objects.create(name="billing")
    Endpoint.objects.create(topic=topic, url=URL, name="a")
    batch = send_batch([{"url": URL, "body": "x"}, {"topic": "billing"}])
    Delivery.objects.create(
        message=batch.messages.get(position=0), qstash_message_id="msg_1", url=URL
    )
    return batch


@pytest.mark.parametrize("model", MODELS)
def test_changelist_and_add_pages_render(
    staff: Client, sample: Batch, model: str
) -> None:
    for view in ("changelist", "add"):
        response = staff.get(reverse(f"admin:qstash_batch_{model}_{view}"))

        assert response.status_code == 200, (model, view)


@pytest.mark.parametrize("model", MODELS)
def test_change_pages_render(staff: Client, sample: Batch, model: str) -> None:
    objects = {
        "topic": Topic.objects.get(),
        "endpoint": Endpoint.objects.get(),
        "batch": sample,
        "message": sample.messages.first(),
        "delivery": Delivery.objects.get(),
    }
    url = reverse(f"admin:qstash_batch_{model}_change", args=[objects[model].pk])

    assert staff.get(url).status_code == 200


def test_changelist_queries_do_not_grow_with_rows(staff: Client) -> None:
    topic = Topic.objects.create(name="billing")
    send_batch([{"topic": "billing"}] * 5)
    url = reverse("admin:qstash_batch_message_changelist")
    with CaptureQueriesContext(connection) as few:
        staff.get(url)

    send_batch([{"topic": topic}] * 40)
    with CaptureQueriesContext(connection) as many:
        staff.get(url)

    assert len(many) == len(few)


def test_a_topic_is_created_with_its_endpoints_inline(staff: Client) -> None:
    response = staff.post(
        reverse("admin:qstash_batch_topic_add"),
        {
            "name": "orders",
            "description": "",
            "endpoints-TOTAL_FORMS": "2",
            "endpoints-INITIAL_FORMS": "0",
            "endpoints-0-url": "https://a.example/hook",
            "endpoints-0-name": "a",
            "endpoints-0-is_active": "on",
            "endpoints-1-url": "https://b.example/hook",
            "endpoints-1-name": "",
            "endpoints-1-is_active": "on",
        },
    )

    assert response.status_code == 302
    topic = Topic.objects.get(name="orders")
    assert sorted(topic.endpoints.values_list("url", flat=True)) == [
        "https://a.example/hook",
        "https://b.example/hook",
    ]


def test_a_bad_topic_name_is_shown_on_the_form(staff: Client) -> None:
    response = staff.post(
        reverse("admin:qstash_batch_topic_add"),
        {
            "name": "no spaces",
            "endpoints-TOTAL_FORMS": "0",
            "endpoints-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "letters, digits" in response.content.decode()
    assert not Topic.objects.exists()


def test_a_large_batch_links_to_its_messages_instead_of_inlining_them(
    staff: Client,
) -> None:
    batch = send_batch([{"url": URL}] * (INLINE_MESSAGE_LIMIT + 1))

    page = staff.get(reverse("admin:qstash_batch_batch_change", args=[batch.pk]))

    content = page.content.decode()
    assert "messages-TOTAL_FORMS" not in content
    assert f"?batch__id__exact={batch.pk}" in content


def test_messages_added_inline_are_numbered_and_counted(staff: Client) -> None:
    response = staff.post(
        reverse("admin:qstash_batch_batch_add"),
        {
            "label": "by hand",
            "idempotency_key": "",
            "messages-TOTAL_FORMS": "2",
            "messages-INITIAL_FORMS": "0",
            **_inline_message("messages-0", url=URL, body="one"),
            **_inline_message("messages-1", url=URL, body="two"),
        },
    )

    assert response.status_code == 302
    batch = Batch.objects.get(label="by hand")
    assert batch.status == Batch.Status.DRAFT
    assert batch.message_count == 2
    assert list(batch.messages.values_list("position", "body")) == [
        (0, "one"),
        (1, "two"),
    ]


def test_an_inline_message_with_two_destinations_is_refused(staff: Client) -> None:
    topic = Topic.objects.create(name="billing")
    response = staff.post(
        reverse("admin:qstash_batch_batch_add"),
        {
            "label": "by hand",
            "idempotency_key": "",
            "messages-TOTAL_FORMS": "1",
            "messages-INITIAL_FORMS": "0",
            **_inline_message("messages-0", url=URL, topic=str(topic.pk)),
        },
    )

    assert response.status_code == 200
    assert "exactly one destination" in response.content.decode()
    assert not Batch.objects.exists()
    assert not Message.objects.exists()


def _inline_message(prefix: str, **values: str) -> dict[str, str]:
    fields = {
        "url": "",
        "topic": "",
        "queue": "",
        "body": "",
        "method": "POST",
        "content_type": "",
        "headers": "{}",
        "delay": "",
        "not_before_0": "",
        "not_before_1": "",
        "retries": "",
        "retry_delay": "",
        "timeout": "",
        "callback": "",
        "failure_callback": "",
        "deduplication_id": "",
        "flow_control_key": "",
        "flow_control_value": "",
        "label": "",
    }
    fields.update(values)
    return {f"{prefix}-{name}": value for name, value in fields.items()}


def _run_action(staff: Client, action: str, *batches: Batch) -> str:
    response = staff.post(
        reverse("admin:qstash_batch_batch_changelist"),
        {"action": action, "_selected_action": [str(batch.pk) for batch in batches]},
        follow=True,
    )
    assert response.status_code == 200
    return " ".join(str(message) for message in response.context["messages"])


def test_the_queue_action_queues_drafts_and_names_the_refused(staff: Client) -> None:
    draft = Batch.objects.create(label="draft")
    Message.objects.create(batch=draft, position=0, url=URL)
    already_queued = send_batch([{"url": URL}], label="busy")

    text = _run_action(staff, "queue_batches", draft, already_queued)

    draft.refresh_from_db()
    assert draft.status == Batch.Status.QUEUED
    assert "1 batch queued" in text
    assert "busy: Only a draft batch can be queued" in text


def test_the_cancel_action_cancels_unsent_messages(staff: Client) -> None:
    batch = send_batch([{"url": URL}, {"url": URL}])

    text = _run_action(staff, "cancel_batches", batch)

    batch.refresh_from_db()
    assert batch.status == Batch.Status.CANCELLED
    assert set(batch.messages.values_list("status", flat=True)) == {"cancelled"}
    assert "2 messages cancelled" in text


def test_the_duplicate_action_makes_a_draft_copy(staff: Client) -> None:
    batch = send_batch([{"url": URL, "body": "x"}], label="original")

    text = _run_action(staff, "duplicate_batches", batch)

    copy = Batch.objects.exclude(pk=batch.pk).get()
    assert copy.status == Batch.Status.DRAFT
    assert list(copy.messages.values_list("body", flat=True)) == ["x"]
    assert "1 draft copy created" in text


def test_the_retry_action_requeues_only_failed_messages(staff: Client) -> None:
    batch = send_batch([{"url": URL}, {"url": URL}])
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.PARTIAL)
    batch.messages.filter(position=0).update(status=Message.Status.ACCEPTED)
    batch.messages.filter(position=1).update(status=Message.Status.FAILED, error="x")

    text = _run_action(staff, "retry_failed_messages", batch)

    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUEUED
    assert dict(batch.messages.values_list("position", "status")) == {
        0: "accepted",
        1: "pending",
    }
    assert "1 failed message queued again" in text
