"""What an idle worker costs: its CPU and the embedded broker's while nothing happens.

Starts the embedded Tansu broker and one worker (every role unless ``--roles``), waits for the
worker to settle (partitions assigned, tables recovered), then reads both processes' CPU from
/proc for ``--seconds``. Nothing is produced: the figure is the price of polling, timers and
fetches, which an embedded deployment pays all day. ``--baseline-ref REF`` first measures the
worker of git revision REF on a fresh broker (as bench/throttle.py does), then this tree's;
``--rounds N`` alternates the two N times (the VM's speed drifts, docs/benchmarks.md).

    .venv/bin/python bench/idle.py [--roles ROLES] [--partitions 12] [--seconds 10]
        [--baseline-ref REF] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.throttle import ROOT, cpu_s, source_tree, start_worker
from pipeline.runtime.broker import EmbeddedBroker
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.topics import ALL_TOPICS

SETTLE_S = 20.0  # after the worker answers: recovery, the first rebalance's pauses


def measure(
    tree: Path, *, roles: str | None, partitions: int, seconds: float
) -> tuple[float, float]:
    """(worker, broker) CPU while idle, in percent of one core."""
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap_servers, ALL_TOPICS, partitions=partitions, replication=1)
        worker = start_worker(
            tree,
            bootstrap=broker.bootstrap_servers,
            data_dir=Path(tmp) / "worker",
            app_id="idle",
            roles=roles,
            partitions=partitions,
            env={"WAPIPE_LOG_LEVEL": "warning"},
        )
        try:
            time.sleep(SETTLE_S)
            assert worker.proc is not None and broker.pid is not None
            w0, b0 = cpu_s(worker.proc.pid), cpu_s(broker.pid)
            time.sleep(seconds)
            w1, b1 = cpu_s(worker.proc.pid), cpu_s(broker.pid)
        finally:
            worker.stop()
    return 100 * (w1 - w0) / seconds, 100 * (b1 - b0) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", help="comma-separated roles (default: every role)")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--baseline-ref", metavar="REF", help="first measure this revision")
    parser.add_argument("--rounds", type=int, default=1, help="alternate before/after N times")
    args = parser.parse_args()
    print(
        f"idle worker ({args.roles or 'every role'}, {args.partitions} partitions), "
        f"{args.seconds:g} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    for _ in range(args.rounds):
        if args.baseline_ref:
            with source_tree(args.baseline_ref) as tree:
                worker, broker = measure(
                    tree, roles=args.roles, partitions=args.partitions, seconds=args.seconds
                )
            print(
                f"before {args.baseline_ref}: worker {worker:.1f}% of a core, broker {broker:.1f}%",
                flush=True,
            )
        worker, broker = measure(
            ROOT, roles=args.roles, partitions=args.partitions, seconds=args.seconds
        )
        print(f"idle worker: {worker:.1f}% of a core, broker {broker:.1f}%", flush=True)


if __name__ == "__main__":
    main()
