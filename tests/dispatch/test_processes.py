"""Real worker processes on PostgreSQL: exclusive claims, crash recovery, Celery."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import transaction

from django_qstash_batch import dispatch, tasks
from django_qstash_batch.models import Batch
from django_qstash_batch.services import send_batch
from django_qstash_batch.testing import QStashEmulator
from example_project.celery import app as celery_app
from tests.dispatch.conftest import (
    Workers,
    sent_items,
    url_messages,
    wait_for_answers,
)

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def eager_celery() -> Iterator[None]:
    """Run tasks sent with ``delay()`` in this process, as a worker would."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


def output_of(process: subprocess.Popen[str]) -> str:
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out or ""


def test_two_workers_on_the_same_batches_publish_every_message_once(
    qstash: QStashEmulator, workers: Workers, no_kicks: None
) -> None:
    batches = [send_batch(url_messages(20), label=f"b{n}") for n in range(50)]
    qstash.faults.latency(0.005, path="/v2/batch")

    first = workers.start("qstash_dispatch", MAX_MESSAGES_PER_REQUEST=10)
    second = workers.start("qstash_dispatch", MAX_MESSAGES_PER_REQUEST=10)
    outputs = [output_of(first), output_of(second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert all("Batch " in output for output in outputs), outputs
    statuses = Counter(Batch.objects.values_list("status", flat=True))
    assert statuses == {"sent": 50}
    assert len(qstash.published) == 50 * 20
    ids = Counter(
        item["headers"]["Upstash-Deduplication-Id"] for item in sent_items(qstash)
    )
    assert len(ids) == 1000
    assert max(ids.values()) == 1
    assert sum(b.message_count for b in batches) == 1000


def test_a_worker_killed_mid_batch_is_finished_after_its_lease(
    qstash: QStashEmulator, workers: Workers, no_kicks: None
) -> None:
    batch = send_batch(url_messages(50))
    qstash.faults.latency(0.3, path="/v2/batch")
    worker = workers.start(
        "qstash_dispatch",
        "--batch",
        str(batch.pk),
        MAX_MESSAGES_PER_REQUEST=10,
        LEASE_SECONDS=2,
    )

    wait_until(
        lambda: Batch.objects.get(pk=batch.pk).accepted_count >= 10,
        timeout=20,
        what="the first chunk to be recorded",
    )
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    stranded = Batch.objects.get(pk=batch.pk)
    assert stranded.status == "sending"
    assert stranded.accepted_count < 50

    wait_until(
        lambda: batch.pk in dispatch.due_batch_ids(),
        timeout=10,
        what="the lease to expire",
    )
    qstash.faults.clear()
    with eager_celery():
        kicked = tasks.dispatch_pending()

    assert kicked == 1
    wait_for_answers(qstash)
    finished = Batch.objects.get(pk=batch.pk)
    assert (finished.status, finished.accepted_count, finished.attempts) == (
        "sent",
        50,
        2,
    )
    assert len(qstash.published) == 50
    published_ids = Counter(m.message_id for m in qstash.published)
    assert max(published_ids.values()) == 1


@pytest.mark.redis
def test_a_celery_worker_sends_committed_batches_and_nothing_rolled_back(
    qstash: QStashEmulator, workers: Workers
) -> None:
    # The host project's Celery app must be loaded for the kick to reach its broker.
    from example_project.celery import app

    assert app.conf.broker_url.startswith("redis://")
    worker = workers.start(
        "celery",
        "-A",
        "example_project",
        "worker",
        "--pool=solo",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=INFO",
    )

    try:
        with transaction.atomic():
            send_batch(url_messages(2, body="rolled back"), label="rolled back")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with transaction.atomic():
        committed = send_batch(url_messages(3, body="committed"), label="committed")

    def sent() -> bool:
        if worker.poll() is not None:
            pytest.fail(f"the Celery worker exited:\n{output_of(worker)}")
        return Batch.objects.get(pk=committed.pk).status == "sent"

    wait_until(sent, timeout=60, what="the Celery worker to send the batch")
    wait_for_answers(qstash)
    bodies = {item["body"] for item in sent_items(qstash)}
    assert bodies == {"committed"}
    assert list(Batch.objects.values_list("label", flat=True)) == ["committed"]
