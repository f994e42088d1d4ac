"""The reply-rate window's fast paths give exactly what the plain versions gave: the fold that
splices one message in by bisection, and the written-out changelog encoders."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.agents.state_codec import StateJsonCodec, to_plain
from pipeline.policy.reply_attribution import RateFact
from pipeline.policy.reply_rate import (
    Message,
    RateAlarmPolicy,
    ScopeWindow,
    apply_fact,
    judge,
)
from pipeline.policy.tag_timeline import TaggedCustomer, fold_events
from tests.policy.customer_events import event_strategy

facts = st.builds(
    RateFact,
    scope=st.just("number:1"),
    wamid=st.sampled_from([f"wamid.{i}" for i in range(12)]),
    kind=st.sampled_from(["sent", "delivered", "failed", "replied", "unreplied"]),
    ts_ms=st.integers(0, 3 * 86_400_000),
)


def reference_apply_fact(window: ScopeWindow, fact: RateFact) -> ScopeWindow:
    """The fold as first written: rebuild the window as a dict and sort it again."""
    messages = dict(window.messages)
    m = messages.get(fact.wamid, Message())
    ts = fact.ts_ms
    if fact.kind == "sent":
        m = replace(m, sent_ms=ts if m.sent_ms is None else min(m.sent_ms, ts))
    elif fact.kind == "delivered":
        m = replace(m, delivered_ms=ts if m.delivered_ms is None else min(m.delivered_ms, ts))
    elif fact.kind == "failed":
        m = replace(m, failed_ms=ts if m.failed_ms is None else min(m.failed_ms, ts))
    elif fact.kind == "replied":
        m = replace(m, replied_ms=ts)
    elif fact.kind == "unreplied" and m.replied_ms == ts:
        m = replace(m, replied_ms=None)
    messages[fact.wamid] = m
    watermark = ts if window.watermark_ms is None else max(window.watermark_ms, ts)
    return replace(window, messages=tuple(sorted(messages.items())), watermark_ms=watermark)


def generic_plain(value: Any) -> Any:
    """The codec's generic recursion, which the written-out encoders must reproduce."""
    if is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in fields(value)]
        return {"@": type(value).__name__, "f": [generic_plain(getattr(value, n)) for n in names]}
    if isinstance(value, tuple):
        return {"t": [generic_plain(v) for v in value]}
    if isinstance(value, frozenset):
        return {"s": sorted((generic_plain(v) for v in value), key=json.dumps)}
    return value


@settings(max_examples=200, deadline=None)
@given(st.lists(facts, max_size=60), st.integers(0, 59))
def test_the_spliced_fold_equals_the_rebuilt_fold(batch: list[RateFact], judge_after: int) -> None:
    policy = RateAlarmPolicy(lateness_ms=0)
    fast = slow = ScopeWindow()
    for i, fact in enumerate(batch):
        fast, slow = apply_fact(fast, fact), reference_apply_fact(slow, fact)
        if i == judge_after:  # judging forgets old messages: splice into a pruned window too
            fast, _ = judge(fast, policy)
            slow, _ = judge(slow, policy)
        assert fast == slow
    assert [w for w, _ in fast.messages] == sorted({w for w, _ in fast.messages})


@settings(max_examples=100, deadline=None)
@given(st.lists(facts, max_size=40), st.booleans())
def test_a_window_is_stored_as_the_generic_codec_stored_it(
    batch: list[RateFact], judged: bool
) -> None:
    window = ScopeWindow()
    for fact in batch:
        window = apply_fact(window, fact)
    if judged:
        window, _ = judge(window, RateAlarmPolicy(lateness_ms=0))
    assert to_plain(window) == generic_plain(window)
    codec = StateJsonCodec()
    assert codec._loads(codec._dumps(window)) == window


@settings(max_examples=60, deadline=None)
@given(st.lists(event_strategy, max_size=25))
def test_a_customer_is_stored_as_the_generic_codec_stored_it(events: list[object]) -> None:
    customer, _ = fold_events(TaggedCustomer(), events)
    assert to_plain(customer) == generic_plain(customer)
    codec = StateJsonCodec()
    assert codec._loads(codec._dumps(customer)) == customer
