"""Tag thresholds refuse inconsistent settings."""

from __future__ import annotations

import pytest

from pipeline.policy.durations import DAY_MS
from pipeline.policy.tag_thresholds import TagThresholds, ValueThresholds


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hot_within_ms": 10 * DAY_MS, "warm_within_ms": 5 * DAY_MS},
        {"monthly_min_purchases": 1},
        {"max_tracked_orders": 1},
    ],
)
def test_inconsistent_thresholds_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        TagThresholds(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mid_minor"):
        ValueThresholds(high_minor=1, mid_minor=2)
