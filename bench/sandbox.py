"""How many sends per second the sandbox holds on this machine (issue 4: goal ≥ 1,000/s).

The sandbox runs in its own process, as it does beside the pipeline; client processes drive
it with httpx for a bounded time (≤ 20 s), then the figure is printed.

    .venv/bin/python bench/sandbox.py [--seconds 10] [--clients 2] [--concurrency 16] [--callback]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import time
from dataclasses import replace
from multiprocessing.synchronize import Event
from typing import Any

import httpx
from aiohttp import web

from pipeline.sandbox import PopulationSpec, SandboxConfig, SandboxServer

TOKEN = "bench-token"
NUMBER_ID = "106540352242922"
MAX_SECONDS = 20.0  # bounded: the machine is shared


def serve(ready: Any, stop: Event, callback_url: str | None) -> None:
    async def main() -> None:
        config = replace(
            SandboxConfig(access_token=TOKEN, callback_url=callback_url),
            throughput_per_s=1_000_000.0,  # measure the server, not Meta's 80/s rule
            population=PopulationSpec(size=30_000),
        )
        server = SandboxServer(config)
        ready.put(await server.start())
        while not stop.is_set():
            await asyncio.sleep(0.1)
        ready.put(server.world.record.as_json(limit=0)["counts"])
        await server.stop()

    asyncio.run(main())


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

    asyncio.run(main())


async def drive(
    base_url: str, seconds: float, concurrency: int, offset: int
) -> tuple[int, int, float]:
    # One connection per httpx client: one shared pool slowed down as connections grew
    # (measured here: 64 connections in one pool ran ~4x slower than one), so each sender
    # keeps its own keep-alive connection.
    clients = [httpx.AsyncClient(base_url=base_url, timeout=10) for _ in range(concurrency)]
    listing = (await clients[0].get("/_sandbox/customers")).json()["customers"]
    customers = [c["wa_id"] for c in listing]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"/v24.0/{NUMBER_ID}/messages"
    counts = {"ok": 0, "errors": 0, "next": offset}
    started = time.perf_counter()
    deadline = started + seconds

    async def sender(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            wa_id = customers[counts["next"] % len(customers)]
            counts["next"] += 1
            body = {
                "messaging_product": "whatsapp",
                "to": wa_id,
                "type": "template",
                "template": {"name": "hello_world", "language": {"code": "en_US"}},
            }
            r = await client.post(url, json=body, headers=headers)
            counts["ok" if r.status_code == 200 else "errors"] += 1

    await asyncio.gather(*(sender(c) for c in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return counts["ok"], counts["errors"], elapsed


def client_process(base_url: str, seconds: float, concurrency: int, offset: int, out: Any) -> None:
    out.put(asyncio.run(drive(base_url, seconds, concurrency, offset)))


def main() -> None:
    parser = argparse.ArgumentParser(description="Sends per second the sandbox holds.")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--concurrency", type=int, default=16, help="senders per client")
    parser.add_argument("--callback", action="store_true", help="post webhooks to a local sink")
    args = parser.parse_args()
    seconds = min(args.seconds, MAX_SECONDS)
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    helpers = []
    callback_url = None
    if args.callback:
        sink_ready = ctx.Queue()
        helpers.append(ctx.Process(target=sink, args=(sink_ready, stop), daemon=True))
        helpers[-1].start()
        callback_url = sink_ready.get(timeout=30)
    ready = ctx.Queue()
    helpers.append(ctx.Process(target=serve, args=(ready, stop, callback_url), daemon=True))
    helpers[-1].start()
    try:
        base_url = ready.get(timeout=60)
        results = ctx.Queue()
        clients = [
            ctx.Process(
                target=client_process,
                daemon=True,
                args=(base_url, seconds, args.concurrency, k * 10_000, results),
            )
            for k in range(args.clients)
        ]
        for proc in clients:
            proc.start()
        outcomes = [results.get(timeout=seconds + 60) for _ in clients]
    finally:
        stop.set()
    counts = ready.get(timeout=30)
    for proc in helpers + clients:
        proc.join(timeout=10)
    ok, errors = sum(o[0] for o in outcomes), sum(o[1] for o in outcomes)
    elapsed = max(o[2] for o in outcomes)  # the clients send over the same window
    webhooks = "posted to a sink" if args.callback else "recorded only"
    print(f"sandbox: {ok / elapsed:,.0f} accepted sends/s over {elapsed:.1f}s")
    print(
        f"  {args.clients} httpx client processes x {args.concurrency} senders; "
        f"{errors} refused (unreachable numbers); webhooks {webhooks}"
    )
    print(
        f"  record: {counts['accepted']} accepted, {counts['emitted']} updates emitted, "
        f"{counts['posts']} webhook POSTs"
    )


if __name__ == "__main__":
    main()
