"""Property tests for the agents' pure policy: rate windows, attribution, SLA, tag timeline."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.agents.state_codec import StateJsonCodec
from pipeline.policy.reply_attribution import (
    CustomerMessages,
    credited_replies,
    forget_before,
    forget_settled,
    note_message,
    note_reply,
    publish,
    rate_facts,
)
from pipeline.policy.reply_rate import (
    RateAlarmPolicy,
    RateThresholds,
    ScopeWindow,
    apply_fact,
    judge,
    next_firing,
    sample_at,
)
from pipeline.policy.sla import Conversation, business_replied, customer_wrote
from pipeline.policy.sla import judge as sla_judge
from pipeline.policy.tag_timeline import TaggedCustomer, fold_events
from pipeline.policy.tags import compute_tags
from tests.policy.customer_events import event_strategy, fold

W = 24 * 3_600_000
TH = RateThresholds(fire_below=0.05, resolve_at=0.06, min_sample=100)


@given(firing=st.booleans(), sample=st.integers(0, 500), hits=st.integers(0, 500))
def test_hysteresis_needs_the_sample_and_the_band(firing: bool, sample: int, hits: int) -> None:
    hits = min(hits, sample)
    after = next_firing(firing, hits=hits, sample=sample, thresholds=TH)
    if sample < 100:
        assert after == firing, "too few messages never changes the state"
    elif firing:
        assert after == (hits / sample < 0.06)
    else:
        assert after == (hits / sample < 0.05)


deliveries = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 3 * W)), max_size=12, unique_by=lambda d: d[0]
)
replies = st.lists(
    st.tuples(st.integers(0, 3 * W), st.one_of(st.none(), st.integers(0, 40))), max_size=12
)


def customer(
    ds: list[tuple[int, int]], rs: list[tuple[int, int | None]], seed: int
) -> CustomerMessages:
    steps: list[tuple[str, object]] = [("d", d) for d in ds] + [("r", r) for r in rs]
    random.Random(seed).shuffle(steps)
    state = CustomerMessages()
    for kind, item in steps:
        if kind == "d":
            n, ts = item  # type: ignore[misc]
            state = note_message(
                state,
                wamid=f"w{n}",
                business_number_id="b",
                campaign_id="c" if n % 2 else None,
                status="delivered",
                ts_ms=ts,
            )
        else:
            ts, ctx = item  # type: ignore[misc]
            state = note_reply(state, ts_ms=ts, context_id=None if ctx is None else f"w{ctx}")
    return state


@settings(max_examples=150, deadline=None)
@given(ds=deliveries, rs=replies, seed=st.integers(0, 10**6))
def test_credits_do_not_depend_on_arrival_order(ds, rs, seed) -> None:  # type: ignore[no-untyped-def]
    one, other = customer(ds, rs, seed), customer(ds, rs, seed + 1)
    credited = credited_replies(one.messages, one.replies, window_ms=W)
    assert credited == credited_replies(other.messages, other.replies, window_ms=W)
    delivered = {m.wamid: m.delivered_ms for m in one.messages}
    reply_times = sorted(ts for ts, _ in rs)
    for wamid, ts in credited.items():
        assert ts in reply_times and abs(ts - delivered[wamid]) <= W  # type: ignore[operator]
    assert len(credited) <= len(set(rs)), "one reply credits at most one message"


@settings(max_examples=100, deadline=None)
@given(ds=deliveries, rs=replies, seed=st.integers(0, 10**6))
def test_published_fact_diffs_rebuild_the_same_window_in_any_order(ds, rs, seed) -> None:  # type: ignore[no-untyped-def]
    steps = [("d", d) for d in ds] + [("r", r) for r in rs]
    random.Random(seed).shuffle(steps)
    state, window = customer_and_window(steps, lambda s: s)
    direct = ScopeWindow()
    for fact in sorted(
        rate_facts(state, window_ms=W), key=lambda f: (f.kind == "replied", f.ts_ms)
    ):
        if fact.scope == "number:b":
            direct = apply_fact(direct, fact)
    for at in (0, W, 2 * W, 4 * W):
        assert sample_at(window, at, window_ms=W) == sample_at(direct, at, window_ms=W)


Step = tuple[str, tuple[int, int | None]]


def step_ms(step: Step) -> int:
    return int(step[1][1] if step[0] == "d" else step[1][0])  # type: ignore[arg-type]


def customer_and_window(
    steps: list[Step], forget: Callable[[CustomerMessages], CustomerMessages]
) -> tuple[CustomerMessages, ScopeWindow]:
    """One customer's attribution state, and the number window fed by its published facts,
    forgetting after each event (what the attribution agent does per batch)."""
    state, window = CustomerMessages(), ScopeWindow()
    for kind, item in steps:
        if kind == "d":
            n, ts = item
            state = note_message(
                state, wamid=f"w{n}", business_number_id="b", status="delivered", ts_ms=ts
            )
        else:
            ts, ctx = item
            state = note_reply(state, ts_ms=ts, context_id=None if ctx is None else f"w{ctx}")
        state, facts = publish(state, window_ms=W)
        state = forget(state)
        for fact in facts:
            if fact.scope == "number:b":
                window = apply_fact(window, fact)
    return state, window


def window_fed(steps: list[Step], forget: Callable[[CustomerMessages], CustomerMessages]) -> Any:
    return customer_and_window(steps, forget)[1]


late_deliveries = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 12 * W)), max_size=10, unique_by=lambda d: d[0]
)
late_replies = st.lists(
    st.tuples(st.integers(0, 12 * W), st.one_of(st.none(), st.integers(0, 40))), max_size=10
)


@settings(max_examples=150, deadline=None)
@given(
    ds=late_deliveries,
    rs=late_replies,
    lateness=st.sampled_from([0, W // 2, 2 * W, 5 * W]),
    data=st.data(),
)
def test_forgetting_keeps_credits_independent_of_arrival_within_the_lateness(
    ds: list[tuple[int, int]], rs: list[tuple[int, int | None]], lateness: int, data: Any
) -> None:
    """Events that arrive at most the lateness behind their time (the determinism condition)
    end in the same window as events in time order, though the state forgets as it goes."""
    steps: list[Step] = [("d", d) for d in ds] + [("r", r) for r in rs]
    delays = data.draw(st.lists(st.integers(0, lateness), min_size=len(steps), max_size=len(steps)))
    arrival = [
        s for _, s in sorted(zip(delays, steps, strict=True), key=lambda p: step_ms(p[1]) + p[0])
    ]

    def forget(state: CustomerMessages) -> CustomerMessages:
        return forget_settled(state, window_ms=W, lateness_ms=lateness)

    in_order = window_fed(sorted(steps, key=step_ms), forget)
    late = window_fed(arrival, forget)
    for at in range(0, 14 * W, W // 4):
        assert sample_at(late, at, window_ms=W) == sample_at(in_order, at, window_ms=W)


def test_forgetting_three_windows_back_lost_a_reply_read_after_a_later_receipt() -> None:
    """Issue 6's drift, at its smallest: a receipt four days on, read before an older reply,
    moved the watermark past the replied message. Within a 5-day lateness it must count."""
    hour = 3_600_000
    steps: list[Step] = [("d", (0, hour)), ("d", (1, 4 * W)), ("r", (3 * hour, None))]
    fixed = window_fed(steps, lambda s: forget_before(s, (s.watermark_ms or 0) - 3 * W))
    settled = window_fed(steps, lambda s: forget_settled(s, window_ms=W, lateness_ms=5 * W))
    assert sample_at(fixed, W, window_ms=W).replied == 0  # the old rule: the credit is lost
    assert sample_at(settled, W, window_ms=W).replied == 1


def test_judging_waits_for_the_lateness_and_never_goes_back() -> None:
    policy = RateAlarmPolicy(reply=TH, lateness_ms=300_000, step_ms=60_000)
    window = ScopeWindow()
    for i in range(120):
        state = note_message(
            CustomerMessages(),
            wamid=f"w{i}",
            business_number_id="b",
            status="delivered",
            ts_ms=i * 1000,
        )
        for fact in rate_facts(state, window_ms=W):
            window = apply_fact(window, fact)
    judged, transitions = judge(window, policy)
    assert transitions == [], "newest fact at 119 s: nothing is 5 minutes old yet"
    late = rate_facts(
        note_message(
            CustomerMessages(), wamid="x", business_number_id="b", status="delivered", ts_ms=600_000
        ),
        window_ms=W,
    )
    for fact in late:
        judged = apply_fact(judged, fact)
    judged, transitions = judge(judged, policy)
    assert [(t.kind, t.firing, t.at_ms) for t in transitions] == [("reply_rate", True, 120_000)]
    assert judge(judged, policy)[1] == [], "judging the same instants twice says nothing new"


@given(wrote=st.integers(0, 10**9), extra=st.integers(-10, 10), sla=st.integers(1, 10**8))
def test_sla_fires_one_ms_after_the_limit_and_resolves_on_reply(
    wrote: int, extra: int, sla: int
) -> None:
    conv = customer_wrote(Conversation(), wrote)
    conv, t = sla_judge(conv, wrote + sla + extra, sla_ms=sla)
    assert (t is not None) == (extra > 0)
    if t is not None:
        assert t.at_ms == wrote + sla + 1 and t.firing
        conv, resolved = business_replied(conv, wrote + sla + 50)
        assert resolved is not None and not resolved.firing and not conv.waiting
    assert customer_wrote(business_replied(Conversation(), wrote + 1)[0], wrote).waiting == ()


@settings(max_examples=80, deadline=None)
@given(events=st.lists(event_strategy, min_size=1, max_size=25), seed=st.integers(0, 10**6))
def test_tags_end_the_same_in_any_order_and_batching(events, seed) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    shuffled = events[:]
    rng.shuffle(shuffled)
    customer_state = TaggedCustomer()
    i = 0
    while i < len(shuffled):
        n = rng.randint(1, 5)
        customer_state, _ = fold_events(customer_state, shuffled[i : i + n])
        i += n
    latest = max(e.ts_ms for e in events)
    assert customer_state.tags == compute_tags(fold(events), latest)
    codec = StateJsonCodec()
    assert codec.loads(codec.dumps(customer_state)) == customer_state, "table value round trip"
