"""``manage.py qstash_emulator``: run the bundled QStash emulator in the foreground.

For local development and demos without a QStash account: it listens on loopback,
prints the environment variables that point the app and the official SDKs at it,
and serves until interrupted (Ctrl-C or SIGTERM). State lives in memory only.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_qstash_batch.testing import DEV_PORT, QStashEmulator
from django_qstash_batch.testing.emulator import tune_for_throughput


class Command(BaseCommand):
    help = (
        "Run a local QStash emulator in the foreground and print the QSTASH_* "
        "variables to export."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=DEV_PORT,
            help=f"Port to listen on; 0 picks a free one (default {DEV_PORT}).",
        )
        parser.add_argument(
            "--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1)."
        )
        parser.add_argument(
            "--no-deliver",
            action="store_true",
            help="Accept messages but never deliver them (for benchmarks).",
        )
        parser.add_argument(
            "--retry-backoff-scale",
            type=float,
            default=1.0,
            help="Multiply every wait between delivery attempts (default 1.0).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        emulator = QStashEmulator(
            host=options["host"],
            port=options["port"],
            deliver=not options["no_deliver"],
            retry_backoff_scale=options["retry_backoff_scale"],
        )
        tune_for_throughput()
        emulator.start()

        def stop(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)

        self.stdout.write(f"QStash emulator running at {emulator.url}")
        for name, value in emulator.env().items():
            self.stdout.write(f"export {name}={value}")
        self.stdout.write("Press Ctrl-C to stop.")
        self.stdout.flush()

        try:
            emulator.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("QStash emulator stopped.")
        finally:
            emulator.stop()
