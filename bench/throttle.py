"""The sender against a backlog: achieved rate and the busiest one-second window vs the limit.

Starts an embedded broker, the sandbox (its own process) and one sender worker
(its own process, as in production), queues ``--commands`` template commands for one business
number, and reads the sandbox's record when every SendResult is in.

    .venv/bin/python bench/throttle.py [--rate 80] [--commands 2000] [--customers 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.runtime.broker import EmbeddedBroker
from pipeline.sandbox import SandboxConfig
from pipeline.topics import RESULTS
from tests.sender.harness import (
    SandboxProcess,
    TopicReader,
    command,
    produce_commands,
    worker_env,
)
from tests.sender.rate_windows import busiest_window, closest_pair_gap_s
from tests.support.workers import WorkerProcess


def main() -> None:
    # The sandbox process is started with "spawn": keep everything under main().
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=80, help="configured messages/s per number")
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=1000)
    args = parser.parse_args()
    number = "300000000000001"
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        sandbox = SandboxProcess(
            SandboxConfig(throughput_per_s=args.rate, record_max_requests=args.commands * 2)
        )
        worker = WorkerProcess(
            bootstrap=broker.bootstrap_servers,
            data_dir=Path(tmp),
            app_id=f"bench-{uuid.uuid4().hex[:6]}",
            roles="sender",
            env=worker_env(sandbox.base_url, WAPIPE_WHATSAPP_RATE_PER_S=str(args.rate)),
        ).start()
        try:
            commands = [
                command(f"8240{i % args.customers:08d}", business_number_id=number)
                for i in range(args.commands)
            ]
            produce_commands(broker.bootstrap_servers, commands)
            started = time.monotonic()
            results = TopicReader(broker.bootstrap_servers, RESULTS)
            budget_s = 30 + 3 * args.commands / args.rate
            results.wait_for(lambda ev: len(ev) >= args.commands, timeout_s=budget_s)
            wall_s = time.monotonic() - started
            results.close()
        finally:
            worker.stop()
        received = [r for r in sandbox.requests() if r.phone_number_id == number]
        sandbox.stop()
    accepted = [r for r in received if r.accepted]
    times = [r.at_s for r in received]
    span_s = max(times) - min(times)
    achieved = (len(accepted) - 1) / span_s if span_s > 0 else float("nan")
    outcomes = Counter(r.outcome for r in results.events)
    print(f"commands {args.commands} to {args.customers} customers, limit {args.rate}/s")
    print(
        f"outcomes {dict(outcomes)}; requests {len(received)}, refused 130429: "
        f"{sum(1 for r in received if r.error_code == 130429)}"
    )
    print(
        f"achieved {achieved:.1f}/s over {span_s:.1f} s = {achieved / args.rate:.1%} of the limit"
        f" (wall {wall_s:.1f} s incl. start-up)"
    )
    print(f"busiest one-second window {busiest_window(times)} (limit {args.rate})")
    gap = closest_pair_gap_s((r.wa_id or "", r.at_s) for r in accepted)
    print(f"closest two messages to one customer: {gap:.3f} s")


if __name__ == "__main__":
    main()
