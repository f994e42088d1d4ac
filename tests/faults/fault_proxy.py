"""A Cloud API that misbehaves on demand: a loopback proxy in front of the sandbox.

Modes: ``pass`` forwards; ``5xx`` answers 500/502/503 without forwarding; ``lost`` holds the
request past the sender's timeout and drops it (it never reached the API); ``slow`` forwards,
so the API accepts the message, and answers only after the sender has timed out: the case
where only a status webhook can tell the sender its message went out.

A fault hits one message at most ``faults_per_message`` times (its command id is in the
body's ``biz_opaque_callback_data``); later attempts pass even inside a fault window, so a
test of temporary faults never runs out of the sender's retries by chance.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections import Counter
from concurrent.futures import Future
from typing import Any

import aiohttp
from aiohttp import web

from pipeline.runtime.broker import free_port

MODES = ("pass", "5xx", "lost", "slow")


class FaultProxy:
    def __init__(self, upstream: str, *, hold_s: float, faults_per_message: int = 2) -> None:
        self.upstream = upstream.rstrip("/")
        self.hold_s = hold_s
        self.faults_per_message = faults_per_message
        self._faulted: Counter[str] = Counter()
        self.mode = "pass"
        self.port = free_port()
        self.answers: Counter[str] = Counter()
        self._statuses = itertools.cycle((500, 502, 503))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._call(self._start())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: use one of {MODES}")
        self.mode = mode

    def _call(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=30)

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        mode = self.mode
        if mode != "pass":
            message = _callback_data(body)
            if self._faulted[message] >= self.faults_per_message:
                mode = "pass"
            else:
                self._faulted[message] += 1
        self.answers[mode] += 1
        if mode == "5xx":
            status = next(self._statuses)
            return web.Response(status=status, text=f"upstream trouble ({status})")
        if mode == "lost":
            await asyncio.sleep(self.hold_s)
            return web.Response(status=504, text="never forwarded")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"host"}}
        assert self._session is not None
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as upstream:
            payload = await upstream.read()
            status = upstream.status
        if mode == "slow":
            await asyncio.sleep(self.hold_s)
        return web.Response(status=status, body=payload, content_type="application/json")

    def close(self) -> None:
        async def stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            if self._session is not None:
                await self._session.close()

        self._call(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _callback_data(body: bytes) -> str:
    try:
        return str(json.loads(body).get("biz_opaque_callback_data", ""))
    except (ValueError, AttributeError):
        return ""
