"""The batch fold (mutable, per customer per batch) equals the per-event fold, rule for rule."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy.customer_batch import FOLDED_FIELDS, fold_records, record_of
from pipeline.policy.customer_state import CustomerState, apply_event
from pipeline.policy.tag_thresholds import DEFAULT_TAG_THRESHOLDS, TagThresholds
from pipeline.policy.tag_timeline import TaggedCustomer, fold_batch, fold_events, sweep
from pipeline.policy.tags import compute_tags, tag_report
from pipeline.schemas.codec import AvroEventCodec
from tests.policy.customer_events import T0, event_strategy, purchase

CODEC = AvroEventCodec()
FOLDED = CODEC.projection(FOLDED_FIELDS)
#: A tiny order bound, so batches hit the "forget the oldest ids" rule.
TIGHT = replace(DEFAULT_TAG_THRESHOLDS, max_tracked_orders=3)
thresholds_strategy = st.sampled_from([DEFAULT_TAG_THRESHOLDS, TIGHT])
#: Events spread over three frequency windows, so horizons move inside a batch.
window = DEFAULT_TAG_THRESHOLDS.frequency_window_ms
spread = st.builds(
    lambda e, shift: replace(e, ts_ms=e.ts_ms + shift),
    event_strategy,
    st.sampled_from([0, 0, window, 2 * window, -window // 2]),
)
events_strategy = st.lists(spread, max_size=30)


def per_event(state: CustomerState, events: list[object], th: TagThresholds) -> CustomerState:
    for event in events:
        state = apply_event(state, event, th)
    return state


def wire(events: list[object]) -> list[tuple[str, dict[str, object]]]:
    """The records the agent gets: each event through the Avro codec and back."""
    return [CODEC.decode_dict(CODEC.encode(e)) for e in events]


@settings(max_examples=100, deadline=None)
@given(before=events_strategy, batch=events_strategy, th=thresholds_strategy)
def test_fold_records_equals_apply_event_one_by_one(
    before: list[object], batch: list[object], th: TagThresholds
) -> None:
    start = per_event(CustomerState(), before, th)
    folded, latest = fold_records(start, wire(batch), th)
    assert folded == per_event(start, batch, th)
    assert latest == max((e.ts_ms for e in batch), default=None)  # type: ignore[attr-defined]


@settings(max_examples=100, deadline=None)
@given(before=events_strategy, batch=events_strategy, th=thresholds_strategy)
def test_records_decoded_to_the_folded_fields_only_fold_the_same(
    before: list[object], batch: list[object], th: TagThresholds
) -> None:
    # The agent decodes only FOLDED_FIELDS: a field the fold reads but the list lacks
    # would read as missing here and change the state.
    start = per_event(CustomerState(), before, th)
    projected = [FOLDED.decode_dict(CODEC.encode(e)) for e in batch]
    assert fold_records(start, projected, th) == fold_records(start, wire(batch), th)


@settings(max_examples=80, deadline=None)
@given(before=events_strategy, batch=events_strategy, th=thresholds_strategy)
def test_fold_batch_equals_fold_events_state_tags_and_changes(
    before: list[object], batch: list[object], th: TagThresholds
) -> None:
    customer, _ = fold_events(TaggedCustomer(), before, th)
    assert fold_batch(customer, [record_of(e) for e in batch], th) == fold_events(
        customer, batch, th
    )


@settings(max_examples=80, deadline=None)
@given(events=events_strategy, th=thresholds_strategy)
def test_one_batch_ends_where_the_per_event_fold_ends_with_the_net_changes(
    events: list[object], th: TagThresholds
) -> None:
    one_by_one = TaggedCustomer()
    for event in events:
        one_by_one, _ = fold_events(one_by_one, [event], th)
    batched, deltas = fold_batch(TaggedCustomer(), wire(events), th)
    assert batched.state == one_by_one.state
    # Both judge at the latest event time: one by one, a late event that changes the tags only
    # gets its change stamped 1 ms later (change ids stay unique,
    # tests/policy/test_tag_change_ids.py), the tags are judged at the instant itself.
    if one_by_one.judged_ms is not None:
        assert batched.judged_ms == one_by_one.judged_ms
        assert batched.tags == one_by_one.tags
        assert batched.next_change_ms == one_by_one.next_change_ms
        assert batched.tags == compute_tags(batched.state, batched.judged_ms, th)
    else:
        assert batched == one_by_one  # nothing was judged
    tags: set[str] = set()
    for timed in deltas:
        (tags.add if timed.delta.change == "added" else tags.discard)(timed.delta.tag)
    assert frozenset(tags) == batched.tags


def test_a_redelivered_batch_returns_the_same_value_and_no_changes() -> None:
    batch = wire([purchase("o1", T0), purchase("o2", T0 + 1_000)])
    first, deltas = fold_batch(TaggedCustomer(), batch)
    again, repeated = fold_batch(first, batch)
    assert deltas and again is first and repeated == []
    assert first.state.lifetime_orders == 2


def test_a_corrected_order_replaces_the_first_copy_in_one_batch() -> None:
    first = purchase("o1", T0 + 5, amount_minor=9_000)
    corrected = purchase("o1", T0, amount_minor=150_000)  # lower version wins the tie-break
    state, _ = fold_records(CustomerState(), wire([first, corrected]), DEFAULT_TAG_THRESHOLDS)
    assert [(p.order_id, p.amount_minor) for p in state.purchases] == [("o1", 150_000)]
    assert state.lifetime_orders == 1 and state.totals[0].amount_minor == 150_000


@settings(max_examples=100, deadline=None)
@given(events=events_strategy, later=st.integers(0, 3 * window), th=thresholds_strategy)
def test_compute_tags_equals_the_reported_tags(
    events: list[object], later: int, th: TagThresholds
) -> None:
    state = per_event(CustomerState(), events, th)
    now = T0 + later
    assert compute_tags(state, now, th) == tag_report(state, now, th)[0]


@settings(max_examples=60, deadline=None)
@given(events=events_strategy, later=st.integers(0, 3 * window))
def test_a_sweep_after_a_batch_fold_equals_one_after_the_event_fold(
    events: list[object], later: int
) -> None:
    batched, _ = fold_batch(TaggedCustomer(), [record_of(e) for e in events])
    folded, _ = fold_events(TaggedCustomer(), events)
    assert sweep(batched, T0 + later) == sweep(folded, T0 + later)


def test_records_of_other_types_change_nothing_but_count_as_time() -> None:
    state, latest = fold_records(
        CustomerState(), [("SweepTick", {"ts_ms": T0})], DEFAULT_TAG_THRESHOLDS
    )
    assert state == CustomerState() and latest == T0
