"""Posts a stream's requests to a worker the way Meta and a shop do: every non-200 answer or
refused connection is retried with back-off until the request is accepted."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import httpx

from tests.faults.mixed_stream import Post


class Feeder:
    """Sends ``posts`` from a background thread, ``concurrency`` at a time."""

    def __init__(
        self,
        base_url: str,
        posts: Sequence[Post],
        *,
        concurrency: int = 6,
        rate_per_s: float | None = None,
    ) -> None:
        """``rate_per_s`` paces first attempts (retries are not paced), so a stream lasts
        long enough for faults to land in its middle."""
        self.base_url = base_url
        self.posts = list(posts)
        self.concurrency = concurrency
        self.interval_s = 1.0 / rate_per_s if rate_per_s else 0.0
        self._next_start = 0.0
        self.accepted = 0
        self.answers: Counter[str] = Counter()  # "200", "503", "connect-error", ...
        self.paused = threading.Event()  # set: hold new requests (e.g. between phases)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._done = threading.Event()
        self.failure: BaseException | None = None

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def wait(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)
        if self.failure is not None:
            raise self.failure
        if self._thread.is_alive():
            raise TimeoutError(
                f"{self.accepted}/{len(self.posts)} requests accepted in {timeout_s:.0f}s; "
                f"answers so far: {dict(self.answers)}"
            )

    async def _run(self) -> None:
        queue: asyncio.Queue[Post] = asyncio.Queue()
        for post in self.posts:
            queue.put_nowait(post)
        limits = httpx.Limits(max_connections=self.concurrency)
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, timeout=15.0, limits=limits
            ) as http:
                await asyncio.gather(*(self._drain(http, queue) for _ in range(self.concurrency)))
        except BaseException as exc:  # surfaced by wait()
            self.failure = exc

    async def _drain(self, http: httpx.AsyncClient, queue: asyncio.Queue[Post]) -> None:
        while not queue.empty():
            post = queue.get_nowait()
            if self.interval_s:
                now = time.monotonic()
                self._next_start = max(self._next_start + self.interval_s, now)
                await asyncio.sleep(self._next_start - now)
            delay_s = 0.2
            while True:
                while self.paused.is_set():
                    await asyncio.sleep(0.05)
                try:
                    response = await http.post(post.path, content=post.body, headers=post.headers)
                    answer = str(response.status_code)
                except httpx.HTTPError as exc:
                    answer = type(exc).__name__
                self.answers[answer] += 1
                if answer == "200":
                    self.accepted += 1
                    break
                if answer not in {"503", "ConnectError", "ReadError", "RemoteProtocolError"} and (
                    not answer.endswith("Timeout")
                ):
                    raise AssertionError(f"{post.path} answered {answer}: not a fault to retry")
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 2.0)


def wait_until(predicate: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
