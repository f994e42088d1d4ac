"""A customer's state, current tags and judging time: what the engagement agent stores per key.

Tags are judged at a per-customer instant that only moves forward: the latest event time
folded, or a sweep tick's time (the injectable clock, design.md §4). Late events still update
the state but never move tags back in time, so replaying the same events, in any order and in
any batches, ends at the same state, judging instant and tags (issue 6).

A change is *stamped* with the judging instant, except that one customer's stamps strictly
increase: when late events change the tags at an instant whose changes were already published,
the new changes are stamped 1 ms after the last stamp, so no two changes of a customer share an
id (tag, change, stamp). Only the stamp moves, never the judging instant: judging at the bumped
instant made the tags depend on the batching (issue 6: an interaction or purchase exactly at a
window's inclusive edge counted in one batching and not in another).

A batch of events for one customer is folded first and judged once (work per batch, issue 6's
benchmark): intermediate tags inside one batch are not published, only the net change with its
reason.

A value that changed the tags remembers the tags before (``changed_from``) and the input that
made it (``changed_by``, opaque here), so :func:`last_changes` can word the same TagChanges
again: the agent stores the value first and publishes its changes after, and after a crash in
between it publishes them again from the recovered value (docs/agents.md, "State before
changes").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from pipeline.policy.customer_batch import EventRecord, fold_records
from pipeline.policy.customer_state import CustomerState, apply_event
from pipeline.policy.frozen_init import fast_init
from pipeline.policy.tag_thresholds import DEFAULT_TAG_THRESHOLDS, TagThresholds
from pipeline.policy.tags import (
    TagDelta,
    compute_tags,
    diff_tags,
    next_tag_change_ms,
    tag_family,
    tag_reasons,
)


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class TaggedCustomer:
    state: CustomerState = field(default_factory=CustomerState)
    tags: frozenset[str] = frozenset()
    judged_ms: int | None = None
    next_change_ms: int | None = None  # when time alone changes the tags (for the sweep)
    stamped_ms: int | None = None  # the time stamp of the last published change
    # Set only on a value whose write changed the tags: the tags before, and the input
    # (topic, offset) whose batch made it. last_changes() words that change again.
    changed_from: frozenset[str] | None = None
    changed_by: tuple[str, int] | None = None


#: Where a batch's input came from: (topic, offset) of one of its records in the key's
#: partition. Stored on a changed value; the engagement agent compares it with the committed
#: offset after a restart.
Source = tuple[str, int]


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class TimedDelta:
    delta: TagDelta
    ts_ms: int


def _judge(
    customer: TaggedCustomer,
    state: CustomerState,
    at_ms: int,
    th: TagThresholds,
    source: Source | None,
) -> tuple[TaggedCustomer, list[TimedDelta]]:
    judged = customer.judged_ms
    at = at_ms if judged is None or at_ms > judged else judged
    tags = compute_tags(state, at, th)
    stamp = customer.stamped_ms
    timed: list[TimedDelta] = []
    changed_from = changed_by = None
    if tags != customer.tags:
        # A change's id is (customer, tag, change, stamp) and readers deduplicate on it: late
        # events flipping a tag back at an instant already published would repeat an earlier
        # change's id and be dropped downstream. So stamps strictly increase, 1 ms at a time;
        # the tags stay judged at ``at`` (judging at the stamp made them batching-dependent).
        stamp = at if stamp is None or at > stamp else stamp + 1
        timed = _worded_changes(customer.tags, tags, state, at, stamp, th)
        changed_from, changed_by = customer.tags, source
    updated = TaggedCustomer(
        state=state,
        tags=tags,
        judged_ms=at,
        next_change_ms=next_tag_change_ms(state, at, th),
        stamped_ms=stamp,
        changed_from=changed_from,
        changed_by=changed_by,
    )
    return updated, timed


def last_changes(
    customer: TaggedCustomer, thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS
) -> list[TimedDelta]:
    """The changes published with ``customer`` when it was stored: the same tags, reasons and
    stamp (so the same TagChange ids) as the judgement returned then; none if that write
    changed no tag. Reasons are worded from the stored state at the stored judging instant,
    as :func:`_judge` worded them."""
    before, at, stamp = customer.changed_from, customer.judged_ms, customer.stamped_ms
    if before is None or at is None or stamp is None:
        return []
    return _worded_changes(before, customer.tags, customer.state, at, stamp, thresholds)


def _worded_changes(
    before: frozenset[str],
    tags: frozenset[str],
    state: CustomerState,
    at: int,
    stamp: int,
    th: TagThresholds,
) -> list[TimedDelta]:
    """The changes from ``before`` to ``tags``, with their reasons at ``at``, stamped."""
    # Wording reasons is most of a judgement's cost: only the families whose tags moved.
    families = {tag_family(t) for t in before ^ tags}
    deltas = diff_tags(before, tags, tag_reasons(state, at, tags, families, th))
    return [TimedDelta(delta=d, ts_ms=stamp) for d in deltas]


def fold_events(
    customer: TaggedCustomer,
    events: Iterable[object],
    thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS,
    source: Source | None = None,
) -> tuple[TaggedCustomer, list[TimedDelta]]:
    """Fold a batch of one customer's events and judge the tags once, at the latest time."""
    state = customer.state
    latest: int | None = None
    for event in events:
        state = apply_event(state, event, thresholds)
        ts = getattr(event, "ts_ms", None)
        if isinstance(ts, int) and (latest is None or ts > latest):
            latest = ts
    if latest is None:
        return customer, []
    if customer.judged_ms is not None and latest <= customer.judged_ms and state == customer.state:
        return customer, []  # a pure redelivery: nothing to store, nothing to say
    return _judge(customer, state, latest, thresholds, source)


def fold_batch(
    customer: TaggedCustomer,
    records: Iterable[EventRecord],
    thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS,
    source: Source | None = None,
) -> tuple[TaggedCustomer, list[TimedDelta]]:
    """:func:`fold_events` for decoded records (the agent's path): the same result, with the
    state folded in place (:mod:`pipeline.policy.customer_batch`) and frozen once."""
    state, latest = fold_records(customer.state, records, thresholds)
    if latest is None:
        return customer, []
    if customer.judged_ms is not None and latest <= customer.judged_ms and state == customer.state:
        return customer, []  # a pure redelivery: nothing to store, nothing to say
    return _judge(customer, state, latest, thresholds, source)


def sweep(
    customer: TaggedCustomer,
    now_ms: int,
    thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS,
    source: Source | None = None,
) -> tuple[TaggedCustomer, list[TimedDelta]]:
    """Time has reached ``now_ms``: apply the changes time alone makes (hot → warm → …)."""
    due = customer.next_change_ms
    if due is None or due > now_ms:
        return customer, []
    return _judge(customer, customer.state, now_ms, thresholds, source)


def thresholds_from_settings(
    *,
    hot_days: int,
    warm_days: int,
    dormant_days: int,
    frequency_days: int,
    monthly_min_purchases: int,
    value_bands: str,
) -> TagThresholds:
    """Build thresholds from the settings' plain numbers (``CUR:high:mid,...`` value bands)."""
    from pipeline.policy.durations import DAY_MS
    from pipeline.policy.tag_thresholds import ValueThresholds

    bands: list[tuple[str, ValueThresholds]] = []
    for item in filter(None, (part.strip() for part in value_bands.split(","))):
        try:
            currency, high, mid = item.split(":")
            bands.append(
                (currency.upper(), ValueThresholds(high_minor=int(high), mid_minor=int(mid)))
            )
        except ValueError as exc:
            raise ValueError(
                f"value band {item!r} is not CUR:high_minor:mid_minor (e.g. USD:10000:3000): {exc}"
            ) from None
    return replace(
        DEFAULT_TAG_THRESHOLDS,
        hot_within_ms=hot_days * DAY_MS,
        warm_within_ms=warm_days * DAY_MS,
        dormant_after_ms=dormant_days * DAY_MS,
        frequency_window_ms=frequency_days * DAY_MS,
        monthly_min_purchases=monthly_min_purchases,
        value_by_currency=tuple(bands),
    )


__all__ = [
    "TaggedCustomer",
    "TimedDelta",
    "fold_batch",
    "fold_events",
    "sweep",
    "thresholds_from_settings",
]
