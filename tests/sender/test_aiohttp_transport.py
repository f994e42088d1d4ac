"""httpx over aiohttp's pool: the same requests, answers and errors as httpx's own transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from pipeline.runtime.broker import free_port
from pipeline.sinks.aiohttp_transport import AiohttpTransport


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def messages(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("slow"):
            await asyncio.sleep(2)
        return web.json_response(
            {"echo": body, "auth": request.headers.get("Authorization"), "path": request.path},
            status=201 if body.get("created") else 200,
            headers={"X-Trace": "t-1"},
        )

    app = web.Application()
    app.router.add_post("/v1/{number}/messages", messages)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def client(base_url: str, *, read_timeout_s: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": "Bearer t0k"},
        timeout=httpx.Timeout(read_timeout_s, connect=1.0),
        transport=AiohttpTransport(max_connections=4),
    )


async def test_request_and_answer_round_trip(server: str) -> None:
    async with client(server) as http:
        answers = await asyncio.gather(
            *(http.post("/v1/106/messages", json={"n": i, "created": i % 2}) for i in range(10))
        )
    for i, answer in enumerate(answers):
        assert answer.status_code == (201 if i % 2 else 200)
        assert answer.headers["x-trace"] == "t-1"
        doc = json.loads(answer.content)
        assert doc == {
            "echo": {"n": i, "created": i % 2},
            "auth": "Bearer t0k",
            "path": "/v1/106/messages",
        }


async def test_a_late_answer_is_an_httpx_timeout(server: str) -> None:
    async with client(server, read_timeout_s=0.2) as http:
        with pytest.raises(httpx.TimeoutException):
            await http.post("/v1/106/messages", json={"slow": True})


async def test_no_server_is_an_httpx_transport_error() -> None:
    async with client(f"http://127.0.0.1:{free_port()}") as http:
        with pytest.raises(httpx.TransportError):
            await http.post("/v1/106/messages", json={})
