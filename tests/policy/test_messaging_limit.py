"""Messaging limit: never more unique customers per moving 24 h than the tier allows."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy.durations import DAY_MS, HOUR_MS
from pipeline.policy.messaging_limit import ReachLedger, Tier, decide

# Tiny limits so property tests reach the cap quickly; the rule does not depend on the size.
small_limits = st.integers(1, 6)


def unique_in_any_window(sends: list[tuple[int, str]], window_ms: int) -> int:
    """Most distinct customers among sends in any half-open window [s, s + window_ms)."""
    worst = 0
    for start, _ in sends:
        inside = {c for t, c in sends if start <= t < start + window_ms}
        worst = max(worst, len(inside))
    return worst


@settings(max_examples=150, deadline=None)
@given(
    limit=small_limits,
    requests=st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 6 * HOUR_MS)), max_size=40
    ),
)
def test_senders_that_defer_as_told_never_exceed_the_tier(
    limit: int, requests: list[tuple[str, int]]
) -> None:
    ledger = ReachLedger(limit=limit)
    reached: dict[str, int] = {}
    now, sends = 0, []
    for customer, step in requests:
        now += step
        reference = decide(limit=limit, reached_ms=reached, customer=customer, now_ms=now)
        fast = ledger.decide(customer, now)
        assert fast == reference, "ReachLedger disagrees with the reference rule"
        at = reference.allowed_at_ms
        assert at >= now
        # Sent at the allowed time; the wait must actually be enough.
        check = decide(limit=limit, reached_ms=reached, customer=customer, now_ms=at)
        assert check.allows(at)
        now = at
        reached[customer] = at
        ledger.record(customer, at)
        sends.append((at, customer))
    assert unique_in_any_window(sends, DAY_MS) <= limit


@settings(max_examples=150, deadline=None)
@given(
    limit=small_limits,
    records=st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 4 * HOUR_MS)), max_size=30
    ),
    asks=st.lists(
        st.tuples(st.sampled_from("abcdefghz"), st.integers(0, 30 * HOUR_MS)), max_size=8
    ),
)
def test_ledger_matches_the_reference_even_when_over_the_limit(
    limit: int, records: list[tuple[str, int]], asks: list[tuple[str, int]]
) -> None:
    """Records that ignore the limit (a lowered tier, a rebuild) still give the same answers."""
    ledger, reached, now = ReachLedger(limit=limit), dict[str, int](), 0
    for customer, step in records:
        now += step
        ledger.record(customer, now)
        reached[customer] = now
    for customer, ahead in sorted(asks, key=lambda a: a[1]):
        at = now + ahead
        expected = decide(limit=limit, reached_ms=reached, customer=customer, now_ms=at)
        assert ledger.decide(customer, at) == expected
        assert ledger.active_customers(at) == sum(1 for t in reached.values() if t > at - DAY_MS)


def test_repeat_customers_do_not_use_a_new_slot() -> None:
    ledger = ReachLedger(limit=Tier.TIER_250.limit)
    for i in range(250):
        ledger.record(f"c{i}", 1_000)
    assert ledger.active_customers(2_000) == 250
    assert ledger.decide("c7", 2_000).allows(2_000)
    blocked = ledger.decide("new", 2_000)
    assert not blocked.allows(2_000)
    assert blocked.allowed_at_ms == 1_000 + DAY_MS
    assert ledger.decide("new", 1_000 + DAY_MS).allows(1_000 + DAY_MS)


def test_a_renewed_customer_stays_counted_until_their_latest_message_ages_out() -> None:
    ledger = ReachLedger(limit=1)
    ledger.record("a", 0)
    ledger.record("a", 10 * HOUR_MS)
    assert ledger.decide("b", DAY_MS).allowed_at_ms == 10 * HOUR_MS + DAY_MS


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("250", Tier.TIER_250),
        ("2k", Tier.TIER_2K),
        ("10,000", Tier.TIER_10K),
        ("100K", Tier.TIER_100K),
        ("unlimited", Tier.UNLIMITED),
    ],
)
def test_tiers_parse_from_settings_text(text: str, tier: Tier) -> None:
    assert Tier.parse(text) is tier


def test_unknown_tier_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="use 250"):
        Tier.parse("500")


def test_unlimited_tier_never_defers() -> None:
    reached = {f"c{i}": 0 for i in range(100_001)}
    assert decide(limit=Tier.UNLIMITED.limit, reached_ms=reached, customer="x", now_ms=1).allows(1)


def test_tier_limits_are_metas() -> None:
    assert [t.limit for t in Tier] == [250, 2_000, 10_000, 100_000, None]
