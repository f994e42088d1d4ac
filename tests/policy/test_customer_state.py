"""Folding events into a customer's state: idempotent under redelivery and reordering."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.events import Purchase
from pipeline.policy.durations import DAY_MS
from pipeline.policy.tags import compute_tags, tag_report
from tests.policy.customer_events import (
    T0,
    TH,
    consent,
    event_strategy,
    fold,
    inbound,
    purchase,
    receipt,
    same_order_ids_same_data,
)


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(event_strategy, max_size=30).map(same_order_ids_same_data),
    data=st.data(),
)
def test_state_is_the_same_under_duplicates_and_reordering(
    events: list[object], data: st.DataObject
) -> None:
    reference = fold(events)
    duplicated = events + data.draw(
        st.lists(st.sampled_from(events), max_size=15) if events else st.just([])
    )
    shuffled = data.draw(st.permutations(duplicated))
    assert fold(shuffled) == reference, "replaying or reordering events changed the state"
    now = T0 + TH.frequency_window_ms
    assert compute_tags(fold(shuffled), now) == compute_tags(reference, now)


@settings(max_examples=100, deadline=None)
@given(events=st.lists(event_strategy, max_size=30).map(same_order_ids_same_data))
def test_each_order_counts_once(events: list[object]) -> None:
    state = fold(events + events)
    unique = {e.order_id: e for e in events if isinstance(e, Purchase)}
    assert state.lifetime_orders == len(unique)
    for total in state.totals:
        expected = sum(p.amount_minor for p in unique.values() if p.currency == total.currency)
        assert total.amount_minor == expected


def test_opt_out_latest_wins_and_a_tie_keeps_the_opt_out() -> None:
    assert "opted-out" in compute_tags(fold([consent(T0, "opted_out")]), T0)
    assert "opted-out" not in compute_tags(
        fold([consent(T0 + 1, "opted_in"), consent(T0, "opted_out")]), T0
    )
    assert "opted-out" in compute_tags(
        fold([consent(T0, "opted_in"), consent(T0, "opted_out")]), T0
    )
    assert "opted-out" in compute_tags(fold([receipt(T0, "failed", 131050)]), T0)
    _, reasons = tag_report(fold([receipt(T0, "failed", 131050)]), T0)
    assert reasons["opted-out"] == "opted out via error 131050"


def test_purchases_behind_the_horizon_are_ignored_even_if_new() -> None:
    state = fold([inbound(T0 + 200 * DAY_MS), purchase("late", T0)])
    assert state.lifetime_orders == 0
    assert state.horizon_ms == T0 + 110 * DAY_MS


def test_forgotten_orders_are_not_recounted_when_replayed() -> None:
    th = replace(TH, max_tracked_orders=3)
    events = [purchase(f"o{i}", T0 + i) for i in range(6)]
    state = fold(events + events, th)
    assert state.lifetime_orders == 6
    assert len(state.purchases) == 3


def test_two_bodies_for_one_order_id_give_the_same_state_in_either_order() -> None:
    from pipeline.events import Purchase
    from pipeline.policy.customer_state import CustomerState, apply_purchase

    first = Purchase(order_id="o1", customer="8210", amount_minor=1, currency="KRW", ts_ms=10)
    corrected = Purchase(
        order_id="o1", customer="8210", amount_minor=3000, currency="USD", ts_ms=10
    )
    one_way = apply_purchase(apply_purchase(CustomerState(), first), corrected)
    other_way = apply_purchase(apply_purchase(CustomerState(), corrected), first)
    assert one_way == other_way
    assert len(one_way.purchases) == 1
    assert sum(t.orders for t in one_way.totals) == 1
