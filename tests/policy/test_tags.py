"""Engagement tags: every rule at its boundaries, reasons, and time-driven changes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy.customer_state import CustomerState
from pipeline.policy.durations import DAY_MS
from pipeline.policy.tags import compute_tags, diff_tags, next_tag_change_ms, tag_family, tag_report
from tests.policy.customer_events import (
    T0,
    TH,
    event_strategy,
    fold,
    inbound,
    purchase,
    receipt,
    same_order_ids_same_data,
)


@settings(max_examples=100, deadline=None)
@given(
    ages=st.lists(st.integers(0, 400 * DAY_MS), max_size=12),
    extra=st.integers(0, 200 * DAY_MS),
)
def test_frequency_matches_a_naive_count_over_all_purchases(ages: list[int], extra: int) -> None:
    last = T0 + 400 * DAY_MS
    stamps = sorted(last - a for a in ages)
    state = fold([purchase(f"o{i}", ts) for i, ts in enumerate(stamps)])  # in time order
    now = last + extra
    recent = sum(1 for ts in stamps if now - ts <= 90 * DAY_MS)
    expected = (
        "freq:monthly"
        if recent >= 3
        else "freq:quarterly"
        if recent >= 1
        else "freq:lapsed"
        if stamps
        else "freq:none"
    )
    assert expected in compute_tags(state, now)
    assert len(state.purchases) <= TH.max_tracked_orders


@pytest.mark.parametrize(
    ("age_ms", "heat", "dormant"),
    [
        (0, "heat:hot", False),
        (7 * DAY_MS, "heat:hot", False),
        (7 * DAY_MS + 1, "heat:warm", False),
        (30 * DAY_MS, "heat:warm", False),
        (30 * DAY_MS + 1, "heat:cold", False),
        (90 * DAY_MS, "heat:cold", False),
        (90 * DAY_MS + 1, "heat:cold", True),
    ],
)
def test_heat_and_dormant_boundaries(age_ms: int, heat: str, dormant: bool) -> None:
    tags = compute_tags(fold([inbound(T0)]), T0 + age_ms)
    assert heat in tags
    assert {t for t in tags if t.startswith("heat:")} == {heat}
    assert ("dormant" in tags) == dormant


@settings(deadline=None)
@given(
    kind=st.sampled_from(["inbound", "read", "reply", "click"]), age=st.integers(0, 200 * DAY_MS)
)
def test_every_interaction_kind_sets_heat(kind: str, age: int) -> None:
    event = {
        "inbound": inbound(T0),
        "read": receipt(T0, "read"),
        "reply": inbound(T0, context_id="wamid.ctx"),
        "click": inbound(T0, type_="button"),
    }[kind]
    tags = compute_tags(fold([event]), T0 + age)
    expected = (
        "heat:hot" if age <= 7 * DAY_MS else "heat:warm" if age <= 30 * DAY_MS else "heat:cold"
    )
    assert expected in tags
    assert ("dormant" in tags) == (age > 90 * DAY_MS)


def test_delivered_or_sent_receipts_are_not_interactions() -> None:
    tags = compute_tags(fold([receipt(T0, "delivered"), receipt(T0, "sent")]), T0)
    assert not {t for t in tags if t.startswith("heat:")}
    assert "dormant" not in tags


def test_purchase_exactly_90_days_old_still_counts() -> None:
    state = fold([purchase("a", T0)])
    assert "freq:quarterly" in compute_tags(state, T0 + 90 * DAY_MS)
    assert "freq:lapsed" in compute_tags(state, T0 + 90 * DAY_MS + 1)
    assert "freq:none" in compute_tags(CustomerState(), T0)


def test_three_purchases_make_monthly() -> None:
    state = fold([purchase("a", T0), purchase("b", T0 + 1), purchase("c", T0 + 2)])
    assert "freq:monthly" in compute_tags(state, T0 + 2)
    assert "freq:quarterly" in compute_tags(fold([purchase("a", T0), purchase("b", T0 + 1)]), T0)


@settings(deadline=None)
@given(
    currency=st.sampled_from(["KRW", "USD", "EUR", "XYZ"]),
    delta=st.integers(-2, 2),
    band=st.sampled_from(["high", "mid"]),
)
def test_value_thresholds_per_currency(currency: str, delta: int, band: str) -> None:
    bands = TH.value_for(currency)
    edge = bands.high_minor if band == "high" else bands.mid_minor
    tags = compute_tags(fold([purchase("a", T0, edge + delta, currency)]), T0)
    if band == "high":
        assert ("value:high" if delta >= 0 else "value:mid") in tags
    else:
        assert ("value:mid" if delta >= 0 else "value:low") in tags


def test_value_uses_the_currency_with_most_orders_and_the_average() -> None:
    state = fold(
        [
            purchase("a", T0, 150_000, "KRW"),
            purchase("b", T0, 50_000, "KRW"),  # average 100,000 KRW: high
            purchase("c", T0, 100, "USD"),
        ]
    )
    tags, reasons = tag_report(state, T0)
    assert "value:high" in tags
    assert reasons["value"] == "average order 100,000 KRW over 2 orders; high ≥ 100,000 KRW"


def test_vip_is_high_value_and_hot() -> None:
    state = fold([purchase("a", T0, 200_000), inbound(T0)])
    assert "vip" in compute_tags(state, T0 + 7 * DAY_MS)
    assert "vip" not in compute_tags(state, T0 + 7 * DAY_MS + 1)
    assert "vip" not in compute_tags(fold([purchase("a", T0, 1_000), inbound(T0)]), T0)


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(event_strategy, min_size=1, max_size=12).map(same_order_ids_same_data),
    now_offset=st.integers(0, 300 * DAY_MS),
    probe=st.floats(0, 1),
)
def test_next_tag_change_is_exactly_when_tags_next_change(
    events: list[object], now_offset: int, probe: float
) -> None:
    state = fold(events)
    now = T0 + now_offset
    current = compute_tags(state, now)
    nxt = next_tag_change_ms(state, now)
    if nxt is None:
        assert compute_tags(state, now + 3650 * DAY_MS) == current
        return
    assert nxt > now
    assert compute_tags(state, nxt) != current
    assert compute_tags(state, nxt - 1) == current
    assert compute_tags(state, now + int((nxt - 1 - now) * probe)) == current


def test_diff_lists_removals_then_additions_with_family_reasons() -> None:
    state = fold([inbound(T0)])
    old = compute_tags(state, T0)
    new, reasons = tag_report(state, T0 + 8 * DAY_MS)
    deltas = diff_tags(old, new, reasons)
    assert [(d.tag, d.change) for d in deltas] == [("heat:hot", "removed"), ("heat:warm", "added")]
    assert deltas[1].reason == "last message 8 d 0 h ago; warm = within 30 days"
    assert diff_tags(new, new) == []


@settings(deadline=None)
@given(
    old=st.frozensets(st.sampled_from(["a", "b:x", "b:y", "c"])),
    new=st.frozensets(st.sampled_from(["a", "b:x", "b:y", "c"])),
)
def test_applying_the_diff_turns_old_into_new(old: frozenset[str], new: frozenset[str]) -> None:
    result = set(old)
    for delta in diff_tags(old, new):
        assert delta.reason
        (result.discard if delta.change == "removed" else result.add)(delta.tag)
    assert result == new
    assert tag_family("heat:hot") == "heat" and tag_family("vip") == "vip"
