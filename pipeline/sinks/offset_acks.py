"""Acknowledge each partition's events in offset order, whatever order their commands end in.

The sender finishes commands out of order (a command waiting for its customer's pair gap or a
retry lets the ones behind it finish first). Faust commits "the acknowledged offsets up to the
first gap", but its gap test is off by one: with offset ``c`` committed-next and still in
progress, acknowledging ``c+1`` lets it commit ``c+2`` (``min(acked) - committed > 1`` is false
for a gap of exactly one), and before a partition's first commit it checks no gap at all.
A worker killed after such a commit never sees offset ``c`` again: that command, in flight or
waiting, ends without a SendResult (the intermittent SIGKILL-test failure of issue 5).

:class:`InOrderAcks` holds each acknowledgement until every earlier offset of its partition
has ended, then releases them in order, so Faust's list of acknowledged offsets is always one
run starting at its committed offset, and its commit never passes a command still in hand.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable
from typing import Any

Ack = Callable[[], Awaitable[Any]]


class _PartitionLine:
    """The outstanding offsets of one partition."""

    def __init__(self) -> None:
        self._offsets: list[int] = []  # a heap: the head is the oldest outstanding offset
        self._acks: dict[int, list[Ack]] = {}
        self._unended: dict[int, int] = {}  # offset → copies still in hand
        self._releasing = False

    @property
    def outstanding(self) -> int:
        return len(self._offsets)

    def expect(self, offset: int, ack: Ack) -> None:
        acks = self._acks.get(offset)
        if acks is None:
            heapq.heappush(self._offsets, offset)
            acks = self._acks[offset] = []
        # A second copy of an offset (redelivered after a rebalance while the first is still
        # in hand) ends only when both have: each copy's event needs its own acknowledgement.
        acks.append(ack)
        self._unended[offset] = self._unended.get(offset, 0) + 1

    async def end(self, offset: int) -> None:
        self._unended[offset] -= 1
        if self._releasing:
            return  # the running release loop picks it up: it re-reads the head each turn
        self._releasing = True
        try:
            while self._offsets and self._unended[self._offsets[0]] == 0:
                head = heapq.heappop(self._offsets)
                del self._unended[head]
                for ack in self._acks.pop(head):
                    await ack()
        finally:
            self._releasing = False


class InOrderAcks:
    """Per-partition ordering of acknowledgements (see the module docstring)."""

    def __init__(self) -> None:
        self._lines: dict[int, _PartitionLine] = {}

    def expect(self, partition: int, offset: int, ack: Ack) -> Ack:
        """Register an event as it is taken off the stream (offset order within a partition
        is not required); the returned callable says "this one has ended"."""
        line = self._lines.get(partition)
        if line is None:
            line = self._lines[partition] = _PartitionLine()
        line.expect(offset, ack)

        async def ended() -> None:
            await line.end(offset)

        return ended

    def outstanding(self, partition: int) -> int:
        line = self._lines.get(partition)
        return 0 if line is None else line.outstanding
