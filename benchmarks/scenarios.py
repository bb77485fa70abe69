"""What each scenario does, run inside a fresh Django process (see ``isolated``).

Every function takes plain arguments and returns a plain dict, so it can cross a
process boundary. Timed sections cover only the sending: building the input, the
database's setup and the checks of the outcome are outside them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from benchmarks import workload
from benchmarks.measure import Stopwatch, database_version, peak_rss_mb, rss_mb


def _tables() -> list[str]:
    from django_qstash_batch.models import Batch, Delivery, Message

    return [model._meta.db_table for model in (Delivery, Message, Batch)]


def prepare() -> dict[str, Any]:
    """Migrate, empty the app's tables and create the benchmark's topic."""
    from django.core.management import call_command

    from django_qstash_batch.models import Endpoint, Topic

    call_command("migrate", verbosity=0, interactive=False)
    clean()
    topic, _ = Topic.objects.get_or_create(name=workload.TOPIC)
    for url in workload.TOPIC_ENDPOINTS:
        Endpoint.objects.get_or_create(topic=topic, url=url)
    return {"database": database_version()}


def clean() -> None:
    """Remove every batch, message and delivery (between scenario runs)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(_tables())}")
        else:
            for table in _tables():
                cursor.execute(f"DELETE FROM {table}")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def enqueue(count: int, per_batch: int) -> dict[str, Any]:
    """Queue ``count`` messages with ``send_batch``, ``per_batch`` at a time.

    Timed: the ``send_batch`` calls (validation, inserts, commits), not the building
    of the message dicts.
    """
    from django_qstash_batch.services import send_batch

    clean()
    batch_ids: list[str] = []
    seconds = 0.0
    for start in range(0, count, per_batch):
        messages = list(workload.app_messages(start, min(start + per_batch, count)))
        watch = Stopwatch()
        with watch.timing():
            batch = send_batch(messages, label="benchmark")
        seconds += watch.wall
        batch_ids.append(str(batch.pk))
    return {"batch_ids": batch_ids, "seconds": seconds, "messages": count}


def _check_outcome(count: int) -> None:
    from django_qstash_batch.models import Delivery, Message, MessageStatus

    accepted = Message.objects.filter(status=MessageStatus.ACCEPTED).count()
    deliveries = Delivery.objects.count()
    if accepted != count or deliveries != workload.expected_deliveries(count):
        raise RuntimeError(
            f"app: {accepted} of {count} messages accepted, {deliveries} deliveries"
        )


def _client(url: str) -> Any:
    from django_qstash_batch.client import QStashClient
    from django_qstash_batch.testing import DEV_TOKEN

    return QStashClient(url=url, token=DEV_TOKEN)


def app(url: str, batch_ids: list[str], count: int) -> dict[str, Any]:
    """Dispatch queued batches with the dispatch engine, in this process."""
    from django_qstash_batch.dispatch import dispatch_batch

    start_rss = rss_mb()
    watch = Stopwatch()
    with _client(url) as client, watch.timing():
        for batch_id in batch_ids:
            result = dispatch_batch(batch_id, client=client)
            if result.status != "sent":
                raise RuntimeError(f"app: batch {batch_id} ended {result.status}")
    _check_outcome(count)
    return _result(watch, count, start_rss)


def floor(url: str, count: int, tag: str) -> dict[str, Any]:
    """POST pre-built ``/v2/batch`` bodies on one session: the HTTP work alone."""
    from django_qstash_batch.testing import DEV_TOKEN

    bodies = workload.floor_bodies(count, tag)
    start_rss = rss_mb()
    watch = Stopwatch()
    with requests.Session() as session, watch.timing():
        session.trust_env = False
        session.headers["Authorization"] = f"Bearer {DEV_TOKEN}"
        session.headers["Content-Type"] = "application/json"
        answered = 0
        for body in bodies:
            response = session.post(f"{url}/v2/batch", data=body, timeout=30)
            response.raise_for_status()
            answered += len(json.loads(response.content))
    if answered != count:
        raise RuntimeError(f"floor: {answered} answers for {count} messages")
    return _result(watch, count, start_rss)


def _sdk(url: str) -> Any:
    from qstash import QStash

    from django_qstash_batch.testing import DEV_TOKEN

    return QStash(DEV_TOKEN, base_url=url, retry=False)


def naive(url: str, sample: int, tag: str) -> dict[str, Any]:
    """The official SDK's ``publish_json``, once per message."""
    client = _sdk(url)
    options = [workload.sdk_options(index, tag) for index in range(sample)]
    start_rss = rss_mb()
    watch = Stopwatch()
    with watch.timing():
        for one in options:
            client.message.publish_json(**one)
    return _result(watch, sample, start_rss)


def sdk_batch(url: str, count: int, tag: str) -> dict[str, Any]:
    """The official SDK's ``batch_json`` with the app's chunk size, no database."""
    client = _sdk(url)
    options = [workload.sdk_options(index, tag) for index in range(count)]
    start_rss = rss_mb()
    watch = Stopwatch()
    answered = 0
    with watch.timing():
        for start in range(0, count, workload.CHUNK):
            answered += len(
                client.message.batch_json(options[start : start + workload.CHUNK])
            )
    if answered != count:
        raise RuntimeError(f"sdk_batch: {answered} answers for {count} messages")
    return _result(watch, count, start_rss)


def _result(watch: Stopwatch, count: int, start_rss: float | None) -> dict[str, Any]:
    return {
        "messages": count,
        "seconds": round(watch.wall, 4),
        "cpu_seconds": round(watch.cpu, 4),
        "msgs_per_s": round(count / watch.wall, 1),
        "us_per_msg": round(watch.wall / count * 1e6, 2),
        "start_rss_mb": start_rss,
        "peak_rss_mb": peak_rss_mb(),
    }


def queries_per_chunk(url: str, sizes: list[int]) -> dict[str, Any]:
    """Queries one more chunk costs, for each chunk size.

    A batch of one chunk and a batch of three are dispatched; half the difference
    in queries is what each extra chunk adds (reading its page, recording it).
    """
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_qstash_batch.dispatch import dispatch_batch
    from django_qstash_batch.services import send_batch

    result: dict[str, Any] = {}
    base = dict(getattr(settings, "QSTASH_BATCH", {}))
    with _client(url) as client:
        for size in sizes:
            settings.QSTASH_BATCH = {**base, "MAX_MESSAGES_PER_REQUEST": size}
            counts = []
            for chunks in (1, 3):
                batch = send_batch(list(workload.app_messages(0, size * chunks)))
                with CaptureQueriesContext(connection) as queries:
                    dispatch_batch(batch.pk, client=client)
                counts.append(len(queries))
            result[str(size)] = (counts[1] - counts[0]) / 2
            result[f"batch_of_one_chunk_{size}"] = counts[0]
    settings.QSTASH_BATCH = base
    clean()
    return result


def worker(url: str, start_at: float) -> dict[str, Any]:
    """One of several dispatch processes: claim and send batches until none is left."""
    from django_qstash_batch.dispatch import dispatch_batch, due_batch_ids

    sent = 0
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    with _client(url) as client:
        while ids := due_batch_ids(kick_grace=0):
            for batch_id in ids:
                result = dispatch_batch(batch_id, client=client)
                sent += result.accepted
    return {"accepted": sent, "finished_at": time.time()}
