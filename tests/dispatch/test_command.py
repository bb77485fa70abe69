"""``manage.py qstash_dispatch`` for projects without Celery."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_qstash_batch.models import Batch
from django_qstash_batch.testing import QStashEmulator
from tests.dispatch.conftest import queued_batch

pytestmark = pytest.mark.django_db


def run(*arguments: str) -> str:
    out = StringIO()
    call_command("qstash_dispatch", *arguments, stdout=out)
    return out.getvalue()


def test_the_command_sends_one_batch(qstash: QStashEmulator) -> None:
    batch = queued_batch(2)
    other = queued_batch(1)

    output = run("--batch", str(batch.pk))

    assert f"Batch {batch.pk}: sent, 2 accepted, 0 failed" in output
    assert Batch.objects.get(pk=other.pk).status == "queued"


def test_the_command_sends_every_due_batch(qstash: QStashEmulator) -> None:
    batches = [queued_batch(1) for _ in range(3)]

    output = run()

    assert output.count(": sent,") == 3
    assert {b.status for b in Batch.objects.filter(pk__in=[b.pk for b in batches])} == {
        "sent"
    }


def test_the_command_reports_when_the_next_attempt_is(qstash: QStashEmulator) -> None:
    qstash.faults.fail_next(status=503)
    batch = queued_batch(1)

    output = run("--batch", str(batch.pk))

    assert f"Batch {batch.pk}: queued" in output
    assert "next attempt at" in output


def test_the_command_says_when_a_batch_is_not_due(qstash: QStashEmulator) -> None:
    batch = queued_batch(1)
    Batch.objects.filter(pk=batch.pk).update(status="sent")

    assert "not due, not queued" in run("--batch", str(batch.pk))


def test_the_command_rejects_an_unknown_batch(qstash: QStashEmulator) -> None:
    with pytest.raises(CommandError, match="No batch with id"):
        run("--batch", "00000000-0000-0000-0000-000000000000")
