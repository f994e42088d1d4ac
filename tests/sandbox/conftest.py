"""Fixtures: an in-process sandbox on a frozen clock, a recording callback server, a client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
from aiohttp import web

from pipeline.sandbox import (
    BehaviourRates,
    PopulationSpec,
    SandboxClock,
    SandboxConfig,
    SandboxServer,
)
from pipeline.sandbox.config import DeliverySpec

# 2026-03-02 06:00 UTC = 15:00 in Seoul: outside the read peaks for KR customers.
T0 = 1_772_431_200.0
NUMBER_ID = "106540352242922"
TOKEN = "test-token"
SECRET = "test-app-secret"


@dataclass
class Callback:
    """A tiny webhook receiver that answers ``fail_first`` requests with 500, then 200."""

    fail_first: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((dict(request.headers), body))
        status = 500 if len(self.answers) < self.fail_first else 200
        self.answers.append(status)
        return web.Response(status=status)

    def bodies(self) -> list[dict[str, Any]]:
        return [
            json.loads(b) for (_, b), a in zip(self.received, self.answers, strict=True) if a == 200
        ]

    def items(self, list_key: str) -> list[dict[str, Any]]:
        out = []
        for body in self.bodies():
            for entry in body["entry"]:
                for change in entry["changes"]:
                    out.extend(change["value"].get(list_key, []))
        return out


@pytest.fixture
async def callback() -> AsyncIterator[Callback]:
    cb = Callback()
    app = web.Application()
    app.router.add_post("/webhook", cb.handle)
    app.router.add_post("/purchases", cb.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    cb.url = f"http://127.0.0.1:{port}"
    yield cb
    await runner.cleanup()


def make_config(**overrides: Any) -> SandboxConfig:
    base = SandboxConfig(
        access_token=TOKEN,
        app_secret=SECRET,
        seed=11,
        population=PopulationSpec(size=200),
        behaviour=BehaviourRates(inbound_per_customer_day=0.0),
        delivery=DeliverySpec(batch_window_s=0.01, retry_initial_s=0.02, retry_max_s=0.1),
    )
    return replace(base, **overrides)


SandboxFactory = Callable[..., "AsyncIterator[SandboxServer]"]


@pytest.fixture
async def start_sandbox() -> AsyncIterator[Callable[..., Any]]:
    """``server = await start_sandbox(**config_overrides)``: frozen clock at T0, stopped after."""
    servers: list[SandboxServer] = []

    async def start(**overrides: Any) -> SandboxServer:
        server = SandboxServer(make_config(**overrides), clock=SandboxClock(start_s=T0, speed=0))
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def sandbox(start_sandbox: Callable[..., Any]) -> SandboxServer:
    server: SandboxServer = await start_sandbox()
    return server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def send(
    http: httpx.AsyncClient,
    server: SandboxServer,
    body: dict[str, Any] | bytes,
    *,
    token: str | None = TOKEN,
    number_id: str = NUMBER_ID,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    url = f"{server.base_url}/v24.0/{number_id}/messages"
    if isinstance(body, bytes):
        return await http.post(url, content=body, headers=headers)
    return await http.post(url, json=body, headers=headers)


def text(to: str, body: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body},
        **extra,
    }


def template(
    to: str,
    name: str = "order_shipped",
    lang: str = "en_US",
    params: tuple[str, ...] = ("A-1", "tomorrow"),
    **extra: Any,
) -> dict[str, Any]:
    components = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "template",
        "template": {"name": name, "language": {"code": lang}, "components": components},
        **extra,
    }


def customer_in(server: SandboxServer, calling_code: str, *, index: int = 0) -> str:
    """A reachable customer of the population from one country, marketing still on."""
    found = [
        c.wa_id
        for c in server.world.population
        if c.calling_code == calling_code and c.reachable and not c.marketing_stopped
    ]
    return found[index]
