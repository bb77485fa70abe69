"""The on-commit kick, the Celery tasks and the periodic recovery."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from django_qstash_batch import dispatch, services, tasks
from django_qstash_batch.models import Batch, BatchStatus
from django_qstash_batch.services import send_batch
from django_qstash_batch.testing import QStashEmulator
from tests.dispatch.conftest import expire_lease, queued_batch, url_messages

pytestmark = pytest.mark.django_db


def test_queuing_a_batch_schedules_its_dispatch_after_the_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with (
        mock.patch.object(tasks.dispatch_batch, "delay") as delay,
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        batch = send_batch(url_messages(1))
        assert delay.call_count == 0

    assert len(callbacks) == 1
    with mock.patch.object(tasks.dispatch_batch, "delay") as delay:
        callbacks[0]()
    delay.assert_called_once_with(str(batch.pk))


def test_a_rolled_back_batch_schedules_nothing(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        try:
            with transaction.atomic():
                send_batch(url_messages(1))
                raise RuntimeError("roll back")
        except RuntimeError:
            pass

    assert callbacks == []
    assert not Batch.objects.exists()


def test_saving_a_batch_that_was_already_queued_schedules_nothing(
    django_capture_on_commit_callbacks: Any,
) -> None:
    batch = queued_batch(1)
    batch = Batch.objects.get(pk=batch.pk)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batch.label = "renamed"
        batch.save()

    assert callbacks == []


def test_a_draft_batch_schedules_nothing(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Batch.objects.create(label="draft")

    assert callbacks == []


def test_the_kick_sends_the_batch_through_the_task(
    qstash: QStashEmulator,
    celery_eager: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        batch = send_batch(url_messages(2))

    batch.refresh_from_db()
    assert (batch.status, batch.accepted_count) == ("sent", 2)
    assert len(qstash.published) == 2


def test_a_broker_failure_in_the_kick_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with (
        mock.patch.object(
            tasks.dispatch_batch, "delay", side_effect=ConnectionError("broker down")
        ),
        caplog.at_level(logging.ERROR, logger="django_qstash_batch.receivers"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        batch = send_batch(url_messages(1))

    assert f"Could not send the dispatch task for batch {batch.pk}" in caplog.text
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.QUEUED


def test_the_task_schedules_the_next_attempt_after_a_retryable_error(
    qstash: QStashEmulator,
) -> None:
    qstash.faults.fail_next(status=503)
    batch = queued_batch(1)

    with mock.patch.object(tasks.dispatch_batch, "apply_async") as apply_async:
        status = tasks.dispatch_batch(str(batch.pk))

    assert status == "queued"
    apply_async.assert_called_once()
    assert apply_async.call_args.args == ((str(batch.pk),),)
    assert 0 < apply_async.call_args.kwargs["countdown"] <= 2


def test_the_task_leaves_a_distant_retry_to_dispatch_pending(
    qstash: QStashEmulator,
) -> None:
    qstash.faults.rate_limit_daily(reset_at=timezone.now().timestamp() + 3600)
    batch = queued_batch(1)

    with mock.patch.object(tasks.dispatch_batch, "apply_async") as apply_async:
        tasks.dispatch_batch(str(batch.pk))

    apply_async.assert_not_called()


def test_dispatch_pending_rekicks_lost_kicks_and_expired_leases(
    qstash: QStashEmulator, celery_eager: Any
) -> None:
    lost = queued_batch(1)
    Batch.objects.filter(pk=lost.pk).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )
    abandoned = queued_batch(1)
    dispatch.claim(abandoned.pk)
    expire_lease(abandoned)
    fresh = queued_batch(1)

    kicked = tasks.dispatch_pending()

    assert kicked == 2
    statuses = dict(Batch.objects.values_list("pk", "status"))
    assert statuses == {lost.pk: "sent", abandoned.pk: "sent", fresh.pk: "queued"}


def test_the_example_project_runs_dispatch_pending_with_beat(settings: Any) -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE

    assert any(
        entry["task"] == "django_qstash_batch.dispatch_pending"
        for entry in schedule.values()
    )


def test_queue_moves_a_draft_to_queued_and_kicks_it(
    django_capture_on_commit_callbacks: Any,
) -> None:
    batch = services.duplicate(queued_batch(2))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.queue(batch)

    batch.refresh_from_db()
    assert (batch.status, batch.message_count) == ("queued", 2)
    assert batch.queued_at is not None
    assert len(callbacks) == 1
