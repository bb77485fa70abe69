"""Rules the database itself enforces, and model-level validation for forms."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from django_qstash_batch.models import Batch, Endpoint, Message, Topic

pytestmark = pytest.mark.django_db

URL = "https://example.com/hooks/a"


@pytest.fixture
def batch() -> Batch:
    return Batch.objects.create(label="manual")


@pytest.fixture
def topic() -> Topic:
    return Topic.objects.create(name="billing")


def test_a_message_with_a_url_and_a_topic_is_refused_by_the_database(
    batch: Batch, topic: Topic
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(batch=batch, position=0, url=URL, topic=topic)


def test_a_message_without_a_destination_is_refused_by_the_database(
    batch: Batch,
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(batch=batch, position=0)


def test_two_messages_cannot_share_a_position(batch: Batch) -> None:
    Message.objects.create(batch=batch, position=0, url=URL)

    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(batch=batch, position=0, url=URL)


def test_full_clean_names_the_destination_field(batch: Batch) -> None:
    message = Message(batch=batch, position=0)

    with pytest.raises(ValidationError) as error:
        message.full_clean()

    assert "exactly one destination" in error.value.message_dict["url"][0]


def test_full_clean_checks_headers_with_the_shared_rules(batch: Batch) -> None:
    message = Message(batch=batch, position=0, url=URL, headers={"Bad Name": "x"})

    with pytest.raises(ValidationError) as error:
        message.full_clean()

    assert "not a valid header name" in error.value.message_dict["headers"][0]


def test_full_clean_wants_flow_control_key_and_value_together(batch: Batch) -> None:
    message = Message(batch=batch, position=0, url=URL, flow_control_key="tenant")

    with pytest.raises(ValidationError) as error:
        message.full_clean()

    assert "together" in error.value.message_dict["flow_control_value"][0]


def test_topic_names_are_checked(topic: Topic) -> None:
    with pytest.raises(ValidationError) as error:
        Topic(name="billing hooks").full_clean()

    assert "letters, digits" in error.value.message_dict["name"][0]


def test_endpoint_names_are_unique_within_a_topic_only(topic: Topic) -> None:
    other = Topic.objects.create(name="other")
    Endpoint.objects.create(topic=topic, url=URL, name="primary")
    Endpoint.objects.create(topic=other, url=URL, name="primary")
    Endpoint.objects.create(topic=topic, url=URL + "/2")
    Endpoint.objects.create(topic=topic, url=URL + "/3")

    with pytest.raises(IntegrityError), transaction.atomic():
        Endpoint.objects.create(topic=topic, url=URL + "/4", name="primary")


def test_a_message_names_its_destination(batch: Batch, topic: Topic) -> None:
    by_url = Message(batch=batch, position=0, url=URL)
    by_topic = Message(batch=batch, position=1, topic=topic)

    assert (by_url.destination, by_topic.destination) == (URL, "billing")
