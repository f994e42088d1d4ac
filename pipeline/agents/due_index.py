"""Which keys of a partition time will change next: a heap per partition, rebuilt from tables.

A sweep must not scan every customer on every tick. Agents schedule a key when they store a
new due time for it (an unchanged one is indexed already and may be skipped); a tick pops
only the keys that are due. Entries may be stale (the key was rescheduled since); the caller
checks the table's current value. The index lives in memory only: after a restart or a
rebalance it is rebuilt from the (recovered) table.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class DueIndex:
    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[int, str]]] = {}
        self.stale = True  # nothing indexed yet: rebuild on the first tick

    def schedule(self, partition: int, key: str, due_ms: int | None) -> None:
        if due_ms is not None:
            heapq.heappush(self._heaps.setdefault(partition, []), (due_ms, key))

    def rebuild(self, entries: Iterable[tuple[int, str, int | None]]) -> None:
        """Replace the index with ``(partition, key, due_ms)`` entries."""
        self._heaps = {}
        for partition, key, due_ms in entries:
            if due_ms is not None:
                self._heaps.setdefault(partition, []).append((due_ms, key))
        for heap in self._heaps.values():
            heapq.heapify(heap)
        self.stale = False

    def pop_due(self, partition: int, now_ms: int) -> list[str]:
        """Keys of ``partition`` due at or before ``now_ms`` (each once, in due order)."""
        heap = self._heaps.get(partition)
        keys: dict[str, None] = {}  # a key is due once, at its first entry (a list was n²)
        while heap and heap[0][0] <= now_ms:
            _, key = heapq.heappop(heap)
            keys[key] = None
        return list(keys)

    def __len__(self) -> int:
        return sum(len(h) for h in self._heaps.values())


__all__ = ["DueIndex"]
