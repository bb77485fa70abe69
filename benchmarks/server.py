"""The emulator under test, in a process of its own, driven through a pipe.

Running it apart keeps its request handling off the benchmark's interpreter lock, as
QStash is off the app's machine in production. The parent sets the latency added to
every answer, resets state between scenario runs (recreating the benchmark's URL
group), and reads the emulator's CPU time for the ceiling measurement.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import Any

from benchmarks.workload import TOPIC, TOPIC_ENDPOINTS


def _serve(connection: Connection) -> None:
    from django_qstash_batch.testing import QStashEmulator
    from django_qstash_batch.testing.emulator import tune_for_throughput

    tune_for_throughput()
    with QStashEmulator(deliver=False) as emulator:
        connection.send(emulator.url)
        while True:
            command, argument = connection.recv()
            if command == "stop":
                break
            if command == "latency":
                emulator.faults.latency(argument)
                connection.send(None)
            elif command == "reset":
                latency = argument
                emulator.reset()
                emulator.faults.latency(latency)
                connection.send(None)
            elif command == "cpu":
                connection.send(time.process_time())
            elif command == "published":
                connection.send(len(emulator.published))


class EmulatorProcess:
    """Start, steer and stop the emulator child process."""

    def __init__(self) -> None:
        self._pipe, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(child,), daemon=True
        )
        self._process.start()
        self.url: str = self._pipe.recv()
        self.latency = 0.0

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._pipe.send((command, argument))
        return self._pipe.recv()

    def reset(self, latency: float | None = None) -> None:
        """Forget every message, keep (or set) the latency, recreate the topic."""
        if latency is not None:
            self.latency = latency
        self._ask("reset", self.latency)
        create_topic(self.url)

    def cpu_seconds(self) -> float:
        return float(self._ask("cpu"))

    def published(self) -> int:
        return int(self._ask("published"))

    def stop(self) -> None:
        self._pipe.send(("stop", None))
        self._process.join(timeout=10)


def create_topic(url: str) -> None:
    """Create the benchmark's URL group in the emulator, with its endpoints."""
    import requests

    from django_qstash_batch.testing import DEV_TOKEN

    response = requests.post(
        f"{url}/v2/topics/{TOPIC}/endpoints",
        json={"endpoints": [{"url": endpoint} for endpoint in TOPIC_ENDPOINTS]},
        headers={"Authorization": f"Bearer {DEV_TOKEN}"},
        timeout=10,
    )
    response.raise_for_status()
