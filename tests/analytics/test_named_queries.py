"""Every named query on chDB against a brute-force answer computed in Python.

The generated world (tests/analytics/world.py) is loaded with duplicate rows, redelivered
batches and receipts stored before their send results; the reference answers are computed from
the distinct events. A mismatch means the SQL (or its documented definition) is wrong.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.analytics.queries import load_queries, run_named
from pipeline.runtime.store import Store
from tests.analytics import reference
from tests.analytics.world import DAY_MS, HOUR_MS, T0_MS, World


def _by(rows: list[dict[str, Any]], *keys: str) -> dict[Any, dict[str, Any]]:
    return {(r[keys[0]] if len(keys) == 1 else tuple(r[k] for k in keys)): r for r in rows}


def test_the_world_has_the_traps_it_claims(world: World, loaded_store: Store) -> None:
    statuses: dict[str, set[str]] = {}
    for r in world.receipts:
        statuses.setdefault(r.wamid, set()).add(r.status)
    assert any("read" in s and "delivered" not in s for s in statuses.values())
    raw = loaded_store.query("SELECT count() FROM message_status").scalar()
    assert raw > len({r.event_id for r in world.receipts}), "duplicates must reach the table"


@pytest.mark.parametrize("grain", ["campaign", "template", "day", "business_number"])
@pytest.mark.parametrize(
    ("reply_window_ms", "attribution_window_ms"),
    [(24 * HOUR_MS, 7 * DAY_MS), (2 * HOUR_MS, 2 * DAY_MS)],
)
def test_funnel(
    world: World,
    loaded_store: Store,
    grain: str,
    reply_window_ms: int,
    attribution_window_ms: int,
) -> None:
    got = _by(
        run_named(
            loaded_store,
            "funnel",
            grain=grain,
            reply_window_ms=reply_window_ms,
            attribution_window_ms=attribution_window_ms,
        ).to_dicts(),
        "key",
    )
    expected = reference.funnel(
        world,
        grain=grain,
        reply_window_ms=reply_window_ms,
        attribution_window_ms=attribution_window_ms,
    )
    assert set(got) == set(expected)
    for key, want in expected.items():
        row = got[key]
        for column in ("sent", "delivered", "read", "replied", "delivered_marketing", "converted"):
            assert row[column] == want.get(column, 0), f"{grain}={key}: {column}"
        delivered = want.get("delivered", 0)
        assert row["delivery_rate"] == pytest.approx(delivered / want["sent"])
        if delivered:
            assert row["reply_rate"] == pytest.approx(want.get("replied", 0) / delivered)
        else:
            assert row["reply_rate"] is None
    assert sum(r.get("converted", 0) for r in expected.values()) > 0, "world lacks conversions"


def test_funnel_time_range_selects_messages_not_attribution(
    world: World, loaded_store: Store
) -> None:
    from_ms, to_ms = T0_MS + 20 * DAY_MS, T0_MS + 40 * DAY_MS
    got = _by(
        run_named(
            loaded_store, "funnel", grain="campaign", from_ms=from_ms, to_ms=to_ms
        ).to_dicts(),
        "key",
    )
    expected = reference.funnel(
        world,
        grain="campaign",
        reply_window_ms=24 * HOUR_MS,
        attribution_window_ms=7 * DAY_MS,
        from_ms=from_ms,
        to_ms=to_ms,
    )
    assert {k: (r["sent"], r["converted"]) for k, r in got.items()} == {
        k: (r["sent"], r.get("converted", 0)) for k, r in expected.items()
    }


@pytest.mark.parametrize("grain", ["campaign", "template", "day", "business_number"])
def test_funnel_rollup_matches_the_raw_tables(
    world: World, loaded_store: Store, grain: str
) -> None:
    got = _by(run_named(loaded_store, "funnel_rollup", grain=grain).to_dicts(), "key")
    expected = reference.funnel_rollup(world, grain=grain)
    assert {k: (r["sent"], r["delivered"], r["read"], r["failed"]) for k, r in got.items()} == {
        k: (r["sent"], r["delivered"], r["read"], r["failed"]) for k, r in expected.items()
    }, "the MV rollup must neither miss early receipts nor count duplicates"


@pytest.mark.parametrize("currency", ["", "USD", "KRW"])
def test_ltv_customer(world: World, loaded_store: Store, currency: str) -> None:
    rows = run_named(loaded_store, "ltv_customer", currency=currency, limit=10_000).to_dicts()
    got = {(r["customer"], r["currency"]): (r["orders"], r["revenue_minor"]) for r in rows}
    assert got == reference.ltv_customer(world, currency)
    revenues = [r["revenue_minor"] for r in rows]
    assert revenues == sorted(revenues, reverse=True)


def test_ltv_customer_limit(loaded_store: Store) -> None:
    assert len(run_named(loaded_store, "ltv_customer", limit=3)) == 3


def test_ltv_cohort(world: World, loaded_store: Store) -> None:
    rows = run_named(loaded_store, "ltv_cohort").to_dicts()
    got = {(r["cohort_month"], r["currency"]): (r["customers"], r["revenue_minor"]) for r in rows}
    assert got == reference.ltv_cohort(world)
    for r in rows:
        assert r["ltv_minor"] == pytest.approx(r["revenue_minor"] / r["customers"])


@pytest.mark.parametrize("currency", ["", "USD"])
def test_ltv_segment(world: World, loaded_store: Store, currency: str) -> None:
    rows = run_named(loaded_store, "ltv_segment", currency=currency).to_dicts()
    got = {r["segment"]: (r["customers"], r["buyers"], r["revenue_minor"]) for r in rows}
    assert got == reference.ltv_segment(world, currency)


def test_customers_view_holds_latest_tags(world: World, loaded_store: Store) -> None:
    got = {
        r["customer"]: set(r["tags"])
        for r in loaded_store.query("SELECT customer, tags FROM customers").to_dicts()
    }
    assert got == reference.current_tags(world)


@pytest.mark.parametrize("window_ms", [7 * DAY_MS, 1 * DAY_MS])
def test_roi_campaign(world: World, loaded_store: Store, window_ms: int) -> None:
    got = _by(
        run_named(
            loaded_store,
            "roi_campaign",
            currency="USD",
            minor_units_per_major=100,
            attribution_window_ms=window_ms,
        ).to_dicts(),
        "campaign_id",
    )
    expected = reference.roi_campaign(
        world, currency="USD", minor_units_per_major=100, attribution_window_ms=window_ms
    )
    assert set(got) == set(expected)
    for campaign, want in expected.items():
        for column in (
            "messages",
            "cost_micros",
            "attributed_orders",
            "revenue_minor",
            "revenue_micros",
        ):
            assert got[campaign][column] == want[column], f"{campaign}: {column}"
        assert got[campaign]["roi"] == pytest.approx(want["roi"])


def test_roi_message_agrees_with_roi_campaign(world: World, loaded_store: Store) -> None:
    per_message = run_named(loaded_store, "roi_message", limit=100_000).to_dicts()
    expected = reference.roi_campaign(
        world, currency="USD", minor_units_per_major=100, attribution_window_ms=7 * DAY_MS
    )
    totals: dict[str, int] = {}
    for r in per_message:
        if r["campaign_id"]:
            totals[r["campaign_id"]] = totals.get(r["campaign_id"], 0) + r["revenue_minor"]
    assert totals == {c: r["revenue_minor"] for c, r in expected.items()}
    assert len(per_message) == len(reference.messages(world))


def test_segment_efficiency(world: World, loaded_store: Store) -> None:
    got = _by(run_named(loaded_store, "segment_efficiency").to_dicts(), "strategy")
    expected = reference.segment_efficiency(world, attribution_window_ms=7 * DAY_MS)
    assert list(got) == [
        s for s in ("none", "frequency", "value", "heat", "unknown") if s in expected
    ], "rows in strategy order"
    for strategy, want in expected.items():
        row = got[strategy]
        for column in ("campaigns", "delivered", "read", "converted", "cost_micros"):
            assert row[column] == want[column], f"{strategy}: {column}"
        for column in (
            "open_rate",
            "conversion_rate",
            "conversion_lift",
            "cost_per_conversion_micros",
        ):
            assert row[column] == pytest.approx(want[column]), f"{strategy}: {column}"
    assert "value" not in got, "value:vip-sale was launched with segmentation=frequency"


@pytest.mark.parametrize("free", [1000, 5, 0])
def test_provider_cost(world: World, loaded_store: Store, free: int) -> None:
    presets = {
        r[0]: (r[1], r[2], r[3])
        for r in loaded_store.query(
            "SELECT provider, monthly_fee_micros, per_message_micros, free_messages_per_month "
            "FROM provider_presets FINAL"
        ).rows
    }
    assert {"twilio", "messagebird", "zenvia"} <= set(presets)
    prices = {
        (r[0], r[1]): r[2]
        for r in loaded_store.query(
            "SELECT calling_code, category, price_micros FROM meta_prices FINAL"
        ).rows
    }
    rows = run_named(loaded_store, "provider_cost", meta_free_per_month=free).to_dicts()
    got = {
        (r["month"], r["provider"]): {
            k: r[k]
            for k in ("messages", "meta_billable", "meta_charged", "meta_micros", "total_micros")
        }
        for r in rows
    }
    assert got == reference.provider_cost(
        world, presets=presets, prices=prices, meta_free_per_month=free
    )


def test_alarms(world: World, loaded_store: Store) -> None:
    rows = run_named(loaded_store, "alarms").rows
    columns = run_named(loaded_store, "alarms").columns
    index = {c: columns.index(c) for c in ("ts_ms", "alarm_id", "state", "firing_for_ms")}
    got = [
        tuple(r[index[c]] for c in ("ts_ms", "alarm_id", "state", "firing_for_ms")) for r in rows
    ]
    assert got == reference.alarm_history(world)


def test_every_named_query_is_tested() -> None:
    tested = {
        "funnel",
        "funnel_rollup",
        "ltv_customer",
        "ltv_cohort",
        "ltv_segment",
        "roi_campaign",
        "roi_message",
        "segment_efficiency",
        "provider_cost",
        "alarms",
    }
    assert set(load_queries()) == tested, "add a brute-force test for the new named query"
