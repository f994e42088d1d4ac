"""How many sends per second the sandbox holds on this machine (issue 4: goal ≥ 1,000/s).

The sandbox runs in its own process, as it does beside the pipeline; client processes drive
it for a bounded time (≤ 20 s), then the figure is printed.

    .venv/bin/python bench/sandbox.py [--seconds 10] [--clients 1] [--concurrency 16]
                                      [--client lean|httpx|both] [--baseline] [--callback]

``--client lean`` (default) is bench/loadgen.py: pre-built keep-alive HTTP/1.1 requests on
raw asyncio streams, every answer checked (200 and a wamid). ``--client httpx`` is the
earlier client (one httpx.AsyncClient per sender), kept to show what the client cost;
``both`` runs httpx then lean against the same server. ``--baseline`` first measures the
server as it ran before (standard asyncio loop, CPython's default GC), then as
``wapipe sandbox`` runs it now (uvloop, GC tuned after start-up), in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing as mp
import os
import time
from dataclasses import dataclass, replace
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
import loadgen
from aiohttp import web

from pipeline import event_loop
from pipeline.sandbox import PopulationSpec, SandboxConfig, SandboxServer
from pipeline.sandbox.server import tune_gc_for_serving

TOKEN = "bench-token"
NUMBER_ID = "106540352242922"
MAX_SECONDS = 20.0  # bounded: the machine is shared


def serve(ready: Any, stop: Event, callback_url: str | None, loop: str, tune_gc: bool) -> None:
    async def main() -> None:
        config = replace(
            SandboxConfig(access_token=TOKEN, callback_url=callback_url),
            throughput_per_s=1_000_000.0,  # measure the server, not Meta's 80/s rule
            population=PopulationSpec(size=30_000),
        )
        server = SandboxServer(config)
        base_url = await server.start()
        if tune_gc:
            tune_gc_for_serving()  # what `wapipe sandbox` does after start-up
        ready.put(base_url)
        while not stop.is_set():
            await asyncio.sleep(0.1)
        ready.put(server.world.record.as_json(limit=0)["counts"])
        await server.stop()

    event_loop.run(main(), choice=loop)  # the loop `wapipe sandbox` runs on


def sink(ready: Any, stop: Event) -> None:
    """A webhook receiver that answers 200, for --callback runs."""

    async def main() -> None:
        async def ok(request: web.Request) -> web.Response:
            await request.read()
            return web.Response()

        app = web.Application()
        app.router.add_post("/webhook", ok)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        ready.put(f"http://127.0.0.1:{runner.addresses[0][1]}/webhook")
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await runner.cleanup()

    event_loop.run(main())


async def reachable_customers(base_url: str) -> list[str]:
    """Customers the sandbox delivers to, so every send in the run should be accepted."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        listing = (await client.get("/_sandbox/customers")).json()["customers"]
    return [c["wa_id"] for c in listing if c["reachable"]]


def send_body(wa_id: str) -> bytes:
    return json.dumps(
        {
            "messaging_product": "whatsapp",
            "to": wa_id,
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}},
        }
    ).encode()


def is_accepted(status: int, body: bytes) -> bool:
    """200 with Meta's success shape and a wamid; anything else is a failed send."""
    if status != 200:
        return False
    messages = json.loads(body).get("messages") or [{}]
    return str(messages[0].get("id", "")).startswith("wamid.")


async def drive_httpx(
    base_url: str, customers: list[str], seconds: float, concurrency: int
) -> loadgen.LoadResult:
    """The earlier client: one httpx.AsyncClient (one keep-alive connection) per sender."""
    # One connection per httpx client: one shared pool slowed down as connections grew
    # (measured here: 64 connections in one pool ran ~4x slower than one).
    clients = [httpx.AsyncClient(base_url=base_url, timeout=10) for _ in range(concurrency)]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    url = f"/v24.0/{NUMBER_ID}/messages"
    result = loadgen.LoadResult()
    order = itertools.count()
    started = time.perf_counter()
    deadline = started + seconds

    async def sender(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            wa_id = customers[next(order) % len(customers)]
            r = await client.post(url, content=send_body(wa_id), headers=headers)
            loadgen.tally(result, r.status_code, is_accepted(r.status_code, r.content))

    await asyncio.gather(*(sender(c) for c in clients))
    result.elapsed_s = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return result


async def drive_lean(
    base_url: str, customers: list[str], seconds: float, concurrency: int
) -> loadgen.LoadResult:
    target = loadgen.Target.from_url(base_url)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    path = f"/v24.0/{NUMBER_ID}/messages"
    requests = [
        loadgen.build_request("POST", target.host, path, body=send_body(w), headers=headers)
        for w in customers
    ]
    return await loadgen.closed_loop(
        target, requests, check=is_accepted, connections=concurrency, seconds=seconds
    )


def client_process(
    kind: str, base_url: str, seconds: float, concurrency: int, part: tuple[int, int], out: Any
) -> None:
    async def main() -> loadgen.LoadResult:
        index, parts = part
        # Each process its own customers: no two sends to one customer within the pair-rate
        # interval (131056) as long as a process's share lasts longer than 6 s.
        customers = (await reachable_customers(base_url))[index::parts]
        drive = drive_lean if kind == "lean" else drive_httpx
        return await drive(base_url, customers, seconds, concurrency)

    # The lean client on uvloop costs the least CPU; httpx stays as it was measured before.
    out.put(event_loop.run(main(), choice="uvloop" if kind == "lean" else "asyncio"))


def measure(
    ctx: Any, kind: str, base_url: str, seconds: float, clients: int, concurrency: int
) -> loadgen.LoadResult:
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=client_process,
            daemon=True,
            args=(kind, base_url, seconds, concurrency, (k, clients), results),
        )
        for k in range(clients)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join(timeout=10)
    return loadgen.merge(outcomes)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerVariant:
    name: str
    loop: str
    tune_gc: bool


#: The server as `wapipe sandbox` runs it, and as it ran before issue 4's throughput work.
CURRENT = ServerVariant(name="current server", loop="uvloop", tune_gc=True)
BASELINE = ServerVariant(name="baseline server", loop="asyncio", tune_gc=False)


def start_server(
    ctx: Any, stop: Event, callback_url: str | None, variant: ServerVariant
) -> tuple[Any, Any]:
    ready = ctx.Queue()
    proc = ctx.Process(
        target=serve,
        args=(ready, stop, callback_url, variant.loop, variant.tune_gc),
        daemon=True,
    )
    proc.start()
    return proc, ready


def main() -> None:
    parser = argparse.ArgumentParser(description="Sends per second the sandbox holds.")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--concurrency", type=int, default=16, help="connections per client")
    parser.add_argument(
        "--client", choices=("lean", "httpx", "both"), default="lean", help="load generator"
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="first measure the server as it was (asyncio loop, default GC), then as it is",
    )
    parser.add_argument("--callback", action="store_true", help="post webhooks to a local sink")
    args = parser.parse_args()
    seconds = min(args.seconds, MAX_SECONDS)
    kinds = ("httpx", "lean") if args.client == "both" else (args.client,)
    variants = (BASELINE, CURRENT) if args.baseline else (CURRENT,)
    ctx = mp.get_context("spawn")
    sink_stop = ctx.Event()
    sink_proc = None
    callback_url = None
    if args.callback:
        sink_ready = ctx.Queue()
        sink_proc = ctx.Process(target=sink, args=(sink_ready, sink_stop), daemon=True)
        sink_proc.start()
        callback_url = sink_ready.get(timeout=30)
    rows = []
    try:
        for variant in variants:
            stop = ctx.Event()
            proc, ready = start_server(ctx, stop, callback_url, variant)
            try:
                base_url = ready.get(timeout=120)
                for kind in kinds:
                    cpu_before = cpu_s(proc.pid)
                    result = measure(ctx, kind, base_url, seconds, args.clients, args.concurrency)
                    rows.append((variant, kind, result, cpu_s(proc.pid) - cpu_before))
            finally:
                stop.set()
            counts = ready.get(timeout=30)
            proc.join(timeout=10)
    finally:
        sink_stop.set()
        if sink_proc is not None:
            sink_proc.join(timeout=10)
    webhooks = "posted to a sink" if args.callback else "recorded only"
    # The last measurement (current server, chosen client) first and untagged: it is the
    # figure bench/run_all.py records; the comparisons follow, tagged.
    for n, (variant, kind, result, server_cpu_s) in enumerate(reversed(rows)):
        sends = result.ok + result.failed
        tag = "" if n == 0 else f" ({variant.name}, {kind} client)"
        print(f"sandbox{tag}: {result.ok_per_s:,.0f} accepted sends/s over {result.elapsed_s:.1f}s")
        print(
            f"  {args.clients} {kind} client process(es) x {args.concurrency} connections; "
            f"server on {variant.loop}, GC {'tuned' if variant.tune_gc else 'default'}; "
            f"{result.failed} not accepted {result.failures or ''}; "
            f"server CPU {server_cpu_s * 1e6 / max(sends, 1):,.0f} µs per send"
        )
        if kind == "lean":
            client_us = result.client_cpu_s * 1e6 / max(sends, 1)
            server_us = server_cpu_s * 1e6 / max(sends, 1)
            print(
                f"  load generator CPU {client_us:,.0f} µs per send; one free core for the "
                f"server would serve ~{1e6 / max(server_us, 1):,.0f} sends/s"
            )
    print(
        f"  last server's record: {counts['accepted']} accepted, {counts['emitted']} updates "
        f"emitted, {counts['posts']} webhook POSTs; webhooks {webhooks}"
    )


def cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
