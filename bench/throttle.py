"""The sender against a backlog: achieved rate and the busiest one-second window vs the limit.

Starts an embedded broker, the sandbox (its own process) and one sender worker
(its own process, as in production), queues ``--commands`` template commands spread over
``--numbers`` business numbers (each with its own ``--rate`` limit), and reads the sandbox's
record when every SendResult is in. Prints, per run: the rate achieved per number and in total,
the busiest one-second window of any number, and the worker's CPU per command (user + system,
from /proc: the figure that load on a shared machine disturbs least).

``--baseline REF`` first runs the same load against the sender of git revision ``REF``
(exported with ``git archive``, the worker started from that tree), then against this tree:
before and after in one run, under the same load.

    .venv/bin/python bench/throttle.py [--rate 80] [--commands 2000] [--customers 1000]
        [--numbers 1] [--baseline REF]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import subprocess
import sys
import tarfile
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.runtime.broker import EmbeddedBroker
from pipeline.sandbox import PopulationSpec, SandboxConfig
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

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, kw_only=True)
class Run:
    label: str
    commands: int
    outcomes: dict[str, int]
    refused: int
    per_number_rate_per_s: float  # the slowest number's achieved rate
    total_rate_per_s: float
    span_s: float
    worst_window: int
    closest_pair_s: float
    cpu_ms_per_command: float


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S  # utime + stime


@contextlib.contextmanager
def source_tree(ref: str | None) -> Iterator[Path]:
    """This tree, or revision ``ref`` exported to a temporary directory."""
    if ref is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix="throttle-baseline-") as tmp:
        archive = subprocess.run(
            ["git", "archive", ref, "pipeline", "infra"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)


def start_worker(tree: Path, **kwargs: object) -> WorkerProcess:
    # ``python -m`` puts the working directory first on sys.path: the worker imports
    # ``pipeline`` from ``tree`` (the child inherits the directory when it is started).
    here = Path.cwd()
    os.chdir(tree)
    try:
        return WorkerProcess(**kwargs).start()  # type: ignore[arg-type]
    finally:
        os.chdir(here)


def run_once(label: str, tree: Path, args: argparse.Namespace) -> Run:
    numbers = [f"30000000{n:07d}" for n in range(args.numbers)]
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        sandbox = SandboxProcess(
            SandboxConfig(
                throughput_per_s=args.rate,
                record_max_requests=args.commands * 2,
                population=PopulationSpec(unreachable_share=0.0, marketing_stopped_share=0.0),
            )
        )
        env = worker_env(sandbox.base_url, WAPIPE_WHATSAPP_RATE_PER_S=str(args.rate))
        worker = start_worker(
            tree,
            bootstrap=broker.bootstrap_servers,
            data_dir=Path(tmp),
            app_id=f"bench-{uuid.uuid4().hex[:6]}",
            roles="sender",
            env=env,
        )
        try:
            commands = [
                command(f"8240{i % args.customers:08d}", business_number_id=number)
                for i, number in zip(range(args.commands), itertools.cycle(numbers), strict=False)
            ]
            assert worker.proc is not None
            cpu_before_s = cpu_s(worker.proc.pid)
            produce_commands(broker.bootstrap_servers, commands)
            results = TopicReader(broker.bootstrap_servers, RESULTS)
            budget_s = 60 + 3 * args.commands / (args.rate * len(numbers))
            results.wait_for(lambda ev: len(ev) >= args.commands, timeout_s=budget_s)
            cpu_used_s = cpu_s(worker.proc.pid) - cpu_before_s
            results.close()
        finally:
            worker.stop()
        received = [r for r in sandbox.requests() if r.phone_number_id in numbers]
        sandbox.stop()
    accepted = [r for r in received if r.accepted]
    times = [r.at_s for r in received]
    span_s = max(times) - min(times)
    by_number: dict[str, list[float]] = defaultdict(list)
    for r in received:
        by_number[r.phone_number_id].append(r.at_s)
    slowest = min(
        (len(ts) - 1) / (max(ts) - min(ts)) if max(ts) > min(ts) else float("nan")
        for ts in by_number.values()
    )
    return Run(
        label=label,
        commands=args.commands,
        outcomes=dict(Counter(r.outcome for r in results.events)),
        refused=sum(1 for r in received if r.error_code == 130429),
        per_number_rate_per_s=slowest,
        total_rate_per_s=(len(accepted) - 1) / span_s if span_s > 0 else float("nan"),
        span_s=span_s,
        worst_window=max(busiest_window(ts) for ts in by_number.values()),
        closest_pair_s=closest_pair_gap_s((r.wa_id or "", r.at_s) for r in accepted),
        cpu_ms_per_command=cpu_used_s * 1000 / args.commands,
    )


def report(run: Run, args: argparse.Namespace) -> None:
    limit = args.rate * args.numbers
    prefix = f"[{run.label}] " if args.baseline else ""
    print(
        f"{prefix}commands {run.commands} to {args.customers} customers over {args.numbers} "
        f"number(s), limit {args.rate}/s each"
    )
    print(f"{prefix}outcomes {run.outcomes}; refused 130429: {run.refused}")
    print(
        f"{prefix}achieved {run.per_number_rate_per_s:.1f}/s per number "
        f"= {run.per_number_rate_per_s / args.rate:.1%} of the limit; "
        f"total {run.total_rate_per_s:.1f} commands/s of {limit}/s over {run.span_s:.1f} s"
    )
    print(f"{prefix}busiest one-second window {run.worst_window} (limit {args.rate})")
    print(f"{prefix}closest two messages to one customer: {run.closest_pair_s:.3f} s")
    print(f"{prefix}sender CPU {run.cpu_ms_per_command:.2f} ms per command")


def main() -> None:
    # The sandbox process is started with "spawn": keep everything under main().
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=80, help="configured messages/s per number")
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--numbers", type=int, default=1, help="business numbers sending")
    parser.add_argument(
        "--baseline", metavar="REF", help="first run the sender of this git revision"
    )
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} at start")
    runs = []
    if args.baseline:
        with source_tree(args.baseline) as tree:
            runs.append(run_once(f"baseline {args.baseline}", tree, args))
        report(runs[-1], args)
    runs.append(run_once("this tree", ROOT, args))
    report(runs[-1], args)
    if args.baseline:
        before, after = runs
        print(
            f"speed-up: total rate x{after.total_rate_per_s / before.total_rate_per_s:.2f}, "
            f"CPU per command x{before.cpu_ms_per_command / after.cpu_ms_per_command:.2f} less"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
