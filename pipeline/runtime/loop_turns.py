"""Long synchronous work that gives the event loop back every few milliseconds.

A worker runs every agent, its web server (webhooks, /sql, /metrics) and its timers on one
event loop. The engagement agent folds a batch of up to 20,000 events without an ``await``:
about a second of CPU while it replays a backlog, during which a webhook POST or an
auto-reply in the same worker waited for it. :class:`LoopTurns` lets such a loop hand over
the event loop whenever it has held it for ``max_s``:

    turns = LoopTurns(max_s=0.02)
    for customer, records in groups.items():
        ...  # one customer's synchronous work
        if turns.expired():
            await turns.give_way()
"""

from __future__ import annotations

import asyncio
import time

#: How long a batch agent keeps the event loop before it lets the other tasks run: short
#: against the auto-reply goal (100 ms at p99), long against one customer's work (~50 µs).
LOOP_TURN_S = 0.02


class LoopTurns:
    """Tells a synchronous loop when its turn on the event loop is over."""

    __slots__ = ("_deadline", "_max_s")

    def __init__(self, max_s: float = LOOP_TURN_S) -> None:
        self._max_s = max_s
        self._deadline = time.perf_counter() + max_s

    def expired(self) -> bool:
        return time.perf_counter() >= self._deadline

    async def give_way(self) -> None:
        """Let every task that is ready run once, then start a new turn."""
        await asyncio.sleep(0)
        self._deadline = time.perf_counter() + self._max_s


__all__ = ["LOOP_TURN_S", "LoopTurns"]
