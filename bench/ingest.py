"""Webhook ingestion benchmark: throughput and latency of signed single-message POSTs.

    .venv/bin/python bench/ingest.py [--seconds 5] [--concurrency 32] [--rate 500]

Starts an embedded Tansu broker and a ``wapipe run --roles ingest`` worker, then
1. throughput: ``--concurrency`` clients POST one-message webhooks back to back for
   ``--seconds``; prints POSTs/s (each answered 200 only after the broker's ack);
2. latency: an open-loop schedule of ``--rate`` POSTs/s for ``--seconds``; prints p50/p99.
Bounded: start-up plus two phases, well under 60 s. Goal (issue 3): ≥ 2,000 POST/s and
p99 < 50 ms at 500/s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    parser.add_argument("--concurrency", type=int, default=32, help="clients in phase 1")
    parser.add_argument("--rate", type=float, default=500.0, help="POSTs/s in phase 2")
    args = parser.parse_args()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        worker = WorkerProcess(
            bootstrap=broker.bootstrap_servers,
            data_dir=Path(tmp),
            app_id="wapipe-bench-ingest",
            roles="ingest",
            env={"WAPIPE_WHATSAPP_APP_SECRET": APP_SECRET.decode(), "WAPIPE_LOG_LEVEL": "warning"},
        )
        worker.start()
        try:
            url = worker.url + "/webhooks/whatsapp"
            asyncio.run(throughput(url, seconds=1.0, concurrency=4, first=10**9))  # warm-up
            if worker.proc is None:
                raise RuntimeError("worker did not start")
            cpu_before = cpu_s(worker.proc.pid)
            started = time.perf_counter()
            rate = asyncio.run(throughput(url, seconds=args.seconds, concurrency=args.concurrency))
            posts = rate * (time.perf_counter() - started)
            cpu_ms_per_post = (cpu_s(worker.proc.pid) - cpu_before) * 1000 / max(posts, 1)
            lat = asyncio.run(latency(url, seconds=args.seconds, rate_per_s=args.rate))
        finally:
            worker.stop()
    print(f"throughput: {rate:,.0f} single-message POST/s (concurrency {args.concurrency})")
    print(
        f"worker CPU: {cpu_ms_per_post:.2f} ms per POST "
        f"(one free core would serve ~{1000 / cpu_ms_per_post:,.0f} POST/s)"
    )
    print(
        f"latency at {args.rate:.0f} POST/s: p50 {percentile(lat, 0.50):.1f} ms, "
        f"p99 {percentile(lat, 0.99):.1f} ms ({len(lat)} POSTs)"
    )


if __name__ == "__main__":
    main()
