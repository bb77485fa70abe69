"""How many messages per second the emulator accepts, with delivery switched off.

The app's own benchmarks run against the emulator, so the emulator has to be far
faster than the app's dispatch (which targets about 6,000 messages a second) or they
would measure the emulator instead. This posts pre-built 100-item batches, shaped
like the app's (JSON body, ``Content-Type``, a unique ``Upstash-Deduplication-Id``,
retries, callback and failure callback), over one keep-alive ``requests.Session``
and reports two figures:

- **accepted**: messages per second of wall time, client included (one request
  at a time, so the client's own cost is in it);
- **capacity**: messages per second of the emulator's own CPU time, the rate it
  could sustain if clients were free.

By default the emulator runs in a child process, as it does under
``manage.py qstash_emulator``, so client and server do not share one interpreter
lock; ``--in-process`` measures the shared case (an emulator started by a test
fixture inside the benchmark's own process; capacity is then not reported).

Run: ``python -m benchmarks.emulator_ceiling [--batches 400] [--size 100]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from multiprocessing.connection import Connection

import requests

from django_qstash_batch.testing import DEV_TOKEN, QStashEmulator
from django_qstash_batch.testing.emulator import tune_for_throughput


def _serve(connection: Connection) -> None:
    """Child process: run an emulator with delivery off; report its CPU time."""
    tune_for_throughput()
    with QStashEmulator(deliver=False) as emulator:
        connection.send(emulator.url)
        while connection.recv() == "cpu":
            connection.send(time.process_time())
        connection.send(len(emulator.published))


def build_batches(count: int, size: int, prefix: str) -> list[bytes]:
    """Encode ``count`` batch bodies of ``size`` app-like items with unique ids."""
    callback = "https://app.example.com/qstash/callback/"
    batches = []
    for number in range(count):
        items = [
            {
                "destination": f"https://shop.example.com/hooks/orders/{index % 7}",
                "body": json.dumps({"order": number * size + index, "total": "19.90"}),
                "headers": {
                    "Content-Type": "application/json",
                    "Upstash-Deduplication-Id": f"{prefix}-{number}-{index}",
                    "Upstash-Retries": "3",
                    "Upstash-Callback": callback,
                    "Upstash-Failure-Callback": callback,
                },
            }
            for index in range(size)
        ]
        batches.append(json.dumps(items).encode())
    return batches


def post_all(url: str, batches: list[bytes], size: int) -> float:
    """Post every batch on one session; return the elapsed seconds.

    Each answer is checked for its status and its number of message ids (counting
    them is cheaper than decoding, which keeps the client's share of the time low).
    """
    with requests.Session() as session:
        # No proxy or netrc lookups per request: the emulator is on loopback.
        session.trust_env = False
        session.headers["Authorization"] = f"Bearer {DEV_TOKEN}"
        session.headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        for body in batches:
            response = session.post(f"{url}/v2/batch", data=body)
            if response.status_code != 200:
                raise RuntimeError(f"unexpected status {response.status_code}")
            if response.content.count(b'"messageId"') != size:
                raise RuntimeError("an item was not accepted")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-process", action="store_true")
    arguments = parser.parse_args()

    warm_up = build_batches(20, arguments.size, "warm-up")
    rounds = [
        build_batches(arguments.batches, arguments.size, f"round-{number}")
        for number in range(arguments.rounds)
    ]

    if arguments.in_process:
        emulator = QStashEmulator(deliver=False).start()
        url = emulator.url
    else:
        parent, child = multiprocessing.Pipe()
        process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(child,), daemon=True
        )
        process.start()
        url = parent.recv()

    post_all(url, warm_up, arguments.size)
    rates, capacities = [], []
    for batches in rounds:
        if not arguments.in_process:
            parent.send("cpu")
            cpu_before = parent.recv()
        elapsed = post_all(url, batches, arguments.size)
        messages = len(batches) * arguments.size
        rates.append(messages / elapsed)
        if not arguments.in_process:
            parent.send("cpu")
            capacities.append(messages / (parent.recv() - cpu_before))

    if arguments.in_process:
        stored = len(emulator.published)
        emulator.stop()
    else:
        parent.send("stop")
        stored = parent.recv()
        process.join(timeout=10)

    expected = (len(warm_up) + sum(len(batches) for batches in rounds)) * arguments.size
    if stored != expected:
        raise RuntimeError(f"emulator stored {stored} messages, expected {expected}")

    where = "in-process" if arguments.in_process else "separate process"
    print(f"emulator ceiling ({where}, {arguments.size}-message batches, delivery off)")
    print(f"accepted: {', '.join(f'{rate:,.0f}' for rate in rates)} msgs/s")
    print(f"best accepted: {max(rates):,.0f} msgs/s")
    if capacities:
        print(f"capacity: {', '.join(f'{c:,.0f}' for c in capacities)} msgs/s of CPU")


if __name__ == "__main__":
    main()
