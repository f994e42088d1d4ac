"""httpx over aiohttp's pool: the same requests, answers and errors as httpx's own transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from pipeline.policy.throughput import DEFAULT_PROFILE
from pipeline.runtime.broker import free_port
from pipeline.sinks.aiohttp_transport import AiohttpTransport
from pipeline.sinks.cloud_api import CloudApiClient, message_payload
from pipeline.sinks.sender_config import SenderConfig
from tests.sender.harness import command


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


# --- the Cloud API client's direct path (CloudApiClient over aiohttp, no httpx client layer) ---
@pytest.fixture
async def meta() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    """A stand-in for Meta's messages endpoint that records what it received; the customer's
    number picks the answer (…0 accepted, …1 refused with 131047, …2 answered too late)."""
    seen: list[dict[str, object]] = []

    async def messages(request: web.Request) -> web.Response:
        raw = await request.read()
        seen.append(
            {
                "path": request.path,
                "auth": request.headers.get("Authorization"),
                "type": request.headers.get("Content-Type"),
                "body": raw,
            }
        )
        to = json.loads(raw)["to"]
        if to.endswith("2"):
            await asyncio.sleep(2)
        if to.endswith("1"):
            error = {"error": {"code": 131047, "message": "Re-engagement message"}}
            return web.json_response(error, status=400)
        return web.json_response({"messages": [{"id": f"wamid.{to}"}]})

    app = web.Application()
    app.router.add_post("/v21.0/{number}/messages", messages)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/", seen
    await runner.cleanup()


def cloud_client(base_url: str, *, through_httpx: bool, timeout_s: float = 5.0) -> CloudApiClient:
    config = SenderConfig(
        base_url=base_url,
        api_version="v21.0",
        access_token="t0k",
        profile=DEFAULT_PROFILE,
        http_timeout_s=timeout_s,
    )
    # An explicit transport keeps httpx's client layer: the path the direct one replaced.
    transport = AiohttpTransport(max_connections=4) if through_httpx else None
    return CloudApiClient(config, transport=transport)


@pytest.mark.parametrize("customer", ["821012340000", "821012340001"])
async def test_direct_sends_what_httpx_sent_and_reads_the_same_answer(
    meta: tuple[str, list[dict[str, object]]], customer: str
) -> None:
    base_url, seen = meta
    reply = command(customer, kind="text", body="할인 쿠폰은 여기 ✓", reply_to_wamid="wamid.in")
    attempts = []
    for through_httpx in (True, False):
        api = cloud_client(base_url, through_httpx=through_httpx)
        attempts.append(await api.send(reply))
        await api.aclose()
    assert attempts[0] == attempts[1]
    assert attempts[1].accepted == customer.endswith("0")
    assert attempts[1].error_code == (None if customer.endswith("0") else 131047)
    via_httpx, direct = seen
    assert direct == via_httpx
    assert direct["path"] == "/v21.0/106540352242922/messages"
    assert direct["auth"] == "Bearer t0k"
    assert json.loads(direct["body"]) == message_payload(reply)  # type: ignore[arg-type]


async def test_direct_send_times_out_and_reports_no_answer(
    meta: tuple[str, list[dict[str, object]]],
) -> None:
    base_url, _ = meta
    api = cloud_client(base_url, through_httpx=False, timeout_s=0.2)
    late = await api.send(command("821012340002"))
    await api.aclose()
    assert late.timed_out and not late.accepted
    nobody = cloud_client(f"http://127.0.0.1:{free_port()}", through_httpx=False)
    refused = await nobody.send(command("821012340000"))
    await nobody.aclose()
    assert not refused.timed_out and not refused.accepted
    assert refused.detail.startswith("no answer")
