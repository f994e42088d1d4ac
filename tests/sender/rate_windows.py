"""Measures over what the sandbox received: the busiest one-second window and the pair gap."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def busiest_window(times_s: Sequence[float], *, window_s: float = 1.0) -> int:
    """Most requests in any half-open window ``[t, t + window_s)``, for every real ``t``.

    The busiest window can always be slid to start at a request, so checking those is exact.
    """
    ordered = sorted(times_s)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - window_s:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def closest_pair_gap_s(sends: Iterable[tuple[str, float]]) -> float:
    """Smallest time between two messages to the same customer (inf when none repeat)."""
    last: dict[str, float] = {}
    gap = float("inf")
    for customer, t in sorted(sends, key=lambda s: s[1]):
        if customer in last:
            gap = min(gap, t - last[customer])
        last[customer] = t
    return gap
