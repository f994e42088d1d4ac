"""Engagement tags: rules at their boundaries, reasons, time-driven changes, idempotent state."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.events import ConsentChange, DeliveryReceipt, InboundMessage, Purchase, SendResult
from pipeline.policy.durations import DAY_MS
from pipeline.policy.tags import (
    DEFAULT_TAG_THRESHOLDS,
    CustomerState,
    TagThresholds,
    ValueThresholds,
    apply_event,
    compute_tags,
    diff_tags,
    next_tag_change_ms,
    tag_family,
    tag_report,
)

T0 = 1_750_000_000_000
TH = DEFAULT_TAG_THRESHOLDS
CUSTOMER = "821012345678"


def purchase(
    order_id: str, ts_ms: int, amount_minor: int = 50_000, currency: str = "KRW"
) -> Purchase:
    return Purchase(
        order_id=order_id,
        customer=CUSTOMER,
        amount_minor=amount_minor,
        currency=currency,
        ts_ms=ts_ms,
    )


def inbound(ts_ms: int, *, type_: str = "text", context_id: str | None = None) -> InboundMessage:
    return InboundMessage(
        event_id=f"wamid.{ts_ms}.{type_}",
        business_number_id="b1",
        customer=CUSTOMER,
        type=type_,
        context_id=context_id,
        ts_ms=ts_ms,
    )


def receipt(ts_ms: int, status: str = "read", error_code: int | None = None) -> DeliveryReceipt:
    return DeliveryReceipt(
        event_id=f"wamid.x.{status}",
        wamid="wamid.x",
        business_number_id="b1",
        customer=CUSTOMER,
        status=status,
        ts_ms=ts_ms,
        error_code=error_code,
    )


def consent(ts_ms: int, value: str, source: str = "keyword") -> ConsentChange:
    return ConsentChange(
        event_id=f"c{ts_ms}{value}{source}",
        customer=CUSTOMER,
        business_number_id="b1",
        consent=value,
        source=source,
        ts_ms=ts_ms,
    )


def fold(events: list[object], thresholds: TagThresholds = TH) -> CustomerState:
    state = CustomerState()
    for event in events:
        state = apply_event(state, event, thresholds)
    return state


# --- event strategies: all within one frequency window of each other ---------------------------

offsets = st.integers(0, TH.frequency_window_ms)
event_strategy = st.one_of(
    st.builds(
        lambda oid, off, amount, cur: purchase(f"o{oid}", T0 + off, amount, cur),
        st.integers(0, 15),
        offsets,
        st.integers(1, 300_000),
        st.sampled_from(["KRW", "USD", "EUR", "BRL"]),
    ),
    st.builds(
        lambda off, t, ctx: inbound(T0 + off, type_=t, context_id=ctx),
        offsets,
        st.sampled_from(["text", "button", "interactive", "image"]),
        st.none() | st.just("wamid.ctx"),
    ),
    st.builds(
        lambda off, status, code: receipt(T0 + off, status, code),
        offsets,
        st.sampled_from(["sent", "delivered", "read", "failed"]),
        st.none() | st.just(131050) | st.just(131026),
    ),
    st.builds(
        lambda off, value, src: consent(T0 + off, value, src),
        offsets,
        st.sampled_from(["opted_out", "opted_in"]),
        st.sampled_from(["keyword", "webhook"]),
    ),
    st.builds(
        lambda off, outcome, cat, code: SendResult(
            command_id="c",
            wamid=None,
            customer=CUSTOMER,
            business_number_id="b1",
            outcome=outcome,
            category=cat,
            error_code=code,
            ts_ms=T0 + off,
        ),
        offsets,
        st.sampled_from(["accepted", "rejected", "skipped"]),
        st.sampled_from(["marketing", "service"]),
        st.none() | st.just(131050),
    ),
)


def same_order_ids_same_data(events: list[object]) -> list[object]:
    """A redelivered purchase is byte-identical: keep the first version of each order id."""
    seen: dict[str, Purchase] = {}
    out = []
    for e in events:
        if isinstance(e, Purchase):
            e = seen.setdefault(e.order_id, e)
        out.append(e)
    return out


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
