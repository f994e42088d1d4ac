"""Pair rate: no two messages to one customer closer than the gap, and no needless wait."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy.pair_rate import DEFAULT_PAIR_RATE, PairRate

times = st.integers(0, 10**12)


@settings(deadline=None)
@given(last=times, now=times, gap=st.integers(0, 60_000))
def test_allowed_time_respects_the_gap_and_is_the_earliest_such(
    last: int, now: int, gap: int
) -> None:
    rule = PairRate(min_gap_ms=gap)
    at = rule.allowed_at_ms(last, now)
    assert at >= now
    assert at - last >= gap
    # Minimal: one millisecond earlier breaks either "not in the past" or the gap.
    assert at == now or at - 1 - last < gap
    assert rule.wait_ms(last, now) == at - now


@settings(deadline=None)
@given(requests=st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 5_000)), max_size=60))
def test_a_sender_that_follows_the_rule_never_sends_within_six_seconds(
    requests: list[tuple[str, int]],
) -> None:
    now, last = 0, dict[str, int]()
    sent: dict[str, list[int]] = {}
    for customer, step in requests:
        now += step
        at = DEFAULT_PAIR_RATE.allowed_at_ms(last.get(customer), now)
        last[customer] = at  # sent at the allowed time (deferred, not dropped)
        sent.setdefault(customer, []).append(at)
        last = DEFAULT_PAIR_RATE.prune(last, now)
    for customer, stamps in sent.items():
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert all(g >= 6_000 for g in gaps), f"{customer} got messages {gaps} ms apart"


def test_first_message_goes_at_once_and_the_boundary_is_exactly_six_seconds() -> None:
    assert DEFAULT_PAIR_RATE.allowed_at_ms(None, 123) == 123
    assert DEFAULT_PAIR_RATE.allowed_at_ms(1_000, 6_999) == 7_000
    assert DEFAULT_PAIR_RATE.allowed_at_ms(1_000, 7_000) == 7_000


def test_prune_keeps_only_customers_still_inside_the_gap() -> None:
    last = {"old": 0, "free": 4_000, "waiting": 4_001, "new": 9_000}
    kept = DEFAULT_PAIR_RATE.prune(last, 10_000)
    assert kept == {"waiting": 4_001, "new": 9_000}
    # Dropping a customer never changes the answer.
    for customer, ts in last.items():
        assert DEFAULT_PAIR_RATE.allowed_at_ms(ts, 10_000) == DEFAULT_PAIR_RATE.allowed_at_ms(
            kept.get(customer), 10_000
        )


def test_negative_gap_is_refused() -> None:
    with pytest.raises(ValueError, match="min_gap_ms"):
        PairRate(min_gap_ms=-1)
