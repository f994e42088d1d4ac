"""Run every bench/*.py at a quick size, collect the figure each prints, and write a summary
table into docs/benchmarks.md between the bench-summary markers (the rest of the file is
left as written).

    .venv/bin/python bench/run_all.py            # quick sizes (what `make bench` runs)
    .venv/bin/python bench/run_all.py --full     # each script's own default size
    .venv/bin/python bench/run_all.py --only ingest,sink --no-write

A benchmark that measures a baseline in the same run (the engagement agent against a plain
confluent-kafka loop, the sink before and after its columnar decode) gets the ratio printed.
A script this file does not know still runs, and its last output line is recorded.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START = "<!-- bench-summary:start -->"
END = "<!-- bench-summary:end -->"
NUMBER = r"([\d,]+(?:\.\d+)?)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    label: str
    pattern: str  # first group: the number; the matched text is what the table shows
    goal: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Ratio:
    """``label`` = value of ``over`` / value of ``under`` (two figure labels of one bench)."""

    label: str
    over: str
    under: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Bench:
    script: str
    quick: tuple[str, ...]
    figures: tuple[Figure, ...]
    ratios: tuple[Ratio, ...] = ()
    timeout_s: float = 900


BENCHES: tuple[Bench, ...] = (
    Bench(
        script="sandbox.py",
        quick=("--seconds", "5"),
        figures=(
            Figure(label="sandbox sends", pattern=rf"sandbox: {NUMBER} accepted", goal="≥ 1,000/s"),
            Figure(
                label="sandbox server CPU per send (µs)",
                pattern=rf"server CPU {NUMBER} µs per send",
                goal="-",
            ),
        ),
    ),
    Bench(
        script="ingest.py",
        quick=("--seconds", "3"),
        figures=(
            Figure(
                label="webhook POSTs", pattern=rf"throughput: {NUMBER} single", goal="≥ 2,000/s"
            ),
            Figure(label="p99 at 500 POST/s", pattern=rf"p99 {NUMBER} ms", goal="< 50 ms"),
            Figure(label="worker CPU per POST", pattern=rf"worker CPU: {NUMBER} ms", goal="-"),
            Figure(
                label="ingest CPU per POST, worker + broker + client (ms)",
                pattern=rf"= {NUMBER} ms \(two free cores",
                goal="-",
            ),
        ),
    ),
    Bench(
        script="sink.py",
        quick=("--events", "50000", "--batch", "10000"),
        figures=(
            Figure(label="sink decode before", pattern=rf"before \d+ ms \({NUMBER}/s\)", goal="-"),
            Figure(label="sink decode after", pattern=rf"after \d+ ms \({NUMBER}/s\)", goal="-"),
            Figure(
                label="sink Kafka → ClickHouse",
                pattern=rf"{NUMBER} events/s from the first insert",
                goal="-",
            ),
        ),
        ratios=(
            Ratio(
                label="sink decode after / before",
                over="sink decode after",
                under="sink decode before",
            ),
        ),
    ),
    Bench(
        script="engagement.py",
        quick=("--events", "100000", "--customers", "10000", "--baseline"),
        figures=(
            Figure(
                label="confluent-kafka ceiling",
                pattern=rf"ceiling \(confluent.*?: {NUMBER} events/s",
                goal="-",
            ),
            Figure(
                label="engagement agent before",
                pattern=rf"engagement agent before .*?: {NUMBER} events/s",
                goal="-",
            ),
            Figure(
                label="engagement agent",
                pattern=rf"engagement agent \(Faust.*?: {NUMBER} events/s",
                goal="≥ 20,000/s",
            ),
        ),
        ratios=(
            Ratio(
                label="agent / ceiling", over="engagement agent", under="confluent-kafka ceiling"
            ),
            Ratio(
                label="agent after / before",
                over="engagement agent",
                under="engagement agent before",
            ),
        ),
        timeout_s=1800,  # the per-event baseline runs too
    ),
    Bench(
        script="throttle.py",
        quick=("--commands", "500", "--customers", "500"),
        figures=(
            Figure(label="sender rate used", pattern=rf"= {NUMBER}% of the limit", goal="≥ 95%"),
            Figure(
                label="busiest second",
                pattern=rf"busiest one-second window {NUMBER}",
                goal="≤ limit",
            ),
            Figure(
                label="sender CPU per command",
                pattern=rf"sender CPU {NUMBER} ms per command",
                goal="-",
            ),
        ),
    ),
    Bench(
        script="idle.py",
        quick=("--seconds", "5"),
        figures=(
            Figure(
                label="idle worker CPU (% of a core)",
                pattern=rf"idle worker: {NUMBER}% of a core",
                goal="-",
            ),
            Figure(
                label="embedded broker CPU beside it (%)",
                pattern=rf"idle worker: [\d.]+% of a core, broker {NUMBER}%",
                goal="-",
            ),
        ),
    ),
    Bench(
        script="autoreply_latency.py",
        quick=("--seconds", "5", "--baseline"),
        figures=(
            Figure(
                label="auto-reply p50 at 200/s",
                pattern=rf"auto-reply \(consumer fetch wait \d+ ms\).*?p50 {NUMBER} ms",
                goal="-",
            ),
            Figure(
                label="auto-reply p99 at 200/s",
                pattern=rf"auto-reply \(consumer fetch wait \d+ ms\).*?p99 {NUMBER} ms",
                goal="< 100 ms",
            ),
            Figure(
                label="auto-reply p99, Faust's fetch wait",
                pattern=rf"baseline \(consumer fetch wait \d+ ms\).*?p99 {NUMBER} ms",
                goal="-",
            ),
        ),
    ),
    Bench(
        script="campaigns.py",
        quick=("--customers", "20000"),
        figures=(
            Figure(
                label="campaign expansion (wall)",
                pattern=rf"wall time, all\s+{NUMBER} s",
                goal="< 10 s at 100,000",
            ),
            Figure(label="campaign commands", pattern=rf"commands\s+{NUMBER}", goal="-"),
        ),
    ),
    Bench(
        script="clickhouse.py",
        quick=("--insert-rows", "200000", "--events", "1000000"),
        figures=(
            Figure(
                label="chDB insert before",
                pattern=rf"inbound_messages, optimize_on_insert = 1 \(before\)\s+{NUMBER} rows/s",
                goal="-",
            ),
            Figure(
                label="chDB insert",
                pattern=rf"inbound_messages\s+{NUMBER} rows/s",
                goal="≥ 500,000 rows/s",
            ),
            Figure(
                label="funnel by campaign, parts as written",
                pattern=rf"funnel by campaign, parts as written\s+{NUMBER} ms",
                goal="< 200 ms",
            ),
            Figure(
                label="funnel by campaign",
                pattern=rf"funnel by campaign \(rollup\)\s+{NUMBER} ms",
                goal="< 200 ms",
            ),
            Figure(
                label="funnel + attribution",
                pattern=rf"funnel \+ replies \+ conversions\s+{NUMBER} ms",
                goal="< 2,000 ms",
            ),
        ),
        ratios=(
            Ratio(
                label="chDB insert after / before",
                over="chDB insert",
                under="chDB insert before",
            ),
        ),
    ),
    Bench(
        script="soak.py",
        quick=("--minutes", "5", "--customers", "500"),
        figures=(
            Figure(label="soak RSS growth", pattern=r"\(([+-][\d.]+)%, limit", goal="< +10%"),
        ),
        timeout_s=600,
    ),
)


@dataclass
class Outcome:
    bench: Bench
    command: str
    seconds: float
    code: int
    values: dict[str, tuple[float, str]] = field(default_factory=dict)  # label → (value, text)
    tail: str = ""


def run(bench: Bench, *, full: bool) -> Outcome:
    args = [sys.executable, str(ROOT / "bench" / bench.script), *(() if full else bench.quick)]
    command = " ".join([".venv/bin/python", f"bench/{bench.script}", *args[2:]])
    print(f"== {command}", flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run(
            args, cwd=ROOT, capture_output=True, text=True, timeout=bench.timeout_s, check=False
        )
        out, code = done.stdout, done.returncode
    except subprocess.TimeoutExpired as exc:
        out, code = (
            (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or ""),
            -9,
        )
    outcome = Outcome(bench=bench, command=command, seconds=time.monotonic() - started, code=code)
    lines = [line for line in out.splitlines() if line.strip()]
    outcome.tail = lines[-1] if lines else ""
    for figure in bench.figures:
        match = re.search(figure.pattern, out)
        if match:
            outcome.values[figure.label] = (float(match.group(1).replace(",", "")), match.group(0))
    print("\n".join(lines[-6:]))
    for ratio in bench.ratios:
        if ratio.over in outcome.values and ratio.under in outcome.values:
            value = outcome.values[ratio.over][0] / outcome.values[ratio.under][0]
            print(f"ratio {ratio.label}: {value:.2f}")
    return outcome


def table(outcomes: list[Outcome], *, machine: str, date: str) -> str:
    rows = ["| figure | value | goal | command | machine | date |", "|---|---|---|---|---|---|"]
    for o in outcomes:
        cmd = f"`{o.command}`"
        for figure in o.bench.figures:
            got = o.values.get(figure.label)
            shown = (
                f"{got[0]:,.2f}".rstrip("0").rstrip(".") if got else f"no figure (exit {o.code})"
            )
            rows.append(
                f"| {figure.label} | {shown} | {figure.goal} | {cmd} | {machine} | {date} |"
            )
        for ratio in o.bench.ratios:
            if ratio.over in o.values and ratio.under in o.values:
                value = o.values[ratio.over][0] / o.values[ratio.under][0]
                rows.append(
                    f"| ratio {ratio.label} | {value:.2f} | - | {cmd} | {machine} | {date} |"
                )
    return "\n".join(rows)


def write_summary(text: str) -> None:
    doc = DOC.read_text()
    block = f"{START}\n{text}\n{END}"
    if START in doc and END in doc:
        before, rest = doc.split(START, 1)
        after = rest.split(END, 1)[1]
        doc = before + block + after
    else:  # first run: the summary goes right under the title
        title, _, body = doc.partition("\n")
        doc = f"{title}\n\n## Summary (bench/run_all.py)\n\n{block}\n{body}"
    DOC.write_text(doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="each script's default size")
    parser.add_argument("--only", help="comma-separated script names (without .py)")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch the doc")
    args = parser.parse_args()
    known = {b.script: b for b in BENCHES}
    # Not benchmarks: loadgen.py is the lean HTTP client the others drive load with, and
    # quix_engagement.py is what engagement.py --quix runs in Quix Streams' environment.
    not_benches = {"run_all.py", "loadgen.py", "quix_engagement.py"}
    scripts = sorted(p.name for p in (ROOT / "bench").glob("*.py") if p.name not in not_benches)
    benches = [known.get(s, Bench(script=s, quick=(), figures=())) for s in scripts]
    if args.only:
        wanted = {f"{name.strip()}.py" for name in args.only.split(",")}
        benches = [b for b in benches if b.script in wanted]
    outcomes = [run(b, full=args.full) for b in benches]
    machine = (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    text = table(outcomes, machine=machine, date=date)
    unknown = [o for o in outcomes if not o.bench.figures]
    if unknown:
        text += "\n\n" + "\n".join(f"- `{o.command}`: {o.tail}" for o in unknown)
    print(text)
    if not args.no_write:
        write_summary(text)
        print(f"wrote the summary table to {DOC.relative_to(ROOT)}")
    return 0 if all(o.code == 0 for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
