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

import bisect
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


def _time_of(entry: tuple[int, str]) -> int:
    return entry[0]


class ReachLedger:
    """Incremental form of :func:`decide` for one portfolio (mutable, owned by one sender).

    A dict of each customer's latest counted time plus ``(time, customer)`` in a sorted list, so a
    question about any instant at or after the latest ``record`` costs O(log n) and changes
    nothing (the gate asks about future instants when it plans a deferral). Rebuild it after a
    restart by ``record``-ing the accepted SendResults of the last 24 h.
    """

    __slots__ = ("_last_ms", "_sorted_ms", "limit", "window_ms")

    def __init__(self, *, limit: int | None, window_ms: int = DAY_MS) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be ≥ 1 or None (unlimited), got {limit}")
        self.limit = limit
        self.window_ms = window_ms
        self._last_ms: dict[str, int] = {}
        self._sorted_ms: list[tuple[int, str]] = []

    def active_customers(self, now_ms: int) -> int:
        return len(self._sorted_ms) - self._first_after(now_ms - self.window_ms)

    def _first_after(self, horizon_ms: int) -> int:
        return bisect.bisect_right(self._sorted_ms, horizon_ms, key=_time_of)

    def decide(self, customer: str, now_ms: int) -> LimitDecision:
        horizon = now_ms - self.window_ms
        last = self._last_ms.get(customer)
        if last is not None and last > horizon:
            return LimitDecision(allowed_at_ms=now_ms, counts=False)
        limit = self.limit
        first_active = self._first_after(horizon)
        active = len(self._sorted_ms) - first_active
        if limit is None or active < limit:
            return LimitDecision(allowed_at_ms=now_ms, counts=True)
        # Enough customers must age out to leave one free slot.
        oldest_ms = self._sorted_ms[first_active + active - limit][0]
        return LimitDecision(allowed_at_ms=oldest_ms + self.window_ms, counts=True)

    def allowed_at_ms(self, customer: str, now_ms: int) -> int:
        return self.decide(customer, now_ms).allowed_at_ms

    def record(self, customer: str, sent_ms: int) -> None:
        """Count a business-initiated message to ``customer`` sent at ``sent_ms``."""
        previous = self._last_ms.get(customer)
        if previous is not None:
            if previous >= sent_ms:
                return
            del self._sorted_ms[bisect.bisect_left(self._sorted_ms, (previous, customer))]
        self._last_ms[customer] = sent_ms
        bisect.insort(self._sorted_ms, (sent_ms, customer))
        self._forget_before(sent_ms - self.window_ms)

    def _forget_before(self, horizon_ms: int) -> None:
        """Drop customers whose latest message is at or before ``horizon_ms`` (memory bound)."""
        cut = self._first_after(horizon_ms)
        for _, customer in self._sorted_ms[:cut]:
            del self._last_ms[customer]
        del self._sorted_ms[:cut]

    def snapshot(self) -> dict[str, int]:
        """Customer → latest counted time, for :func:`decide` or for persisting."""
        return dict(self._last_ms)


__all__ = ["LimitDecision", "ReachLedger", "Tier", "decide"]
