"""Webhook ingestion benchmark: throughput and latency of signed single-message POSTs.

    .venv/bin/python bench/ingest.py [--seconds 5] [--concurrency 32] [--rate 500]
                                     [--client lean|aiohttp|both] [--baseline]

Starts an embedded Tansu broker and a ``wapipe run --roles ingest`` worker, then
1. throughput: ``--concurrency`` connections POST one-message webhooks back to back for
   ``--seconds``; prints POSTs/s (each answered 200 only after the broker's ack);
2. latency: an open-loop schedule of ``--rate`` POSTs/s for ``--seconds``; prints p50/p99,
   each request timed from when it was due.
Every answer is checked (200 and ``"accepted":1``). ``--client lean`` (default) is
bench/loadgen.py, pre-built keep-alive requests on raw asyncio streams in ``--clients``
processes; ``aiohttp`` is the earlier client session, kept for comparison. ``--baseline``
first measures a worker with the earlier settings (asyncio loop, per-record Faust sends),
then the current ones, in the same run. Bounded: well under 90 s. Goal (issue 3):
≥ 2,000 POST/s and p99 < 50 ms at 500/s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import loadgen

from pipeline import event_loop
from pipeline.ingest.signature import SIGNATURE_HEADER, sign
from pipeline.runtime.broker import EmbeddedBroker
from tests.support.workers import WorkerProcess

APP_SECRET = b"bench-app-secret"


def webhook_body(n: int) -> bytes:
    message = {
        "from": f"8210{n % 100_000_000:08d}",
        "id": f"wamid.bench.{n}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": f"hello {n}"},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": message["from"]}],
        "messages": [message],
    }
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(envelope).encode()


def signed_requests(count: int, *, first: int) -> list[tuple[bytes, dict[str, str]]]:
    """Bodies and headers made before timing: signing is Meta's work, not the server's."""
    out = []
    for n in range(first, first + count):
        body = webhook_body(n)
        out.append((body, {SIGNATURE_HEADER: sign(body, app_secret=APP_SECRET)}))
    return out


async def post(
    session: aiohttp.ClientSession, url: str, request: tuple[bytes, dict[str, str]]
) -> float:
    body, headers = request
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as resp:
        await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"POST answered {resp.status}")
    return time.perf_counter() - started


async def throughput(url: str, *, seconds: float, concurrency: int, first: int = 0) -> float:
    # Enough distinct requests for 5,000 POST/s; reused round-robin if the server is faster.
    requests = signed_requests(int(5000 * seconds), first=first)
    counter = itertools.cycle(requests)
    deadline = time.perf_counter() + seconds
    done = 0

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await post(session, url, next(counter))
            done += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


async def latency(url: str, *, seconds: float, rate_per_s: float) -> list[float]:
    total = int(seconds * rate_per_s)
    requests = signed_requests(total, first=10**8)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        tasks = []
        for n in range(total):
            # Open loop: requests leave on schedule whatever the server's speed.
            delay = started + n / rate_per_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(post(session, url, requests[n])))
        return sorted(await asyncio.gather(*tasks))


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc), to report CPU per POST."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_s: list[float], q: float) -> float:
    return sorted_s[min(len(sorted_s) - 1, int(q * len(sorted_s)))] * 1000


def is_accepted(status: int, body: bytes) -> bool:
    return status == 200 and json.loads(body) == {"accepted": 1, "dead_lettered": 0}


def lean_requests(url: str, count: int, *, first: int) -> list[bytes]:
    target = loadgen.Target.from_url(url)
    path = "/" + url.split("/", 3)[3]
    return [
        loadgen.build_request(
            "POST",
            f"{target.host}:{target.port}",
            path,
            body=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        for body, headers in signed_requests(count, first=first)
    ]


def lean_throughput_process(
    url: str, seconds: float, connections: int, first: int, out: Any
) -> None:
    requests = lean_requests(url, int(3000 * seconds), first=first)
    target = loadgen.Target.from_url(url)
    result = event_loop.run(
        loadgen.closed_loop(
            target, requests, check=is_accepted, connections=connections, seconds=seconds
        )
    )
    out.put(result)


def lean_throughput(
    url: str, *, seconds: float, concurrency: int, clients: int
) -> loadgen.LoadResult:
    """``clients`` processes share ``concurrency`` connections; all answers are checked."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    per_client = max(1, concurrency // clients)
    procs = [
        ctx.Process(
            target=lean_throughput_process,
            args=(url, seconds, per_client, (k + 1) * 10**7, results),
            daemon=True,
        )
        for k in range(clients)
    ]
    for proc in procs:
        proc.start()
    merged = loadgen.merge([results.get(timeout=seconds + 120) for _ in procs])
    for proc in procs:
        proc.join(timeout=10)
    if merged.failed:
        raise RuntimeError(f"{merged.failed} POSTs not accepted: {merged.failures}")
    return merged


def lean_latency(url: str, *, seconds: float, rate_per_s: float) -> list[float]:
    requests = lean_requests(url, int(seconds * rate_per_s), first=10**8)
    result = event_loop.run(
        loadgen.open_loop(
            loadgen.Target.from_url(url),
            requests,
            check=is_accepted,
            rate_per_s=rate_per_s,
            seconds=seconds,
        )
    )
    if result.failed:
        raise RuntimeError(f"{result.failed} POSTs not accepted: {result.failures}")
    return result.latencies_s


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    rate_per_s: float
    cpu_ms_per_post: float
    broker_cpu_ms_per_post: float
    client_cpu_ms_per_post: float | None  # measured for the lean client only
    cpu_ms_per_post_at_rate: float  # worker CPU per POST in phase 2 (fixed rate)
    latencies_s: list[float]


def measure(
    broker: EmbeddedBroker, tmp: Path, args: argparse.Namespace, client: str, env: dict[str, str]
) -> Figures:
    worker = WorkerProcess(
        bootstrap=broker.bootstrap_servers,
        data_dir=tmp,
        app_id="wapipe-bench-ingest",
        roles="ingest",
        env={
            "WAPIPE_WHATSAPP_APP_SECRET": APP_SECRET.decode(),
            "WAPIPE_LOG_LEVEL": "warning",
            **env,
        },
    )
    worker.start()
    try:
        if worker.proc is None:
            raise RuntimeError("worker did not start")
        url = worker.url + "/webhooks/whatsapp"
        asyncio.run(throughput(url, seconds=1.0, concurrency=4, first=10**9))  # warm-up
        broker_pid = broker.pid or 0
        cpu_before, broker_before = cpu_s(worker.proc.pid), cpu_s(broker_pid)
        started = time.perf_counter()
        client_cpu_ms = None
        if client == "lean":
            result = lean_throughput(
                url, seconds=args.seconds, concurrency=args.concurrency, clients=args.clients
            )
            rate = result.ok_per_s
            client_cpu_ms = result.client_cpu_s * 1000 / max(result.ok, 1)
        else:
            rate = asyncio.run(throughput(url, seconds=args.seconds, concurrency=args.concurrency))
        posts = max(rate * (time.perf_counter() - started), 1)
        cpu_ms_per_post = (cpu_s(worker.proc.pid) - cpu_before) * 1000 / posts
        broker_ms_per_post = (cpu_s(broker_pid) - broker_before) * 1000 / posts
        # CPU per POST at a fixed offered rate: comparable between workers, unlike phase 1,
        # where a faster run also batches more records per produce request.
        cpu_before = cpu_s(worker.proc.pid)
        if client == "lean":
            lat = lean_latency(url, seconds=args.seconds, rate_per_s=args.rate)
        else:
            lat = asyncio.run(latency(url, seconds=args.seconds, rate_per_s=args.rate))
        cpu_ms_at_rate = (cpu_s(worker.proc.pid) - cpu_before) * 1000 / max(len(lat), 1)
    finally:
        worker.stop()
    return Figures(
        rate_per_s=rate,
        cpu_ms_per_post=cpu_ms_per_post,
        broker_cpu_ms_per_post=broker_ms_per_post,
        client_cpu_ms_per_post=client_cpu_ms,
        cpu_ms_per_post_at_rate=cpu_ms_at_rate,
        latencies_s=lat,
    )


#: The worker as it was before issue 3's throughput work: standard loop, one Faust send each.
BASELINE_ENV = {"WAPIPE_EVENT_LOOP": "asyncio", "WAPIPE_INGEST_PRODUCE": "faust"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    parser.add_argument("--concurrency", type=int, default=32, help="connections in phase 1")
    parser.add_argument("--clients", type=int, default=2, help="lean client processes")
    parser.add_argument("--rate", type=float, default=500.0, help="POSTs/s in phase 2")
    parser.add_argument("--client", choices=("lean", "aiohttp", "both"), default="lean")
    parser.add_argument(
        "--baseline", action="store_true", help="also measure the earlier worker settings"
    )
    args = parser.parse_args()
    clients = ("aiohttp", "lean") if args.client == "both" else (args.client,)
    workers = (("baseline worker", BASELINE_ENV),) if args.baseline else ()
    workers += (("worker", {}),)
    rows = []
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        for name, env in workers:
            for client in clients:
                rows.append((name, client, measure(broker, Path(tmp), args, client, env)))
    # The last measurement (current worker, chosen client) first and untagged: it is the
    # figure bench/run_all.py records; the comparisons follow, tagged.
    for n, (name, client, fig) in enumerate(reversed(rows)):
        tag = "" if n == 0 else f" [{name}, {client} client]"
        lat = fig.latencies_s
        print(
            f"throughput{tag}: {fig.rate_per_s:,.0f} single-message POST/s "
            f"(concurrency {args.concurrency}, {client} client)"
        )
        print(
            f"worker CPU{tag}: {fig.cpu_ms_per_post:.2f} ms per POST "
            f"(one free core would serve ~{1000 / fig.cpu_ms_per_post:,.0f} POST/s)"
        )
        client_ms = fig.client_cpu_ms_per_post
        if client_ms is not None:
            total_ms = fig.cpu_ms_per_post + fig.broker_cpu_ms_per_post + client_ms
            print(
                f"CPU per POST{tag}: worker {fig.cpu_ms_per_post:.2f} + broker "
                f"{fig.broker_cpu_ms_per_post:.2f} + load generator {client_ms:.2f} = "
                f"{total_ms:.2f} ms (two free cores would serve ~{2000 / total_ms:,.0f} POST/s)"
            )
        print(
            f"latency{tag} at {args.rate:.0f} POST/s: p50 {percentile(lat, 0.50):.1f} ms, "
            f"p99 {percentile(lat, 0.99):.1f} ms ({len(lat)} POSTs); "
            f"worker CPU {fig.cpu_ms_per_post_at_rate:.2f} ms per POST at this rate"
        )


if __name__ == "__main__":
    main()
