"""The attribution refresh job: incremental runs give the brute-force answers of all events.

Events arrive in two phases, each with duplicates, redelivered batches and receipts before
their send results (the phase-one world lacks many send results, replies and orders that the
second phase brings); after each phase one incremental run must leave the facts-based queries
equal to the reference computed from the distinct events stored so far. A change whose insert
commits after a run read the tables is picked up once its window settles.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.analytics.queries import run_named
from pipeline.analytics.refresh import dirty_windows, refresh_attribution
from pipeline.events import Purchase, PurchaseItem
from pipeline.runtime.store import Store, apply_migrations, events_to_arrow, open_store, table_for
from pipeline.settings import Settings
from tests.analytics import reference
from tests.analytics.world import DAY_MS, HOUR_MS, World, generate, load

SEED = 23


@pytest.fixture(scope="module")
def full_world() -> World:
    return generate(SEED, messages=140, customers=18)


@pytest.fixture(scope="module")
def phases(full_world: World) -> tuple[World, World]:
    """(first phase, second phase): every family split at random, the second holding the rest."""
    rng = random.Random(SEED)
    first, second = World(), World()
    for name in ("outbound", "receipts", "inbound", "purchases", "tags", "controls", "alarms"):
        for event in getattr(full_world, name):
            getattr(first if rng.random() < 0.5 else second, name).append(event)
    return first, second


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = open_store(Settings(data_dir=tmp_path_factory.mktemp("refresh")))
    try:
        apply_migrations(opened)
        yield opened
    finally:
        opened.close()


def _merged(*worlds: World) -> World:
    merged = World()
    for world in worlds:
        for family in ("outbound", "receipts", "inbound", "purchases", "tags", "controls"):
            getattr(merged, family).extend(getattr(world, family))
    return merged


def _assert_answers(store: Store, world: World) -> None:
    for grain in ("campaign", "day"):
        got = {
            r["key"]: (r["sent"], r["delivered"], r["read"], r["replied"], r["converted"])
            for r in run_named(store, "funnel", grain=grain).to_dicts()
        }
        want = reference.funnel(
            world, grain=grain, reply_window_ms=24 * HOUR_MS, attribution_window_ms=7 * DAY_MS
        )
        assert got == {
            k: tuple(r.get(c, 0) for c in ("sent", "delivered", "read", "replied", "converted"))
            for k, r in want.items()
        }, f"funnel by {grain}"
        rollup = {
            r["key"]: (r["sent"], r["delivered"], r["read"], r["failed"])
            for r in run_named(store, "funnel_rollup", grain=grain).to_dicts()
        }
        assert rollup == {
            k: (r["sent"], r["delivered"], r["read"], r["failed"])
            for k, r in reference.funnel_rollup(world, grain=grain).items()
        }, f"funnel_rollup by {grain}"
    assert _revenue(store) == _reference_revenue(world)


def _revenue(store: Store) -> dict[str, tuple[int, int]]:
    rows = run_named(store, "roi_campaign", currency="USD").to_dicts()
    return {r["campaign_id"]: (r["attributed_orders"], r["revenue_minor"]) for r in rows}


def _reference_revenue(world: World) -> dict[str, tuple[int, int]]:
    expected = reference.roi_campaign(
        world, currency="USD", minor_units_per_major=100, attribution_window_ms=7 * DAY_MS
    )
    return {c: (r["attributed_orders"], r["revenue_minor"]) for c, r in expected.items()}


def test_incremental_runs_match_the_reference(store: Store, phases: tuple[World, World]) -> None:
    first, second = phases
    load(store, first, SEED)
    run = refresh_attribution(store)
    assert run.full_rebuild, "the first run attributes everything"
    _assert_answers(store, first)

    load(store, second, SEED + 1)
    # A replay of the first phase too: a sink that crashed before committing its offsets.
    load(store, first, SEED + 2)
    run = refresh_attribution(store)
    assert not run.full_rebuild
    assert run.customers > 0
    _assert_answers(store, _merged(first, second))


def test_a_run_without_changes_rewrites_nothing(store: Store) -> None:
    refresh_attribution(store)
    quiet = refresh_attribution(store)
    assert (quiet.customers, quiet.facts, quiet.groups) == (0, 0, 0)


def test_a_change_committed_late_is_read_once_it_settles(
    store: Store, phases: tuple[World, World]
) -> None:
    world = _merged(*phases)
    touches = [
        m
        for m in reference.messages(world)
        if m["delivered_ms"] is not None and m["category"] == "marketing" and m["campaign"]
    ]
    latest = max(touches, key=lambda m: (m["delivered_ms"], m["wamid"]))
    customer_touches = [t for t in touches if t["customer"] == latest["customer"]]
    at_ms = max(t["delivered_ms"] for t in customer_touches) + 1
    order = Purchase(
        order_id="order-late",
        customer=latest["customer"],
        amount_minor=12_345,
        currency="USD",
        items=(PurchaseItem(sku="sku-late", quantity=1, amount_minor=12_345),),
        ts_ms=at_ms,
        source="api",
    )
    settle_ms = 3_000
    before = refresh_attribution(store, settle_ms=settle_ms)
    store.insert_arrow(table_for(order), events_to_arrow([order]))
    # As if the insert had started before that run read the tables and committed after it:
    # its change row carries a time the next run's fresh window has already passed.
    store.command("TRUNCATE TABLE attribution_dirty")
    _mark_changed(store, customer=order.customer, changed_ms=before.run_id // 1000 - 1)

    stale = refresh_attribution(store, settle_ms=settle_ms)
    if stale.run_id // 1000 - settle_ms < before.run_id // 1000 - 1:
        # Not settled yet (the usual case unless this machine stalled for settle_ms).
        assert stale.customers == 0
        assert _revenue(store) == _reference_revenue(world)
    time.sleep(settle_ms / 1000 + 0.2)
    settled = refresh_attribution(store, settle_ms=settle_ms)
    assert settled.customers >= 1 or stale.customers >= 1
    with_order = _merged(world, World(purchases=[order]))
    assert _revenue(store) == _reference_revenue(with_order)
    assert _revenue(store) != _reference_revenue(world), "the late order must add revenue"


def _mark_changed(store: Store, *, customer: str, changed_ms: int) -> None:
    store.command(
        "INSERT INTO attribution_dirty (changed_ms, customer, wamid) "
        "VALUES ({changed_ms:Int64}, {customer:String}, '')",
        {"changed_ms": changed_ms, "customer": customer},
    )


@given(
    first_ms=st.integers(0, 10**12),
    gaps_ms=st.lists(st.integers(0, 10**7), min_size=1, max_size=20),
    settle_ms=st.integers(0, 10**6),
    changed_offset_ms=st.integers(-(10**6), 10**8),
)
def test_every_change_falls_in_a_window_of_a_later_run(
    first_ms: int, gaps_ms: list[int], settle_ms: int, changed_offset_ms: int
) -> None:
    # Run starts; a change stored at changed_ms (not before the first run's start minus
    # settle_ms: older changes were read by the first run, a full rebuild, or its own windows)
    # must be read by a run that starts after it has settled.
    starts = [first_ms]
    for gap in gaps_ms:
        starts.append(starts[-1] + gap)
    changed_ms = first_ms - settle_ms + 1 + abs(changed_offset_ms)
    settled_by = changed_ms + settle_ms
    if starts[-1] < settled_by:
        return  # the change has not settled by the last run: nothing to check
    covered = []
    for previous, start in itertools.pairwise(starts):
        w = dirty_windows(previous_start_ms=previous, start_ms=start, settle_ms=settle_ms)
        assert w.after_ms == previous, "fresh window: everything since the previous start"
        if w.settle_from_ms < changed_ms <= w.settle_to_ms:
            covered.append(start)
    assert len(covered) == 1, "a settled change falls in exactly one settle window"
    assert covered[0] >= settled_by
