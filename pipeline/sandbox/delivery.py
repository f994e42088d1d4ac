"""Posting webhooks and purchases: batching, bounded concurrency, retry with back-off.

Meta retries anything but HTTP 200 (whatsapp-cloud-api.md, "Webhooks"); the sandbox does the
same with exponential back-off in real seconds, so a test's failing callback sees the retry
within a fraction of a second.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import aiohttp
import structlog

from pipeline.sandbox.config import BusinessNumber, DeliverySpec
from pipeline.sandbox.record import EmittedRecord, PostRecord, SandboxRecord
from pipeline.sandbox.webhooks import SIGNATURE_HEADER, Update, build_envelope, encode, sign

log = structlog.get_logger(__name__)


class Poster:
    """POSTs bodies with retries; counts what is in flight so callers can wait for it."""

    def __init__(self, spec: DeliverySpec, record: SandboxRecord) -> None:
        self._spec = spec
        self._record = record
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(spec.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)

    def next_post_id(self) -> int:
        return next(self._ids)

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self._spec.timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def submit(self, post: PostRecord, body: bytes, headers: dict[str, str]) -> None:
        self._record.add_post(post)
        if post.url is None:
            return  # nowhere configured: recorded, not sent
        task = asyncio.get_running_loop().create_task(self._send(post, body, headers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, post: PostRecord, body: bytes, headers: dict[str, str]) -> None:
        if self._session is None or post.url is None:
            return
        delay_s = self._spec.retry_initial_s
        for _ in range(self._spec.retry_max_attempts):
            async with self._slots:
                try:
                    async with self._session.post(post.url, data=body, headers=headers) as resp:
                        await resp.read()
                        post.attempts.append(resp.status)
                        ok = resp.status == 200 if post.target == "webhook" else resp.ok
                except (aiohttp.ClientError, TimeoutError) as exc:
                    post.attempts.append(type(exc).__name__)
                    ok = False
            if ok:
                post.delivered = True
                return
            await asyncio.sleep(delay_s)
            delay_s = min(self._spec.retry_max_s, delay_s * 2)
        log.warning(
            "sandbox.post_gave_up",
            target=post.target,
            post_id=post.post_id,
            attempts=len(post.attempts),
        )


class WebhookBatcher:
    """Collects updates for ``batch_window_s`` (or ``batch_max_items``) into one signed POST."""

    def __init__(
        self,
        *,
        spec: DeliverySpec,
        poster: Poster,
        callback_url: Callable[[], str | None],
        app_secret: str,
        numbers: dict[str, BusinessNumber],
    ) -> None:
        self._spec = spec
        self._poster = poster
        self._callback_url = callback_url
        self._app_secret = app_secret
        self._numbers = numbers
        self._pending: list[tuple[Update, EmittedRecord]] = []
        self._flush_handle: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, update: Update, emitted: EmittedRecord) -> None:
        self._pending.append((update, emitted))
        if len(self._pending) >= self._spec.batch_max_items:
            self.flush()
        elif self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self._spec.batch_window_s, self.flush)

    def flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        while self._pending:
            batch = self._pending[: self._spec.batch_max_items]
            del self._pending[: self._spec.batch_max_items]
            body = encode(build_envelope([update for update, _ in batch], self._numbers))
            post = PostRecord(
                post_id=self._poster.next_post_id(),
                target="webhook",
                url=self._callback_url(),
                item_count=len(batch),
                body_bytes=len(body),
            )
            for _, emitted in batch:
                emitted.post_id = post.post_id
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(body, self._app_secret),
            }
            self._poster.submit(post, body, headers)
