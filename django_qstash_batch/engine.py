"""One worker's pass over one claimed batch: read, send, record, and handle errors.

:class:`Run` is the engine behind :func:`~django_qstash_batch.dispatch.dispatch_batch`;
the module docstring of :mod:`django_qstash_batch.dispatch` describes the whole flow.
The constants here are the error policy's timings.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from django_qstash_batch.claims import (
    Lease,
    pause_queued_batches,
)
from django_qstash_batch.client import QStashClient
from django_qstash_batch.conf import conf
from django_qstash_batch.exceptions import (
    QStashAPIError,
    QStashBatchError,
    QStashConnectionError,
    QStashProtocolError,
    QuotaExceeded,
    RateLimited,
)
from django_qstash_batch.models import Batch, BatchStatus, Message
from django_qstash_batch.pending import PendingReader
from django_qstash_batch.recording import (
    ChunkRecord,
    Entry,
    Recorder,
)
from django_qstash_batch.signals import batch_dispatched, message_failed
from django_qstash_batch.wire import (
    ID,
    MESSAGE_FIELDS,
    POSITION,
    URL,
    ItemDefaults,
    build_item,
    encode_item,
    join_items,
)

logger = logging.getLogger(__name__)

#: First wait after a retryable error; it doubles with every attempt, with jitter.
BACKOFF_BASE_SECONDS = 2.0

#: Longest wait between two attempts.
BACKOFF_CAP_SECONDS = 300.0

#: A burst 429 whose reset is this close is waited out in the worker; a later reset
#: releases the batch until then.
BURST_WAIT_LIMIT_SECONDS = 5.0

#: Burst 429s waited out for one chunk before the batch is released instead.
BURST_WAITS_PER_CHUNK = 3

#: Pause after a daily-quota 429 that does not say when the quota resets.
QUOTA_FALLBACK_SECONDS = 60.0

#: Statuses answered by splitting the chunk in two: QStash rejected the request as a
#: whole, perhaps for one bad item, which the halves will isolate.
SPLIT_STATUSES = frozenset({400, 413})

#: Pending messages read per query: several chunks' worth, so that reading costs
#: fewer round trips than sending, while memory stays bounded (about 1 MB of rows
#: with 1 KB bodies).
PAGE_ROWS = 500

_INDEX_TOPIC = MESSAGE_FIELDS.index("topic__name")

#: A chunk in flight: its entries and the answer to come.
Posted = tuple[list[Entry], "Future[list[Any]]"]


@dataclass(frozen=True, slots=True)
class DispatchResult:
    """How one dispatch run ended.

    ``claimed`` is False when the batch was not due, not queued, or held by another
    worker; nothing was sent then. ``status`` is the batch's status when the run
    ended (``queued`` after a retryable error). ``retry_at`` says when the batch
    should be tried again, if it should.
    """

    batch_id: UUID
    claimed: bool
    status: str = ""
    accepted: int = 0
    failed: int = 0
    retry_at: datetime | None = None


def backoff_seconds(attempts: int) -> float:
    """Wait before attempt ``attempts + 1``: doubling, capped, half of it random.

    The jitter spreads out workers that failed together, so they do not all come
    back at the same instant.
    """
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class Run:
    """One worker's pass over one claimed batch."""

    def __init__(self, lease: Lease, client: QStashClient) -> None:
        self.lease = lease
        self.client = client
        self.batch_id = lease.batch_id
        self.recorder = Recorder(lease.batch_id, lease.expires_at, conf.LEASE_SECONDS)
        self.max_items = max(conf.MAX_MESSAGES_PER_REQUEST, 1)
        self.max_bytes = conf.MAX_REQUEST_BYTES
        self.defaults = ItemDefaults(callback_url=conf.CALLBACK_URL or None)
        self.accepted = 0
        self.failed = 0
        self.last_error = ""
        self.lease_confirmed = False

    def run(self) -> DispatchResult:
        """Send every pending message, then finish the batch.

        Requests go out from one helper thread so that the database work of one
        chunk overlaps the network wait of the next: while chunk ``n + 1`` is in
        flight, this thread records chunk ``n`` and reads and encodes ``n + 2``.
        Chunk ``n + 1`` is only sent once chunk ``n`` was answered without error
        (and, for the first chunk, recorded with the lease still held), so every
        error is still handled before anything else goes out. All database work
        stays on the caller's thread and connection.
        """
        with ThreadPoolExecutor(1, thread_name_prefix="qstash-send") as sender:
            posted: Posted | None = None
            for chunk in self.chunks():
                if posted is None:
                    posted = self.post(sender, chunk)
                    continue
                stop, posted = self.settle(sender, posted, chunk)
                if stop is not None:
                    return stop
            if posted is not None:
                stop, _ = self.settle(sender, posted, None)
                if stop is not None:
                    return stop
        return self.finish()

    def post(self, sender: ThreadPoolExecutor, chunk: list[Entry]) -> Posted:
        """Put ``chunk`` in flight on the sender thread."""
        body = join_items([entry[4] for entry in chunk])
        return chunk, sender.submit(self.client.batch, body)

    def settle(
        self, sender: ThreadPoolExecutor, posted: Posted, following: list[Entry] | None
    ) -> tuple[DispatchResult | None, Posted | None]:
        """Wait for the chunk in flight, send ``following``, record the answer.

        Returns a result if the run must stop, and what is in flight now. An error,
        or an answer that cannot be matched to the chunk, is handled by :meth:`send`
        before ``following`` goes out.
        """
        chunk, future = posted
        try:
            reading = self.recorder.read(chunk, future.result())
        except QStashBatchError as exc:
            stop = self.send(chunk, first=exc)
            if stop is not None or following is None:
                return stop, None
            return None, self.post(sender, following)

        if not self.lease_confirmed:
            # Overlap only once a recorded chunk has shown the lease is still ours:
            # a batch taken over before its first answer sends nothing more.
            stop = self.account(self.recorder.write(reading, timezone.now()))
            self.lease_confirmed = stop is None
            if stop is not None or following is None:
                return stop, None
            return None, self.post(sender, following)

        in_flight = self.post(sender, following) if following is not None else None
        stop = self.account(self.recorder.write(reading, timezone.now()))
        if stop is not None and in_flight is not None:
            # The lease was lost while the next chunk was on its way: record what
            # QStash says about it too, so the counters stay right, then stop.
            self.drain(in_flight)
        return stop, in_flight if stop is None else None

    def drain(self, posted: Posted) -> None:
        """Record the answer to a chunk sent just before the run had to stop."""
        chunk, future = posted
        try:
            reading = self.recorder.read(chunk, future.result())
        except QStashBatchError:
            return
        self.account(self.recorder.write(reading, timezone.now()))

    def pending_rows(self) -> Iterator[tuple[Any, ...]]:
        """Pending messages as tuples, in position order, by keyset pages."""
        return PendingReader(self.batch_id, max(self.max_items, PAGE_ROWS)).rows()

    def chunks(self) -> Iterator[list[Entry]]:
        """Request-sized lists of encoded items.

        A chunk closes when the next item would pass either limit. An item too big
        for any request goes alone, and QStash decides.
        """
        chunk: list[Entry] = []
        size = 2
        for row in self.pending_rows():
            encoded = encode_item(build_item(row, self.defaults))
            if chunk and (
                len(chunk) >= self.max_items or size + len(encoded) + 1 > self.max_bytes
            ):
                yield chunk
                chunk, size = [], 2
            chunk.append((row[ID], row[POSITION], row[URL], row[_INDEX_TOPIC], encoded))
            size += len(encoded) + 1
        if chunk:
            yield chunk

    def send(
        self, chunk: list[Entry], first: QStashBatchError | None = None
    ) -> DispatchResult | None:
        """Send one chunk and record the outcome; a result if the run must stop.

        ``first`` is the error a request for ``chunk`` already met; it is handled as
        if this call had met it, rather than sending the chunk again.

        - connection error, timeout, 5xx, unreadable answer: retry the batch later
          with backoff (or fail what is left after ``MAX_ATTEMPTS``);
        - burst 429: wait for its reset here if it is close, else release until then;
        - daily-quota 429: pause all queued batches until its reset;
        - 400 or 413 for the whole request: split the chunk in halves and send them,
          so one bad message fails alone;
        - 401, 412 and any other 4xx: every message of the chunk fails with
          QStash's text.
        """
        parts = [chunk]
        burst_waits = 0
        while parts:
            part = parts.pop()
            try:
                if first is not None:
                    error, first = first, None
                    raise error
                answer = self.client.batch(join_items([entry[4] for entry in part]))
                record = self.recorder.record(part, answer, timezone.now())
            except QuotaExceeded as exc:
                return self.pause_for_quota(exc)
            except RateLimited as exc:
                wait = self.burst_wait(exc)
                if (
                    wait <= BURST_WAIT_LIMIT_SECONDS
                    and burst_waits < BURST_WAITS_PER_CHUNK
                ):
                    burst_waits += 1
                    logger.info("Burst rate limit; waiting %.1f s", wait)
                    time.sleep(wait)
                    parts.append(part)
                    continue
                return self.release(str(exc), delay=wait, refund=True)
            except QStashAPIError as exc:
                if exc.is_retryable:
                    return self.retry_later(exc)
                if exc.status in SPLIT_STATUSES and len(part) > 1:
                    middle = len(part) // 2
                    parts += [part[middle:], part[:middle]]
                    continue
                self.last_error = str(exc)
                record = self.recorder.fail(part, str(exc), timezone.now())
            except (QStashConnectionError, QStashProtocolError) as exc:
                return self.retry_later(exc)

            stop = self.account(record)
            if stop is not None:
                return stop
        return None

    def account(self, record: ChunkRecord) -> DispatchResult | None:
        """Add a recorded chunk to the run's totals and tell receivers of failures."""
        self.accepted += record.accepted
        self.failed += record.failed
        if record.failures and message_failed.has_listeners(Message):
            message_failed.send(
                sender=Message, batch_id=self.batch_id, failures=record.failures
            )
        if record.lease_lost:
            return self.result(str(BatchStatus.SENDING))
        return None

    def burst_wait(self, exc: RateLimited) -> float:
        """Seconds until a burst limit resets (one second when QStash did not say)."""
        reset = exc.rate_limit.reset if exc.rate_limit is not None else None
        if reset is None:
            return 1.0
        return max(reset - time.time(), 0.0) + 0.05

    def retry_later(self, exc: QStashBatchError) -> DispatchResult:
        """Release the batch for another attempt, or fail what is left."""
        error = str(exc)
        self.last_error = error
        if self.lease.attempts >= conf.MAX_ATTEMPTS:
            logger.warning(
                "Batch %s failed after %s attempts", self.batch_id, self.lease.attempts
            )
            stop = self.account(self.recorder.fail_remaining(error, timezone.now()))
            return stop if stop is not None else self.finish()
        return self.release(error, delay=backoff_seconds(self.lease.attempts))

    def pause_for_quota(self, exc: QuotaExceeded) -> DispatchResult:
        """Stop sending until the daily quota resets, without spending an attempt."""
        reset = exc.rate_limit.reset if exc.rate_limit is not None else None
        if reset is not None:
            until = datetime.fromtimestamp(reset, tz=dt_timezone.utc)
        else:
            until = timezone.now() + timedelta(seconds=QUOTA_FALLBACK_SECONDS)
        until = max(until, timezone.now())

        result = self.release(str(exc), until=until, refund=True)
        paused = pause_queued_batches(until)
        logger.warning(
            "QStash daily quota reached; %s queued batches paused until %s",
            paused,
            until.isoformat(),
        )
        return result

    def release(
        self,
        error: str,
        *,
        delay: float | None = None,
        until: datetime | None = None,
        refund: bool = False,
    ) -> DispatchResult:
        """Give the batch back to the queue, due again at ``until`` or after ``delay``.

        ``refund`` takes back the attempt this run counted: rate limits are QStash
        asking to wait, not the batch failing.
        """
        now = timezone.now()
        if until is None:
            until = now + timedelta(seconds=delay or 0)
        changes: dict[str, Any] = {
            "status": BatchStatus.QUEUED,
            "next_attempt_at": until,
            "lease_expires_at": None,
            "last_error": error,
            "updated_at": now,
        }
        if refund:
            changes["attempts"] = F("attempts") - 1

        released = Batch.objects.filter(
            pk=self.batch_id,
            status=BatchStatus.SENDING,
            lease_expires_at=self.recorder.lease_expires_at,
        ).update(**changes)
        if not released:
            return self.result(str(BatchStatus.SENDING))

        logger.info(
            "Batch %s released until %s after: %s",
            self.batch_id,
            until.isoformat(),
            error,
        )
        return self.result(str(BatchStatus.QUEUED), retry_at=until)

    def finish(self) -> DispatchResult:
        """Set the batch's final status from its counters and announce it."""
        now = timezone.now()
        mine = Batch.objects.filter(
            pk=self.batch_id,
            status=BatchStatus.SENDING,
            lease_expires_at=self.recorder.lease_expires_at,
        )
        with transaction.atomic():
            counters = mine.values_list("accepted_count", "failed_count").first()
            if counters is None:
                return self.result(str(BatchStatus.SENDING))
            accepted, failed = counters
            if not failed:
                status = str(BatchStatus.SENT)
            elif accepted:
                status = str(BatchStatus.PARTIAL)
            else:
                status = str(BatchStatus.FAILED)
            mine.update(
                status=status,
                sent_at=now,
                lease_expires_at=None,
                next_attempt_at=None,
                last_error="" if status == BatchStatus.SENT else self.last_error,
                updated_at=now,
            )

        logger.info(
            "Batch %s %s: %s accepted, %s failed in this run",
            self.batch_id,
            status,
            self.accepted,
            self.failed,
        )
        if batch_dispatched.has_listeners(Batch):
            batch = Batch.objects.get(pk=self.batch_id)
            batch_dispatched.send(sender=Batch, batch=batch, status=status)
        return self.result(status)

    def result(self, status: str, retry_at: datetime | None = None) -> DispatchResult:
        return DispatchResult(
            self.batch_id,
            claimed=True,
            status=str(status),
            accepted=self.accepted,
            failed=self.failed,
            retry_at=retry_at,
        )
