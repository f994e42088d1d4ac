"""The stateful limits Meta keeps per number and per customer, on the sandbox clock.

Each is a small value object with O(1) (amortised) checks so the send handler stays cheap.
"""

from __future__ import annotations

from collections import deque


class TokenBucket:
    """``rate_per_s`` tokens per second, at most ``burst`` banked."""

    __slots__ = ("_burst", "_level", "_rate_per_s", "_updated_s")

    def __init__(self, *, rate_per_s: float, burst: float, now_s: float) -> None:
        self._rate_per_s = rate_per_s
        self._burst = burst
        self._level = burst
        self._updated_s = now_s

    def try_take(self, now_s: float) -> bool:
        elapsed = max(0.0, now_s - self._updated_s)
        self._level = min(self._burst, self._level + elapsed * self._rate_per_s)
        self._updated_s = max(self._updated_s, now_s)
        if self._level >= 1.0:
            self._level -= 1.0
            return True
        return False


class ThroughputLimit:
    """Messages per second per business number (130429)."""

    def __init__(self, *, rate_per_s: float) -> None:
        self._rate_per_s = rate_per_s
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, phone_number_id: str, now_s: float) -> bool:
        bucket = self._buckets.get(phone_number_id)
        if bucket is None:
            # A one-second burst: never more than the rate in any one-second window.
            bucket = TokenBucket(rate_per_s=self._rate_per_s, burst=self._rate_per_s, now_s=now_s)
            self._buckets[phone_number_id] = bucket
        return bucket.try_take(now_s)


class PairRateLimit:
    """One message per ``interval_s`` from a business number to one customer (131056)."""

    def __init__(self, *, interval_s: float, burst: int) -> None:
        self._rate_per_s = 1.0 / interval_s
        self._burst = float(burst)
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def allow(self, phone_number_id: str, wa_id: str, now_s: float) -> bool:
        key = (phone_number_id, wa_id)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(rate_per_s=self._rate_per_s, burst=self._burst, now_s=now_s)
            self._buckets[key] = bucket
        return bucket.try_take(now_s)


class ServiceWindows:
    """When each customer last wrote to each business number (the 24 h window, 131047)."""

    def __init__(self, *, window_s: float) -> None:
        self._window_s = window_s
        self._last_inbound_s: dict[tuple[str, str], float] = {}

    def customer_wrote(self, phone_number_id: str, wa_id: str, at_s: float) -> None:
        key = (phone_number_id, wa_id)
        self._last_inbound_s[key] = max(at_s, self._last_inbound_s.get(key, at_s))

    def is_open(self, phone_number_id: str, wa_id: str, now_s: float) -> bool:
        last = self._last_inbound_s.get((phone_number_id, wa_id))
        return last is not None and now_s - last < self._window_s

    def last_inbound_s(self, phone_number_id: str, wa_id: str) -> float | None:
        return self._last_inbound_s.get((phone_number_id, wa_id))


class MarketingCap:
    """Marketing templates a customer received from any business in a moving 24 h (131049)."""

    def __init__(self, *, cap: int, window_s: float = 86400.0) -> None:
        self._cap = cap
        self._window_s = window_s
        self._received: dict[str, deque[float]] = {}

    def allow(self, wa_id: str, now_s: float) -> bool:
        times = self._received.get(wa_id)
        if times is None:
            return self._cap > 0
        while times and now_s - times[0] >= self._window_s:
            times.popleft()
        return len(times) < self._cap

    def count(self, wa_id: str, at_s: float) -> None:
        self._received.setdefault(wa_id, deque()).append(at_s)
