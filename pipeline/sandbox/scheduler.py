"""Runs actions at simulated times, on the sandbox clock.

A heap of (due time, insertion order, action): actions run in due order and, for equal
times, in the order they were planned, so the emitted traffic is reproducible. The loop sleeps
until the next due time converted to real seconds and wakes early when the clock jumps.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Callable

import structlog

from pipeline.sandbox.clock import SandboxClock

log = structlog.get_logger(__name__)

Action = Callable[[float], None]  # receives its due simulated time


class SimScheduler:
    def __init__(self, clock: SandboxClock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Action]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        clock.on_change(self._wake.set)

    def __len__(self) -> int:
        return len(self._heap)

    def at(self, due_s: float, action: Action) -> None:
        if not self._heap or due_s < self._heap[0][0]:
            self._wake.set()
        heapq.heappush(self._heap, (due_s, next(self._order), action))

    def next_due_s(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def run_due(self) -> int:
        """Run every action due by now; returns how many ran."""
        now = self._clock.now_s()
        ran = 0
        while self._heap and self._heap[0][0] <= now:
            due_s, _, action = heapq.heappop(self._heap)
            try:
                action(due_s)
            except Exception:  # one broken action must not stop the simulation
                log.exception("sandbox.action_failed")
            ran += 1
        return ran

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self.run_due()
            nxt = self.next_due_s()
            timeout = None
            if nxt is not None:
                timeout = self._clock.real_delay_s(nxt - self._clock.now_s())
            if timeout == 0.0:
                await asyncio.sleep(0)  # let request handlers run between bursts
                continue
            # Cap the sleep so a clock speed change without a listener is noticed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), 1.0 if timeout is None else min(timeout, 1.0)
                )
