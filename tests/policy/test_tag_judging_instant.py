"""Tags are judged at the latest event time, whatever the order and batching of the events
(issue 6): late changes get a later time stamp, but the tags never move to that instant."""

from __future__ import annotations

import random
from dataclasses import replace
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.agents.engagement import tag_change
from pipeline.policy.customer_batch import record_of
from pipeline.policy.tag_timeline import TaggedCustomer, TimedDelta, fold_batch, fold_events, sweep
from pipeline.policy.tags import (
    DORMANT,
    FREQ_LAPSED,
    FREQ_QUARTERLY,
    HEAT_COLD,
    VALUE_LOW,
    compute_tags,
)
from tests.agents.world import final_tags
from tests.policy.customer_events import T0, TH, event_strategy, fold, inbound, purchase

CUSTOMER = "821000000001"
WINDOW = TH.frequency_window_ms  # 90 days: also the dormancy age
LATEST = T0 + WINDOW


def _order(ts_ms: int) -> object:
    return purchase("o0", ts_ms, 1, "KRW")


#: The example hypothesis found (test_tags_end_the_same_in_any_order_and_batching, seed 142):
#: order o0 at T0, an inbound message at T0, and o0 again exactly one window later.
EXAMPLE = [_order(T0)] * 3 + [inbound(T0)] + [_order(T0)] * 2 + [_order(LATEST)]
#: How seed 142 shuffled and cut it: the inbound message arrives after LATEST was judged.
SEED_142_BATCHES = [
    [_order(T0), _order(T0), _order(LATEST)],
    [_order(T0), inbound(T0), _order(T0)],
    [_order(T0)],
]


def _published(
    batches: list[list[object]], *, columnar: bool
) -> tuple[TaggedCustomer, list[list[TimedDelta]]]:
    customer = TaggedCustomer()
    published = []
    for batch in batches:
        if columnar:
            customer, deltas = fold_batch(customer, [record_of(e) for e in batch])
        else:
            customer, deltas = fold_events(customer, batch)
        published.append(deltas)
    return customer, published


def test_the_example_is_judged_at_its_latest_event_not_1_ms_after() -> None:
    customer, published = _published(SEED_142_BATCHES, columnar=False)
    one_shot = compute_tags(fold(EXAMPLE), LATEST)
    # "Within 90 days" is inclusive (tags.py): at LATEST the order and the message are exactly
    # 90 days old, so the customer still buys quarterly and is not dormant yet.
    assert one_shot == {FREQ_QUARTERLY, HEAT_COLD, VALUE_LOW}
    assert customer.state == fold(EXAMPLE)
    assert customer.judged_ms == LATEST
    assert customer.tags == one_shot
    # The late message's change is stamped 1 ms after the first changes (unique ids), but is
    # judged at LATEST: its reason says 90 days, and no dormant / freq:lapsed comes with it.
    stamps = [[(t.delta.tag, t.delta.change, t.ts_ms) for t in deltas] for deltas in published]
    assert stamps == [
        [(FREQ_QUARTERLY, "added", LATEST), (VALUE_LOW, "added", LATEST)],
        [(HEAT_COLD, "added", LATEST + 1)],
        [],
    ]
    assert "90 d 0 h ago" in published[1][0].delta.reason
    assert customer.stamped_ms == LATEST + 1


def test_the_example_turns_dormant_and_lapsed_when_time_passes_the_edge() -> None:
    customer, _ = _published(SEED_142_BATCHES, columnar=False)
    assert customer.next_change_ms == LATEST + 1
    swept, deltas = sweep(customer, LATEST + 1)
    assert swept.tags == {FREQ_LAPSED, HEAT_COLD, VALUE_LOW, DORMANT}
    assert swept.tags == compute_tags(fold(EXAMPLE), LATEST + 1)
    assert {(t.delta.tag, t.delta.change) for t in deltas} == {
        (FREQ_QUARTERLY, "removed"),
        (FREQ_LAPSED, "added"),
        (DORMANT, "added"),
    }
    assert {t.ts_ms for t in deltas} == {LATEST + 2}, "after the last stamp, LATEST + 1"


def test_the_columnar_batch_fold_gives_the_example_the_same_values_and_changes() -> None:
    assert _published(SEED_142_BATCHES, columnar=True) == _published(
        SEED_142_BATCHES, columnar=False
    )


def _cut(events: list[object], cuts: list[int]) -> list[list[object]]:
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    return [events[start:end] for start, end in pairwise(bounds)]


def _check_every_path(events: list[object], arrival: list[object], cuts: list[int]) -> None:
    """``events`` arriving in the order ``arrival``, in batches cut at ``cuts``: both fold paths
    end at the one-shot fold's tags at the latest event time, and the changes they publish,
    deduplicated by id as readers do, fold into those tags."""
    latest = max(e.ts_ms for e in events)  # type: ignore[attr-defined]
    want = compute_tags(fold(events), latest)
    for columnar in (False, True):
        customer, published = _published(_cut(arrival, cuts), columnar=columnar)
        assert customer.judged_ms == latest
        assert customer.tags == want
        stamps = [deltas[0].ts_ms for deltas in published if deltas]
        assert stamps == sorted(set(stamps)), "each publication stamped after the last"
        seen: set[str] = set()
        changes = [tag_change(CUSTOMER, t) for deltas in published for t in deltas]
        first = [c for c in changes if not (c.event_id in seen or seen.add(c.event_id))]
        assert final_tags(first).get(CUSTOMER, frozenset()) == want


@settings(max_examples=60, deadline=None)
@given(order=st.permutations(EXAMPLE), cuts=st.lists(st.integers(0, len(EXAMPLE)), max_size=6))
def test_every_order_and_batching_of_the_example_ends_the_same(
    order: list[object], cuts: list[int]
) -> None:
    _check_every_path(EXAMPLE, order, cuts)


#: Offsets on the rules' inclusive edges (hot, warm, frequency window / dormancy), where a
#: judging instant 1 ms off changes the tags.
_edges = sorted({0, TH.hot_within_ms, TH.warm_within_ms, WINDOW})
edge_events = st.builds(
    lambda event, edge, nudge: replace(event, ts_ms=T0 + max(0, min(WINDOW, edge + nudge))),
    event_strategy,
    st.sampled_from(_edges),
    st.sampled_from([0, 0, -1, 1]),
)


@settings(max_examples=80, deadline=None)
@given(
    events=st.lists(st.one_of(event_strategy, edge_events), min_size=1, max_size=20),
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(0, 20), max_size=8),
)
def test_events_on_the_edges_end_the_same_in_any_order_and_batching(
    events: list[object], order: random.Random, cuts: list[int]
) -> None:
    arrival = events[:]
    order.shuffle(arrival)
    _check_every_path(events, arrival, cuts)
