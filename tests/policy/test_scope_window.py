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
    RateThresholds,
    RateTransition,
    ScopeWindow,
    apply_fact,
    judge,
    message_with,
    sample_at,
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
    m = message_with(messages.get(fact.wamid, Message()), fact)
    ts = fact.ts_ms
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


# (gap after the previous fact, wamid, kind, judge after it): a stream in event-time order.
steps = st.tuples(
    st.integers(0, 15 * 60_000),
    st.sampled_from([f"wamid.{i}" for i in range(300)]),  # mostly one stamp each
    st.sampled_from(["sent", "delivered", "failed", "replied", "unreplied"]),
    st.booleans(),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(steps, min_size=30, max_size=80))
def test_forgetting_old_messages_never_changes_an_alarm(
    stream: list[tuple[int, str, str, bool]],
) -> None:
    # A short window, so that facts spread over four hours leave it many times over.
    policy = RateAlarmPolicy(
        window_ms=3_600_000,
        lateness_ms=120_000,
        step_ms=60_000,
        reply=RateThresholds(fire_below=0.3, resolve_at=0.4, min_sample=2),
        delivery=RateThresholds(fire_below=0.6, resolve_at=0.7, min_sample=2),
    )
    pruned = kept = ScopeWindow()
    seen: list[RateTransition] = []
    expected: list[RateTransition] = []
    ts_ms = 0
    stamped: set[tuple[str, str]] = set()
    for gap_ms, wamid, kind, judge_now in stream:
        ts_ms += gap_ms
        if kind in ("sent", "delivered", "failed"):
            # A message is sent (delivered, failed) at one instant; its facts repeat that
            # instant. A later one would count as a fact later than the lateness, which no
            # window promises to place (the same held with the two windows kept before).
            if (wamid, kind) in stamped:
                continue
            stamped.add((wamid, kind))
        if kind != "sent" and (wamid, "sent") not in stamped:
            continue  # stamps are causal: nothing is delivered or answered before it is sent
        fact = RateFact(scope="number:1", wamid=wamid, kind=kind, ts_ms=ts_ms)  # type: ignore[arg-type]
        pruned, kept = apply_fact(pruned, fact), apply_fact(kept, fact)
        if judge_now:
            pruned, transitions = judge(pruned, policy)
            seen += transitions
            judged, transitions = judge(kept, policy)
            kept = replace(judged, messages=kept.messages)  # remember every message
            expected += transitions
            if judged.judged_ms is not None:  # every later sample counts the same
                for at in range(judged.judged_ms + 1, judged.judged_ms + 7_200_000, 300_000):
                    assert sample_at(pruned, at, window_ms=policy.window_ms) == sample_at(
                        kept, at, window_ms=policy.window_ms
                    ), at
    pruned, transitions = judge(pruned, policy)
    kept, more = judge(kept, policy)
    assert seen + transitions == expected + more


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(facts, max_size=15), max_size=6))
def test_remembered_message_texts_give_the_generic_bytes(batches: list[list[RateFact]]) -> None:
    codec = StateJsonCodec()  # one codec across the versions of a window, as in a worker
    window = ScopeWindow()
    for batch in batches:
        for fact in batch:
            window = apply_fact(window, fact)
        window, _ = judge(window, RateAlarmPolicy(lateness_ms=0))
        generic = json.dumps(generic_plain(window), separators=(",", ":")).encode()
        assert codec._dumps(window) == generic
        assert codec._loads(generic) == window
