"""The numbers behind the engagement tags (design.md §5 defaults; all overridable)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.policy.durations import DAY_MS


@dataclass(frozen=True, slots=True, kw_only=True)
class ValueThresholds:
    """Average order value bands in the currency's minor unit: ≥ high, ≥ mid, else low."""

    high_minor: int
    mid_minor: int

    def __post_init__(self) -> None:
        if not 0 <= self.mid_minor <= self.high_minor:
            raise ValueError(
                f"need 0 ≤ mid_minor ≤ high_minor, got mid {self.mid_minor}, high {self.high_minor}"
            )


DEFAULT_VALUE_THRESHOLDS: tuple[tuple[str, ValueThresholds], ...] = (
    ("KRW", ValueThresholds(high_minor=100_000, mid_minor=30_000)),  # won (no minor unit)
    ("USD", ValueThresholds(high_minor=10_000, mid_minor=3_000)),  # cents: $100 / $30
    ("EUR", ValueThresholds(high_minor=10_000, mid_minor=3_000)),  # cents: €100 / €30
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TagThresholds:
    """Every number the tag rules use (design.md §5 defaults)."""

    hot_within_ms: int = 7 * DAY_MS
    warm_within_ms: int = 30 * DAY_MS
    dormant_after_ms: int = 90 * DAY_MS
    frequency_window_ms: int = 90 * DAY_MS
    monthly_min_purchases: int = 3
    value_by_currency: tuple[tuple[str, ValueThresholds], ...] = DEFAULT_VALUE_THRESHOLDS
    #: For currencies not listed; amounts are compared in that currency's minor unit as is.
    value_fallback: ValueThresholds = field(
        default_factory=lambda: ValueThresholds(high_minor=10_000, mid_minor=3_000)
    )
    #: Bound on the order ids kept per customer; older ones move the horizon forward.
    max_tracked_orders: int = 500

    def __post_init__(self) -> None:
        if not 0 <= self.hot_within_ms <= self.warm_within_ms:
            raise ValueError("need 0 ≤ hot_within_ms ≤ warm_within_ms")
        if self.dormant_after_ms < 0 or self.frequency_window_ms < 0:
            raise ValueError("dormant_after_ms and frequency_window_ms must be ≥ 0")
        if self.monthly_min_purchases < 2:
            raise ValueError("monthly_min_purchases must be ≥ 2 (1 purchase is quarterly)")
        if self.max_tracked_orders < self.monthly_min_purchases:
            raise ValueError("max_tracked_orders must be ≥ monthly_min_purchases")

    def value_for(self, currency: str) -> ValueThresholds:
        for code, bands in self.value_by_currency:
            if code == currency:
                return bands
        return self.value_fallback


DEFAULT_TAG_THRESHOLDS = TagThresholds()

__all__ = ["DEFAULT_TAG_THRESHOLDS", "DEFAULT_VALUE_THRESHOLDS", "TagThresholds", "ValueThresholds"]
