"""``python -m benchmarks``: the app against the HTTP floor and the official SDK.

Every scenario sends the same messages to the bundled emulator (delivery off, in a
process of its own), at each latency, in alternating order from round to round so
that drift on the machine spreads over all of them. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from typing import Any

from benchmarks import isolated, report, scenarios
from benchmarks.measure import machine
from benchmarks.server import EmulatorProcess

SCENARIOS = ("app", "floor", "naive", "sdk_batch")

#: Largest batch ``send_batch`` is given while queuing the ``app`` scenario's input.
APP_BATCH_SIZE = 100_000


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000, help="N per scenario")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--latency-ms",
        default="0,20",
        help="latencies the emulator adds to each answer, comma-separated "
        "(default 0,20: 0 shows the app's own cost, 20 a real round trip)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs per scenario")
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=1000,
        help="messages the naive scenario publishes at 0 ms (a fifth at 20 ms)",
    )
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated subset"
    )
    parser.add_argument(
        "--no-extras",
        action="store_true",
        help="skip send_batch, dispatch processes and the emulator ceiling",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2,000 messages, one round, no multi-process run: for CI",
    )
    parser.add_argument(
        "--sqlite-pragmas",
        default="",
        metavar="PRAGMAS",
        help="SQLite pragmas instead of the example project's, comma-separated, "
        "e.g. journal_mode=DELETE,synchronous=FULL (Django 5.1+)",
    )
    parser.add_argument("--json", metavar="FILE", help="write the report here")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.messages = min(arguments.messages, 2_000)
        arguments.rounds = 1
        arguments.naive_sample = min(arguments.naive_sample, 200)
    return arguments


def scenario_runs(
    arguments: argparse.Namespace, emulator: EmulatorProcess, latencies: list[str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every scenario at every latency, ``rounds`` times, in rotating order."""
    chosen = [name for name in SCENARIOS if name in arguments.scenarios.split(",")]
    count = arguments.messages
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in chosen}
    for latency in latencies:
        sample = (
            arguments.naive_sample if latency == "0" else arguments.naive_sample // 5
        )
        for round_number in range(arguments.rounds):
            shift = round_number % len(chosen)
            for name in chosen[shift:] + chosen[:shift]:
                emulator.reset(int(latency) / 1000)
                tag = f"{name}-{latency}-{round_number}-{time.time_ns()}"
                if name == "app":
                    queued = isolated.run(
                        scenarios.enqueue,
                        count=count,
                        per_batch=min(count, APP_BATCH_SIZE),
                    )
                    result = isolated.run(
                        scenarios.app,
                        url=emulator.url,
                        batch_ids=queued["batch_ids"],
                        count=count,
                    )
                elif name == "naive":
                    result = isolated.run(
                        scenarios.naive,
                        url=emulator.url,
                        sample=max(min(sample, count), 1),
                        tag=tag,
                    )
                else:
                    function = getattr(scenarios, name)
                    result = isolated.run(
                        function, url=emulator.url, count=count, tag=tag
                    )
                runs[name].setdefault(latency, []).append(result)
                print(
                    f"  {name:<10} {latency:>3} ms  {result['msgs_per_s']:>10,.0f} "
                    f"msgs/s  peak {result['peak_rss_mb']} MB",
                    flush=True,
                )
    return runs


def send_batch_rates(sizes: list[int]) -> dict[str, Any]:
    """``send_batch`` of each size in one call, in a fresh process."""
    rates = {}
    for size in sizes:
        result = isolated.run(scenarios.enqueue, count=size, per_batch=size)
        rates[str(size)] = {
            "messages": size,
            "seconds": round(result["seconds"], 3),
            "msgs_per_s": round(size / result["seconds"], 1),
            "us_per_msg": round(result["seconds"] / size * 1e6, 2),
        }
        print(
            f"  send_batch {size:>9,}  {rates[str(size)]['msgs_per_s']:>10,.0f} msgs/s"
        )
    return rates


def dispatch_processes(
    emulator: EmulatorProcess, count: int, latencies: list[str], counts: list[int]
) -> dict[str, Any]:
    """``count`` messages in 16 batches, sent by 1, 2 and 4 worker processes."""
    figures: dict[str, Any] = {}
    for latency in latencies:
        for processes in counts:
            emulator.reset(int(latency) / 1000)
            isolated.run(scenarios.enqueue, count=count, per_batch=max(count // 16, 1))
            start_at = time.time() + 3.0
            results = isolated.run_many(
                scenarios.worker,
                [{"url": emulator.url, "start_at": start_at}] * processes,
            )
            accepted = sum(result["accepted"] for result in results)
            if accepted != count:
                raise RuntimeError(f"workers accepted {accepted} of {count}")
            seconds = max(result["finished_at"] for result in results) - start_at
            figures.setdefault(latency, {})[str(processes)] = {
                "messages": count,
                "seconds": round(seconds, 3),
                "msgs_per_s": round(count / seconds, 1),
            }
            print(
                f"  {processes} processes {latency:>3} ms "
                f"{count / seconds:>10,.0f} msgs/s"
            )
    return figures


def emulator_ceiling(emulator: EmulatorProcess, batches: int) -> dict[str, Any]:
    """Messages per second the emulator accepts (wall) and could (its CPU)."""
    from benchmarks.emulator_ceiling import build_batches, post_all

    emulator.reset(0.0)
    payloads = build_batches(batches, 100, f"ceiling-{time.time_ns()}")
    before = emulator.cpu_seconds()
    elapsed = post_all(emulator.url, payloads, 100)
    cpu = emulator.cpu_seconds() - before
    messages = batches * 100
    return {
        "messages": messages,
        "accepted_msgs_per_s": round(messages / elapsed, 1),
        "capacity_msgs_per_s": round(messages / cpu, 1) if cpu else None,
    }


def main(argv: list[str] | None = None) -> int:
    arguments = parse(sys.argv[1:] if argv is None else argv)
    latencies = [str(int(value)) for value in arguments.latency_ms.split(",") if value]
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="qstash-bench-") as sqlite_dir:
        isolated.configure(arguments.db, sqlite_dir, arguments.sqlite_pragmas)
        if arguments.db == "postgresql":
            isolated.create_postgres_database()
        database = isolated.run(scenarios.prepare)["database"]
        print(f"{database}: {arguments.messages:,} messages per scenario", flush=True)

        emulator = EmulatorProcess()
        try:
            raw: dict[str, Any] = {
                "config": {
                    "messages": arguments.messages,
                    "db": arguments.db,
                    "latencies": latencies,
                    "rounds": arguments.rounds,
                    "quick": arguments.quick,
                    "chunk": 100,
                },
                "machine": machine(),
                "database": database,
                "runs": scenario_runs(arguments, emulator, latencies),
            }
            emulator.reset(0.0)
            raw["queries_per_chunk"] = isolated.run(
                scenarios.queries_per_chunk, url=emulator.url, sizes=[10, 100]
            )
            if not arguments.no_extras:
                sizes = [arguments.messages] if arguments.quick else [10_000, 100_000]
                raw["send_batch"] = send_batch_rates(sizes)
                if not arguments.quick and arguments.db == "postgresql":
                    raw["dispatch_processes"] = dispatch_processes(
                        emulator,
                        min(arguments.messages, 100_000),
                        latencies,
                        [1, 2, 4],
                    )
                raw["emulator_ceiling"] = emulator_ceiling(
                    emulator, 20 if arguments.quick else 300
                )
        finally:
            emulator.stop()

    raw["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    summary = report.summarise(raw)
    print(report.text(summary))
    if arguments.json:
        report.write_json(summary, arguments.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
