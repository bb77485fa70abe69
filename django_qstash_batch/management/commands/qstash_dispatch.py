"""``manage.py qstash_dispatch``: send queued batches without Celery.

For projects that run no Celery worker: call it from cron, or keep it running with
``--loop``. It claims batches exactly as the Celery task does, so it can run beside
workers, or several times at once, without sending a batch twice.
"""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_qstash_batch import dispatch
from django_qstash_batch.client import QStashClient
from django_qstash_batch.models import Batch


class Command(BaseCommand):
    help = (
        "Send queued QStash batches in the foreground: one batch with --batch, every "
        "due batch otherwise, again and again with --loop."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", metavar="ID", help="Send only this batch.")
        parser.add_argument(
            "--loop",
            action="store_true",
            help="Keep looking for due batches until stopped (SIGTERM or Ctrl-C).",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=5.0,
            help="With --loop, seconds to sleep when nothing is due (default 5).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=1000,
            help="Batches taken per pass (default 1000).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stopping = False
        previous = signal.signal(signal.SIGTERM, self.stop)
        try:
            self.run(options)
        finally:
            signal.signal(signal.SIGTERM, previous)

    def run(self, options: dict[str, Any]) -> None:
        with QStashClient.from_settings() as client:
            if options["batch"]:
                self.send_one(options["batch"], client)
                return
            while True:
                try:
                    results = dispatch.dispatch_due(
                        limit=options["limit"], client=client
                    )
                except KeyboardInterrupt:
                    return
                for result in results:
                    self.report(result)
                if not options["loop"] or self.stopping:
                    return
                if not any(result.claimed for result in results):
                    self.sleep(options["interval"])
                if self.stopping:
                    return

    def send_one(self, batch_id: str, client: QStashClient) -> None:
        try:
            exists = Batch.objects.filter(pk=batch_id).exists()
        except Exception as exc:
            raise CommandError(f"Not a batch id: {batch_id!r}") from exc
        if not exists:
            raise CommandError(f"No batch with id {batch_id}.")
        result = dispatch.dispatch_batch(batch_id, client=client)
        if not result.claimed:
            self.stdout.write(
                f"Batch {batch_id} is not due, not queued, or held by another worker."
            )
            return
        self.report(result)

    def report(self, result: dispatch.DispatchResult) -> None:
        if not result.claimed:
            return
        line = (
            f"Batch {result.batch_id}: {result.status}, {result.accepted} accepted, "
            f"{result.failed} failed"
        )
        if result.retry_at is not None:
            line += f"; next attempt at {result.retry_at.isoformat()}"
        self.stdout.write(line)

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, seconds))

    def stop(self, signum: int, frame: FrameType | None) -> None:
        """Finish the batch in hand, then exit (a batch cut short is resumed anyway)."""
        self.stopping = True
