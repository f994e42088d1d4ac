"""Pair rate: at least ``min_gap_ms`` between two messages from one number to one customer.

Meta allows one message per 6 s to the same customer and answers 131056 beyond it
(whatsapp-cloud-api.md, Limits). Meta lets short bursts borrow from later; we do not rely on
that and keep a strict gap, so a retried or queued message can never trip the limit.
The sender owns each business number's last-send times (commands are keyed by number).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.policy.durations import SECOND_MS


@dataclass(frozen=True, slots=True, kw_only=True)
class PairRate:
    """At most one message to the same customer per ``min_gap_ms``."""

    min_gap_ms: int = 6 * SECOND_MS

    def __post_init__(self) -> None:
        if self.min_gap_ms < 0:
            raise ValueError(f"min_gap_ms must be ≥ 0, got {self.min_gap_ms}")

    def allowed_at_ms(self, last_sent_ms: int | None, now_ms: int) -> int:
        """The earliest time ≥ ``now_ms`` at which the next message to this customer may go."""
        if last_sent_ms is None:
            return now_ms
        return max(now_ms, last_sent_ms + self.min_gap_ms)

    def wait_ms(self, last_sent_ms: int | None, now_ms: int) -> int:
        return self.allowed_at_ms(last_sent_ms, now_ms) - now_ms

    def prune(self, last_sent_ms: Mapping[str, int], now_ms: int) -> dict[str, int]:
        """Drop customers whose gap has passed: they no longer constrain anything.

        Keeps the sender's map bounded by the customers messaged in the last ``min_gap_ms``.
        """
        horizon = now_ms - self.min_gap_ms
        return {customer: ts for customer, ts in last_sent_ms.items() if ts > horizon}


DEFAULT_PAIR_RATE = PairRate()

__all__ = ["DEFAULT_PAIR_RATE", "PairRate"]
