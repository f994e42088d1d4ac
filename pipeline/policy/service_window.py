"""The 24-hour customer service window (whatsapp-cloud-api.md, Limits; design.md §7).

Each customer message opens or renews the window; inside it any message may be sent, outside
it only an approved template (Meta answers 131047 otherwise). The window is half-open: a
message exactly ``window_ms`` after the customer's last one is already outside, so we never
bet on Meta's clock agreeing with ours to the millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.policy.durations import DAY_MS

FREE_FORM_KINDS = frozenset({"text"})
TEMPLATE_KIND = "template"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceWindow:
    window_ms: int = DAY_MS

    def __post_init__(self) -> None:
        if self.window_ms <= 0:
            raise ValueError(f"window_ms must be > 0, got {self.window_ms}")

    def is_open(self, last_inbound_ms: int | None, now_ms: int) -> bool:
        """True when the customer wrote less than ``window_ms`` ago.

        A customer message stamped slightly after ``now_ms`` (clock skew) counts as open.
        """
        if last_inbound_ms is None:
            return False
        return now_ms < last_inbound_ms + self.window_ms

    def closes_at_ms(self, last_inbound_ms: int | None) -> int | None:
        """First instant outside the window, or None when it was never opened."""
        if last_inbound_ms is None:
            return None
        return last_inbound_ms + self.window_ms

    def allows(self, *, kind: str, last_inbound_ms: int | None, now_ms: int) -> bool:
        """May a message of ``kind`` (text or template) go to this customer now?"""
        if kind == TEMPLATE_KIND:
            return True
        return self.is_open(last_inbound_ms, now_ms)


DEFAULT_SERVICE_WINDOW = ServiceWindow()

__all__ = ["DEFAULT_SERVICE_WINDOW", "FREE_FORM_KINDS", "TEMPLATE_KIND", "ServiceWindow"]
