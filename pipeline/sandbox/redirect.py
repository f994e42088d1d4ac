"""Point an unmodified Graph API client at the sandbox through its httpx transport.

Clients such as pywa build ``https://graph.facebook.com/vNN/...`` themselves; handing them an
``httpx`` client with one of these transports sends the same request to the sandbox instead,
without touching the client's code (httpx's documented extension point).
"""

from __future__ import annotations

import httpx


def _retarget(request: httpx.Request, base: httpx.URL) -> None:
    request.url = request.url.copy_with(scheme=base.scheme, host=base.host, port=base.port)
    request.headers["Host"] = base.netloc.decode()


class SandboxRedirectTransport(httpx.BaseTransport):
    """Synchronous: every request goes to ``base_url``'s scheme, host and port."""

    def __init__(self, base_url: str) -> None:
        self._base = httpx.URL(base_url)
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _retarget(request, self._base)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class AsyncSandboxRedirectTransport(httpx.AsyncBaseTransport):
    """Asynchronous twin of :class:`SandboxRedirectTransport`."""

    def __init__(self, base_url: str) -> None:
        self._base = httpx.URL(base_url)
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _retarget(request, self._base)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
