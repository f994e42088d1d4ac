"""A lean HTTP/1.1 load generator for the benchmarks, in the spirit of wrk.

Requests are built as raw bytes before timing; each connection is a keep-alive asyncio stream
that writes one request, reads one response (status line, headers, ``Content-Length`` body)
and hands status and body to a check. Per request that is one ``write`` and two reads, so
one client process drives several thousand requests per second on a core where an httpx or
aiohttp client session spent most of the CPU the server needed (bench figures in
docs/benchmarks.md). Every response is still checked: a wrong status or body counts as an
error, and a response the parser does not understand ends the run with an exception.

``closed_loop`` keeps ``connections`` requests in flight back to back (throughput);
``open_loop`` sends on a fixed schedule and times each request from the moment it was due,
so a server that falls behind shows its queueing in the latency (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: check(status, body) → True when the response is what the benchmark expects.
ResponseCheck = Callable[[int, bytes], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    host: str
    port: int

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"need http://host:port…, got {url}")
        return cls(host=parts.hostname, port=parts.port)


@dataclass(slots=True, kw_only=True)
class LoadResult:
    ok: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    failures: dict[int, int] = field(default_factory=dict)  # HTTP status → count
    client_cpu_s: float = 0.0  # CPU the load generator itself used (all its processes)

    @property
    def ok_per_s(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0


def build_request(
    method: str, host: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """One HTTP/1.1 request with keep-alive, as bytes ready to write."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, target: Target) -> _Connection:
        reader, writer = await asyncio.open_connection(target.host, target.port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = None
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def closed_loop(
    target: Target,
    requests: Sequence[bytes],
    *,
    check: ResponseCheck,
    connections: int,
    seconds: float,
    offset: int = 0,
) -> LoadResult:
    """``connections`` keep-alive connections, each sending the next request when answered."""
    conns = [await _Connection.open(target) for _ in range(connections)]
    result = LoadResult()
    order = itertools.count(offset)
    cpu_before = time.process_time()
    started = time.perf_counter()
    deadline = started + seconds

    async def run(conn: _Connection) -> None:
        while time.perf_counter() < deadline:
            status, body = await conn.exchange(requests[next(order) % len(requests)])
            tally(result, status, check(status, body))

    try:
        await asyncio.gather(*(run(c) for c in conns))
        result.elapsed_s = time.perf_counter() - started
        result.client_cpu_s = time.process_time() - cpu_before
    finally:
        for conn in conns:
            await conn.close()
    return result


async def open_loop(
    target: Target,
    requests: Sequence[bytes],
    *,
    check: ResponseCheck,
    rate_per_s: float,
    seconds: float,
    connections: int = 64,
) -> LoadResult:
    """Request n is due at ``n / rate_per_s``; its latency runs from then to its answer."""
    conns = [await _Connection.open(target) for _ in range(connections)]
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    result = LoadResult()
    total = int(seconds * rate_per_s)

    async def run(conn: _Connection) -> None:
        while (job := await queue.get()) is not None:
            due, request = job
            status, body = await conn.exchange(request)
            result.latencies_s.append(time.perf_counter() - due)
            tally(result, status, check(status, body))

    workers = [asyncio.ensure_future(run(c)) for c in conns]
    cpu_before = time.process_time()
    started = time.perf_counter()
    try:
        for n in range(total):
            due = started + n / rate_per_s
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((due, requests[n % len(requests)]))
        for _ in conns:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        result.elapsed_s = time.perf_counter() - started
        result.client_cpu_s = time.process_time() - cpu_before
    finally:
        for worker in workers:
            worker.cancel()
        for conn in conns:
            await conn.close()
    result.latencies_s.sort()
    return result


def percentile_ms(sorted_s: list[float], q: float) -> float:
    if not sorted_s:
        return float("nan")
    return sorted_s[min(len(sorted_s) - 1, int(q * len(sorted_s)))] * 1000


def merge(results: Sequence[LoadResult]) -> LoadResult:
    """Results of client processes that ran over the same window."""
    merged = LoadResult(elapsed_s=max((r.elapsed_s for r in results), default=0.0))
    for r in results:
        merged.ok += r.ok
        merged.failed += r.failed
        merged.latencies_s += r.latencies_s
        merged.client_cpu_s += r.client_cpu_s
        for status, count in r.failures.items():
            merged.failures[status] = merged.failures.get(status, 0) + count
    merged.latencies_s.sort()
    return merged


def tally(result: LoadResult, status: int, ok: bool) -> None:
    if ok:
        result.ok += 1
    else:
        result.failed += 1
        result.failures[status] = result.failures.get(status, 0) + 1
