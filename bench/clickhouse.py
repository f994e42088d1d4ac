"""ClickHouse benchmark (issue 7): columnar inserts into chDB and named-query times.

    .venv/bin/python bench/clickhouse.py [--insert-rows 1000000] [--events 10000000]

Prints, in one run:
1. insert rows/s of one Arrow batch through ``Store.insert_arrow`` (chDB's Python table
   function), into a table without materialized views (inbound_messages) and into
   message_status, which feeds the funnel rollup MV. Goal: ≥ 500,000 rows/s.
2. query times over ``--events`` events (generated inside ClickHouse: send results, receipts,
   inbound messages, purchases): the funnel by campaign from the rollup (goal < 200 ms) and
   the attribution queries on the raw tables (goal < 2 s). Best of three runs each.
End-to-end Kafka → ClickHouse events/s is measured by the sink's own benchmark.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.analytics.queries import run_named
from pipeline.events import DeliveryReceipt, InboundMessage
from pipeline.runtime.store import Store, apply_migrations, arrow_schema, open_store
from pipeline.settings import Settings

T0_MS = 1_767_571_200_000
DAY_MS = 86_400_000


def receipts_batch(rows: int) -> pyarrow.Table:
    """Delivery receipts as Arrow columns, built before the clock starts."""
    schema = arrow_schema(DeliveryReceipt)
    wamids = [f"wamid.bench.{n}" for n in range(rows)]
    columns = {
        "event_id": [f"{w}:delivered" for w in wamids],
        "wamid": wamids,
        "business_number_id": ["106540352242922"] * rows,
        "customer": [f"8210{n % 10_000_000:08d}" for n in range(rows)],
        "status": ["delivered"] * rows,
        "ts_ms": list(range(T0_MS, T0_MS + rows)),
        "ingested_ms": list(range(T0_MS, T0_MS + rows)),
    }
    arrays = [
        pyarrow.array(columns.get(field.name, [None] * rows), type=field.type) for field in schema
    ]
    return pyarrow.Table.from_arrays(arrays, schema=schema)


def inbound_batch(rows: int) -> pyarrow.Table:
    schema = arrow_schema(InboundMessage)
    columns = {
        "event_id": [f"wamid.in.{n}" for n in range(rows)],
        "business_number_id": ["106540352242922"] * rows,
        "customer": [f"8210{n % 10_000_000:08d}" for n in range(rows)],
        "type": ["text"] * rows,
        "text": ["hello"] * rows,
        "ts_ms": list(range(T0_MS, T0_MS + rows)),
        "ingested_ms": list(range(T0_MS, T0_MS + rows)),
    }
    arrays = [
        pyarrow.array(columns.get(field.name, [None] * rows), type=field.type) for field in schema
    ]
    return pyarrow.Table.from_arrays(arrays, schema=schema)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_inserts(store: Store, rows: int) -> None:
    print(f"\n1. insert_arrow, one batch of {rows:,} rows")
    for table, batch in (
        ("inbound_messages", inbound_batch(rows)),
        ("message_status", receipts_batch(rows)),
    ):
        seconds = timed(lambda t=table, b=batch: store.insert_arrow(t, b))  # type: ignore[misc]
        print(f"   {table:<18} {rows / seconds:>12,.0f} rows/s  ({seconds:.2f} s)")
    store.command("TRUNCATE TABLE inbound_messages")
    store.command("TRUNCATE TABLE message_status")
    store.command("TRUNCATE TABLE message_facts")


def generate_events(store: Store, events: int) -> dict[str, int]:
    """≈ events rows: 20% send results, ≈ 50% receipts, 15% inbound, 15% purchases."""
    messages = events // 5
    inbound = purchases = events * 15 // 100
    customers = max(1000, messages // 10)
    span = 90 * DAY_MS
    store.command(
        f"""
        INSERT INTO outbound_messages (command_id, wamid, customer, business_number_id, outcome,
            attempts, category, campaign_id, variant, template_name, origin, cost_micros, ts_ms)
        SELECT concat('cmd-', toString(number)),
               if(number % 50 = 0, NULL, concat('wamid.', toString(number))),
               toString(821000000000 + number % {customers}),
               concat('b', toString(number % 4)),
               if(number % 50 = 0, 'rejected', 'accepted'), 1, 'marketing',
               concat(['none', 'frequency', 'value', 'heat'][number % 4 + 1], ':c',
                      toString(number % 40)),
               NULL, concat('template_', toString(number % 7)), 'campaign',
               10000 + number % 5000, {T0_MS} + (number * 7919) % {span}
        FROM numbers({messages})
        """
    )
    # Per message: sent; delivered for 9 in 10; read for 6 in 10 (1 in 10 of those without a
    # delivered receipt). Receipt times follow the send.
    store.command(
        f"""
        INSERT INTO message_status (event_id, wamid, business_number_id, customer, status, ts_ms,
            ingested_ms)
        SELECT concat('wamid.', toString(m), ':', status), concat('wamid.', toString(m)),
               concat('b', toString(m % 4)), toString(821000000000 + m % {customers}), status,
               {T0_MS} + (m * 7919) % {span} + offset_ms, 0
        FROM
        (
            SELECT intDiv(number, 3) AS m, ['sent', 'delivered', 'read'][number % 3 + 1] AS status,
                   (number % 3) * 60000 AS offset_ms
            FROM numbers({messages * 3})
        )
        WHERE m % 50 != 0
          AND (status = 'sent' OR (status = 'delivered' AND m % 10 NOT IN (0, 7))
               OR (status = 'read' AND m % 10 < 6))
        """
    )
    store.command(
        f"""
        INSERT INTO inbound_messages (event_id, business_number_id, customer, type, text, ts_ms,
            ingested_ms)
        SELECT concat('wamid.in.', toString(number)), concat('b', toString(number % 4)),
               toString(821000000000 + (number * 31) % {customers}), 'text', 'hi',
               {T0_MS} + (number * 104729) % {span}, 0
        FROM numbers({inbound})
        """
    )
    store.command(
        f"""
        INSERT INTO purchases (order_id, customer, amount_minor, currency, items, ts_ms, source)
        SELECT concat('order-', toString(number)),
               toString(821000000000 + (number * 17) % {customers}), 1000 + number % 90000,
               'USD', [('sku', 1, 1000 + number % 90000)],
               {T0_MS} + (number * 15485863) % {span}, 'bench'
        FROM numbers({purchases})
        """
    )
    counts = {}
    for table in ("outbound_messages", "message_status", "inbound_messages", "purchases"):
        counts[table] = store.query(f"SELECT count() FROM {table}").scalar()
    return counts


def best_of(runs: int, action: Callable[[], object]) -> float:
    return min(timed(action) for _ in range(runs))


def bench_queries(store: Store, events: int) -> None:
    print(f"\n2. named queries over ≈{events:,} events")
    start = time.perf_counter()
    counts = generate_events(store, events)
    print(
        f"   generated {sum(counts.values()):,} rows in {time.perf_counter() - start:.1f} s: "
        + ", ".join(f"{t} {n:,}" for t, n in counts.items())
    )
    cases: list[tuple[str, str, dict[str, object], float]] = [
        ("funnel by campaign (rollup)", "funnel_rollup", {"grain": "campaign"}, 0.2),
        ("funnel by day (rollup)", "funnel_rollup", {"grain": "day"}, 0.2),
        ("funnel + replies + conversions", "funnel", {"grain": "campaign"}, 2.0),
        ("roi per campaign", "roi_campaign", {}, 2.0),
        ("segment efficiency", "segment_efficiency", {}, 2.0),
        ("provider cost", "provider_cost", {}, 2.0),
        ("ltv by cohort", "ltv_cohort", {}, 2.0),
    ]
    print(f"   {'query':<32} {'best of 3':>10}  goal")
    for label, name, params, goal_s in cases:
        seconds = best_of(3, lambda n=name, p=params: run_named(store, n, **p))  # type: ignore[misc]
        verdict = "ok" if seconds < goal_s else "MISSED"
        print(f"   {label:<32} {seconds * 1000:>8,.0f} ms  < {goal_s * 1000:,.0f} ms {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--insert-rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()
    # Shared machines: the load average says how much of the CPU the figures below had.
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="wapipe-bench-") as data_dir:
        store = open_store(Settings(data_dir=Path(data_dir)))
        try:
            apply_migrations(store)
            bench_inserts(store, args.insert_rows)
            bench_queries(store, args.events)
            print(f"load average (1 min) at end: {os.getloadavg()[0]:.1f}")
        finally:
            store.close()


if __name__ == "__main__":
    main()
