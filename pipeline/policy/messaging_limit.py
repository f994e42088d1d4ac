"""Messaging limit: unique customers reached with business-initiated messages per moving 24 h.

Meta caps how many distinct customers a business portfolio may reach with template messages
outside a customer service window in any moving 24 hours (tiers 250 → 2,000 → 10,000 →
100,000 → unlimited; whatsapp-cloud-api.md, Limits). Messages inside an open service window
do not count, nor do repeat messages to a customer already reached in the window.

A customer counts while their latest counted message is less than ``window_ms`` old, so the
count drops (and a deferred send becomes possible) when the oldest such message turns 24 h.

Two forms of the same rule: :func:`decide` is the pure reference over a mapping (O(n)), and
:class:`ReachLedger` keeps the count incrementally (O(log n)) for a sender that sends to
hundreds of thousands of customers a day; a property test holds them equal.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from pipeline.policy.durations import DAY_MS


class Tier(Enum):
    """Meta's messaging-limit tiers: unique customers per moving 24 h (None = unlimited)."""

    TIER_250 = 250
    TIER_2K = 2_000
    TIER_10K = 10_000
    TIER_100K = 100_000
    UNLIMITED = None

    @property
    def limit(self) -> int | None:
        """Unique customers per moving 24 h; None when unlimited."""
        return self.value

    @classmethod
    def parse(cls, text: str) -> Tier:
        """``"250"``, ``"2000"``, ``"2k"``, ``"100K"`` or ``"unlimited"``."""
        cleaned = text.strip().lower().replace(",", "").replace("_", "")
        if cleaned in {"unlimited", "none", "inf"}:
            return cls.UNLIMITED
        number = int(cleaned[:-1]) * 1000 if cleaned.endswith("k") else int(cleaned)
        for tier in cls:
            if tier.value == number:
                return tier
        raise ValueError(
            f"unknown messaging-limit tier {text!r}; use 250, 2000, 10000, 100000 or unlimited"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitDecision:
    """``allowed_at_ms == now`` means send now; otherwise the first moment a slot frees up."""

    allowed_at_ms: int
    counts: bool  # the message would add a new unique customer to the window

    def allows(self, now_ms: int) -> bool:
        return self.allowed_at_ms <= now_ms


def decide(
    *,
    limit: int | None,
    reached_ms: Mapping[str, int],
    customer: str,
    now_ms: int,
    window_ms: int = DAY_MS,
) -> LimitDecision:
    """May a business-initiated message go to ``customer`` now?

    ``limit`` is the tier's unique customers per window (``Tier.X.limit``; None = unlimited);
    ``reached_ms`` maps each customer to the time of their latest counted message.
    """
    horizon = now_ms - window_ms
    last = reached_ms.get(customer)
    if last is not None and last > horizon:
        return LimitDecision(allowed_at_ms=now_ms, counts=False)
    if limit is None:
        return LimitDecision(allowed_at_ms=now_ms, counts=True)
    active = sorted(ts for ts in reached_ms.values() if ts > horizon)
    if len(active) < limit:
        return LimitDecision(allowed_at_ms=now_ms, counts=True)
    # Enough customers must age out to leave one free slot.
    return LimitDecision(allowed_at_ms=active[len(active) - limit] + window_ms, counts=True)


class ReachLedger:
    """Incremental form of :func:`decide` for one portfolio (mutable, owned by one sender).

    A dict of each customer's latest counted time plus a heap with lazy deletion for expiry.
    Rebuild it after a restart by ``record``-ing the accepted SendResults of the last 24 h.
    """

    __slots__ = ("_heap", "_last_ms", "limit", "window_ms")

    def __init__(self, *, limit: int | None, window_ms: int = DAY_MS) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be ≥ 1 or None (unlimited), got {limit}")
        self.limit = limit
        self.window_ms = window_ms
        self._last_ms: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []

    def _expire(self, now_ms: int) -> None:
        horizon = now_ms - self.window_ms
        heap = self._heap
        while heap and heap[0][0] <= horizon:
            ts, customer = heapq.heappop(heap)
            if self._last_ms.get(customer) == ts:
                del self._last_ms[customer]

    def active_customers(self, now_ms: int) -> int:
        self._expire(now_ms)
        return len(self._last_ms)

    def decide(self, customer: str, now_ms: int) -> LimitDecision:
        self._expire(now_ms)
        if customer in self._last_ms:
            return LimitDecision(allowed_at_ms=now_ms, counts=False)
        limit = self.limit
        if limit is None or len(self._last_ms) < limit:
            return LimitDecision(allowed_at_ms=now_ms, counts=True)
        excess = len(self._last_ms) - limit + 1
        if excess == 1:
            heap = self._heap
            while self._last_ms.get(heap[0][1]) != heap[0][0]:
                heapq.heappop(heap)  # superseded by a later message to the same customer
            oldest_ms = heap[0][0]
        else:  # the tier was lowered below the current count
            oldest_ms = heapq.nsmallest(excess, self._last_ms.values())[-1]
        return LimitDecision(allowed_at_ms=oldest_ms + self.window_ms, counts=True)

    def allowed_at_ms(self, customer: str, now_ms: int) -> int:
        return self.decide(customer, now_ms).allowed_at_ms

    def record(self, customer: str, sent_ms: int) -> None:
        """Count a business-initiated message to ``customer`` sent at ``sent_ms``."""
        previous = self._last_ms.get(customer)
        if previous is not None and previous >= sent_ms:
            return
        self._last_ms[customer] = sent_ms
        heapq.heappush(self._heap, (sent_ms, customer))

    def snapshot(self) -> dict[str, int]:
        """Customer → latest counted time, for :func:`decide` or for persisting."""
        return dict(self._last_ms)


__all__ = ["LimitDecision", "ReachLedger", "Tier", "decide"]
