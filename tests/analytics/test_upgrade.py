"""Upgrading a store that already holds data: migration 006 backfills the per-message facts,
migration 007 adds the attribution facts that the refresh job's first run (a full rebuild)
fills.

The world is loaded (with duplicates and receipts before their send results) into a store
migrated only up to 005, then the remaining migrations run and the job runs once; the queries
that read the new facts must give the brute-force answers, and later inserts must keep the
facts current.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from pipeline.analytics.queries import run_named
from pipeline.analytics.refresh import refresh_attribution
from pipeline.runtime.store import (
    Store,
    apply_migrations,
    events_to_arrow,
    migration_files,
    open_store,
    table_for,
)
from pipeline.settings import Settings
from tests.analytics import reference
from tests.analytics.world import DAY_MS, HOUR_MS, World, load

SEED = 11


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory, world: World) -> Iterator[Store]:
    old = tmp_path_factory.mktemp("migrations-005")
    for path in migration_files():
        if path.name < "006":
            shutil.copy(path, old / path.name)
    store = open_store(Settings(data_dir=tmp_path_factory.mktemp("upgrade")))
    try:
        apply_migrations(store, old)
        load(store, world, SEED)
        applied = apply_migrations(store)
        assert {"006_message_facts.sql", "007_attribution_facts.sql"} <= set(applied)
        assert refresh_attribution(store).full_rebuild
        yield store
    finally:
        store.close()


def _counts(rows: list[dict[str, object]]) -> dict[object, tuple[object, ...]]:
    return {r["key"]: (r["sent"], r["delivered"], r["read"], r["failed"]) for r in rows}


def test_backfill_gives_the_rollup_of_the_stored_events(world: World, upgraded: Store) -> None:
    got = _counts(run_named(upgraded, "funnel_rollup", grain="campaign").to_dicts())
    expected = reference.funnel_rollup(world, grain="campaign")
    assert got == {
        k: (r["sent"], r["delivered"], r["read"], r["failed"]) for k, r in expected.items()
    }


def test_backfill_feeds_attribution(world: World, upgraded: Store) -> None:
    rows = run_named(upgraded, "funnel", grain="campaign").to_dicts()
    expected = reference.funnel(
        world, grain="campaign", reply_window_ms=24 * HOUR_MS, attribution_window_ms=7 * DAY_MS
    )
    assert {r["key"]: (r["sent"], r["replied"], r["converted"]) for r in rows} == {
        k: (r["sent"], r.get("replied", 0), r.get("converted", 0)) for k, r in expected.items()
    }


def test_replaying_after_the_upgrade_changes_no_fact(world: World, upgraded: Store) -> None:
    # Every send result and receipt again, as a sink replaying its topics would: the views
    # write the same facts a second time and the merged messages stay the same.
    sql = "SELECT count(), countIf(is_delivered), countIf(is_read), sum(cost_micros) FROM messages"
    before = upgraded.query(sql).rows
    for family in (world.outbound, world.receipts):
        upgraded.insert_arrow(table_for(family[0]), events_to_arrow(family))
    assert upgraded.query(sql).rows == before
    funnel = run_named(upgraded, "funnel", grain="template").rows
    again = refresh_attribution(upgraded)
    assert not again.full_rebuild and again.customers > 0
    assert run_named(upgraded, "funnel", grain="template").rows == funnel
    messages = reference.messages(world)
    assert before[0][0] == len(messages)
    assert before[0][1] == sum(m["delivered_ms"] is not None for m in messages)


def test_the_old_rollup_is_gone(upgraded: Store) -> None:
    tables = set(upgraded.query("SHOW TABLES").column("name"))
    assert "funnel_daily" not in tables
    assert {"message_facts", "messages", "attributed_messages", "attributed_facts"} <= tables
