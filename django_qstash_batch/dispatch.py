"""The dispatch engine: claim a queued batch, send it in chunks, record every answer.

No Celery in here: the tasks, the ``qstash_dispatch`` command and tests all call
:func:`dispatch_batch` and :func:`due_batch_ids`. This module is the entry point;
the pass over one claimed batch is :class:`~django_qstash_batch.engine.Run`, the
claims live in :mod:`django_qstash_batch.claims`. A run goes like this:

1. Claim the batch in a short transaction (``SELECT ... FOR UPDATE SKIP LOCKED``
   where the database has it, and a conditional ``UPDATE`` everywhere), taking a
   lease and counting an attempt.
2. Read pending messages in position order by keyset pages, as tuples
   (:mod:`django_qstash_batch.pending`), and pack their items into chunks bounded by
   ``MAX_MESSAGES_PER_REQUEST`` and ``MAX_REQUEST_BYTES``.
3. Send each chunk to ``POST /v2/batch`` with no transaction open, from a helper
   thread, then record the answer in one short transaction
   (:mod:`django_qstash_batch.recording`), which also extends the lease. Recording
   chunk ``n`` overlaps the request for chunk ``n + 1``, which goes out only once
   chunk ``n`` was answered without error.
4. On an error, decide (see :meth:`Run.send`): retry later with backoff, wait out a
   rate limit, pause for the daily quota, split a rejected chunk, or fail it.
5. Finish: the batch becomes ``sent``, ``partial`` or ``failed``.

Every item carries a deduplication id, so resending a chunk whose answer was lost,
or one a dead worker left half done, cannot publish a message twice within QStash's
ten-minute window; leases are far shorter than that.
"""

from __future__ import annotations

from uuid import UUID

from django_qstash_batch.claims import (
    KICK_GRACE_SECONDS,
    Lease,
    claim,
    claimable_condition,
    due_batch_ids,
    pause_queued_batches,
)
from django_qstash_batch.client import QStashClient
from django_qstash_batch.engine import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    BURST_WAIT_LIMIT_SECONDS,
    BURST_WAITS_PER_CHUNK,
    PAGE_ROWS,
    QUOTA_FALLBACK_SECONDS,
    SPLIT_STATUSES,
    DispatchResult,
    Run,
    backoff_seconds,
)
from django_qstash_batch.recording import asynchronous_commits

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_CAP_SECONDS",
    "BURST_WAITS_PER_CHUNK",
    "BURST_WAIT_LIMIT_SECONDS",
    "KICK_GRACE_SECONDS",
    "PAGE_ROWS",
    "QUOTA_FALLBACK_SECONDS",
    "SPLIT_STATUSES",
    "DispatchResult",
    "Lease",
    "Run",
    "backoff_seconds",
    "claim",
    "claimable_condition",
    "dispatch_batch",
    "dispatch_due",
    "due_batch_ids",
    "pause_queued_batches",
]


def dispatch_batch(
    batch_id: UUID | str, *, client: QStashClient | None = None
) -> DispatchResult:
    """Claim one batch and send its pending messages; how the run ended.

    ``client`` lets a caller that dispatches many batches reuse one connection
    pool; by default a client is built from the settings and closed afterwards.
    """
    lease = claim(batch_id)
    if lease is None:
        return DispatchResult(UUID(str(batch_id)), claimed=False)

    if client is not None:
        with asynchronous_commits():
            return Run(lease, client).run()
    with QStashClient.from_settings() as own_client, asynchronous_commits():
        return Run(lease, own_client).run()


def dispatch_due(
    *, limit: int = 1000, client: QStashClient | None = None
) -> list[DispatchResult]:
    """Dispatch every batch due now, one after the other (for the command)."""
    ids = due_batch_ids(limit=limit, kick_grace=0)
    if not ids:
        return []
    if client is not None:
        return [dispatch_batch(pk, client=client) for pk in ids]
    with QStashClient.from_settings() as own_client:
        return [dispatch_batch(pk, client=own_client) for pk in ids]
