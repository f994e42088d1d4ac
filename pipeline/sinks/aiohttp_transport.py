"""An ``httpx`` transport that moves the bytes with aiohttp's connection pool (HTTP/1.1).

Measured here against the sandbox, 16 concurrent keep-alive connections, 1,500 sends
(docs/benchmarks.md, "Sender"): httpx's own transport (httpcore on anyio) took 4.6–4.8 ms of
CPU per request, aiohttp's client 0.6 ms. The sender spends most of its CPU on the request, so
it keeps the ``httpx.AsyncClient`` (one pooled client, its timeouts and request building) and
swaps only the transport for HTTP/1.1. HTTP/2 to Meta (``h2`` installed, https) stays on
httpcore, which multiplexes every send over one connection.

Timeouts: httpx's per-request ``timeout`` extension is mapped onto aiohttp's, and an aiohttp
timeout comes back as the matching ``httpx.TimeoutException``, so callers see httpx's errors
only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import httpx


def answer_timeout(*, connect_s: float | None, read_s: float | None) -> aiohttp.ClientTimeout:
    """httpx's connect and read timeouts as aiohttp's (no total: a send has no deadline)."""
    return aiohttp.ClientTimeout(total=None, connect=connect_s, sock_read=read_s)


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running loop (aiohttp binds the session to it).
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._max_connections, limit_per_host=self._max_connections
                ),
                auto_decompress=False,  # httpx decodes Content-Encoding itself
                skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        status, headers, content = await self.exchange(
            request.method,
            str(request.url),
            headers=list(request.headers.multi_items()),
            body=request.content,  # the client built it in memory (json=…)
            timeout=answer_timeout(connect_s=timeouts.get("connect"), read_s=timeouts.get("read")),
            request=request,
        )
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Sequence[tuple[str, str]] | Mapping[str, str],
        body: bytes,
        timeout: aiohttp.ClientTimeout,
        request: httpx.Request | None = None,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """One request on the pool: (status, raw headers, body). The sender calls this
        directly for its POSTs: httpx's client layer (request building, URL merging, cookies)
        cost more CPU per send than this whole exchange (docs/benchmarks.md, Auto-reply)."""
        try:
            async with self._open().request(
                method,
                url,
                headers=headers,
                data=body or None,
                timeout=timeout,
                allow_redirects=False,
            ) as answer:
                content = await answer.read()
                return answer.status, list(answer.raw_headers), content
        except TimeoutError as exc:  # aiohttp's connect and read timeouts are TimeoutErrors
            raise httpx.ReadTimeout(f"no answer in time: {exc!r}", request=request) from exc
        except aiohttp.ClientConnectionError as exc:
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.TransportError(f"{type(exc).__name__}: {exc}", request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
