"""One marketing message per customer per 24 hours (design.md §7).

Meta enforces its own per-user marketing cap (131049) that it does not publish; staying at one
per day per customer keeps us under it and keeps customers from muting the number.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.policy.durations import DAY_MS

MARKETING = "marketing"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketingCap:
    """At most one marketing message to a customer per ``window_ms``."""

    window_ms: int = DAY_MS

    def __post_init__(self) -> None:
        if self.window_ms < 0:
            raise ValueError(f"window_ms must be ≥ 0, got {self.window_ms}")

    def allowed_at_ms(self, last_marketing_ms: int | None, now_ms: int) -> int:
        """Earliest time ≥ ``now_ms`` for the next marketing message to this customer."""
        if last_marketing_ms is None:
            return now_ms
        return max(now_ms, last_marketing_ms + self.window_ms)

    def allows(self, last_marketing_ms: int | None, now_ms: int) -> bool:
        return self.allowed_at_ms(last_marketing_ms, now_ms) == now_ms


DEFAULT_MARKETING_CAP = MarketingCap()

__all__ = ["DEFAULT_MARKETING_CAP", "MARKETING", "MarketingCap"]
