"""ClickHouse benchmark (issue 7): columnar inserts into chDB and named-query times.

    .venv/bin/python bench/clickhouse.py [--insert-rows 1000000] [--events 10000000]
        [--runs 3] [--baseline]

Prints, in one run:
1. insert rows/s of one Arrow batch through ``Store.insert_arrow`` (chDB's Python table
   function), into a table without materialized views (inbound_messages) and into
   message_status, which feeds the message_facts views; each next to the previous insert
   (same statement with ClickHouse's default optimize_on_insert = 1), rounds interleaved,
   best of ``--runs``. Goal: ≥ 500,000 rows/s.
2. query times over ``--events`` events (generated inside ClickHouse with numbers(): send
   results, receipts, inbound messages, purchases). First the attribution refresh job
   (migration 007): its first run (a full rebuild over every customer), then one incremental
   run after a sink-sized batch of new events. Then the funnel by campaign from funnel_counts
   (goal < 200 ms) and the attribution queries from attributed_facts (goal < 2 s), on the parts
   as the job wrote them and after they are merged. Best of ``--runs``; wall and process CPU
   time (chDB runs in this process, so CPU time says what a query costs on a machine shared
   with others). ``--baseline`` also times the funnel and ROI on migration 005's
   attributed_messages view (raw tables regrouped at every query), created under another name
   on the same data.
End-to-end Kafka → ClickHouse events/s is measured by the sink's own benchmark.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.analytics.queries import load_queries, run_named
from pipeline.analytics.refresh import refresh_attribution
from pipeline.events import DeliveryReceipt, InboundMessage
from pipeline.runtime.store import (
    MIGRATIONS_DIR,
    Store,
    apply_migrations,
    arrow_schema,
    open_store,
)
from pipeline.runtime.store_chdb import ChdbStore, arrow_insert_sql
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


@dataclass(frozen=True, slots=True)
class Timing:
    wall_s: float
    cpu_s: float


def timed(action: Callable[[], object]) -> Timing:
    start, cpu = time.perf_counter(), time.process_time()
    action()
    return Timing(wall_s=time.perf_counter() - start, cpu_s=time.process_time() - cpu)


def best_of(runs: int, action: Callable[[], object]) -> Timing:
    timings = [timed(action) for _ in range(runs)]
    return Timing(wall_s=min(t.wall_s for t in timings), cpu_s=min(t.cpu_s for t in timings))


def insert_before(store: Store, table: str, batch: pyarrow.Table) -> None:
    """The previous insert path: the same statement with the server's default settings."""
    assert isinstance(store, ChdbStore)
    sql = arrow_insert_sql(table, batch.column_names, settings={})
    # chDB resolves Python(wapipe_arrow_batch) by this local's name in this frame.
    wapipe_arrow_batch = batch
    store._live().session.query(sql)
    del wapipe_arrow_batch


def bench_inserts(store: Store, rows: int, runs: int) -> None:
    print(f"\n1. insert_arrow, one batch of {rows:,} rows, best of {runs}")
    for table, batch in (
        ("inbound_messages", inbound_batch(rows)),
        ("message_status", receipts_batch(rows)),
    ):
        before: list[Timing] = []
        after: list[Timing] = []
        for _ in range(runs):  # interleaved, so both paths see the same machine load
            before.append(timed(lambda t=table, b=batch: insert_before(store, t, b)))  # type: ignore[misc]
            store.command(f"TRUNCATE TABLE {table}")
            after.append(timed(lambda t=table, b=batch: store.insert_arrow(t, b)))  # type: ignore[misc]
            store.command(f"TRUNCATE TABLE {table}")
        for label, timings in (
            (f"{table}, optimize_on_insert = 1 (before)", before),
            (table, after),
        ):
            wall = min(t.wall_s for t in timings)
            cpu = min(t.cpu_s for t in timings)
            print(
                f"   {label:<48} {rows / wall:>12,.0f} rows/s  ({wall:.2f} s; "
                f"{rows / cpu:,.0f} rows per CPU second)"
            )
    for table in ("message_facts", "attribution_dirty"):
        store.command(f"TRUNCATE TABLE {table}")


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


def generate_increment(store: Store, events: int, messages: int, customers: int) -> None:
    """≈ one sink batch of new events for existing customers: read receipts, replies, orders."""
    third = events // 3
    span = 90 * DAY_MS
    store.command(
        f"""
        INSERT INTO message_status (event_id, wamid, business_number_id, customer, status, ts_ms,
            ingested_ms)
        SELECT concat('wamid.', toString(m), ':read'), concat('wamid.', toString(m)),
               concat('b', toString(m % 4)), toString(821000000000 + m % {customers}), 'read',
               {T0_MS} + (m * 7919) % {span} + 900000, 0
        FROM (SELECT (number * 104729 + 7) % {messages} AS m FROM numbers({third}))
        WHERE m % 50 != 0
        """
    )
    store.command(
        f"""
        INSERT INTO inbound_messages (event_id, business_number_id, customer, type, text, ts_ms,
            ingested_ms)
        SELECT concat('wamid.in.more.', toString(number)), concat('b', toString(number % 4)),
               toString(821000000000 + (number * 7907) % {customers}), 'text', 'hi',
               {T0_MS} + (number * 15485863) % {span}, 0
        FROM numbers({third})
        """
    )
    store.command(
        f"""
        INSERT INTO purchases (order_id, customer, amount_minor, currency, items, ts_ms, source)
        SELECT concat('order-more-', toString(number)),
               toString(821000000000 + (number * 7919) % {customers}), 2500, 'USD',
               [('sku', 1, 2500)], {T0_MS} + (number * 104729) % {span}, 'bench'
        FROM numbers({third})
        """
    )


def bench_refresh(store: Store, events: int) -> None:
    """The attribution job: first run (everything), then one run after a sink-sized batch."""
    messages = events // 5
    customers = max(1000, messages // 10)
    full = timed(lambda: refresh_attribution(store))
    outcome = store.query(
        "SELECT customers, facts, groups FROM attribution_refreshes ORDER BY run_id DESC LIMIT 1"
    ).rows[0]
    print(
        f"   refresh, first run (full rebuild): {full.wall_s:,.1f} s wall, cpu {full.cpu_s:,.1f} s"
        f" ({outcome[0]:,} customers, {outcome[1]:,} facts, {outcome[2]:,} funnel groups)"
    )
    generate_increment(store, 20_000, messages, customers)
    # settle_ms = 0: only the fresh pass over these events. With the default the run would
    # also take the bulk load above, which the full run read less than settle_ms ago; in
    # steady state every change is attributed twice (fresh, then once settled).
    step = timed(lambda: refresh_attribution(store, settle_ms=0))
    outcome = store.query(
        "SELECT customers, facts, groups FROM attribution_refreshes ORDER BY run_id DESC LIMIT 1"
    ).rows[0]
    print(
        f"   refresh after 20,000 new events: {step.wall_s:,.2f} s wall, cpu {step.cpu_s:,.2f} s"
        f" ({outcome[0]:,} customers, {outcome[1]:,} facts, {outcome[2]:,} funnel groups)"
    )


def old_attribution_view(store: Store) -> None:
    """Migration 005's attributed_messages, as attributed_messages_005 (for --baseline)."""
    text = (MIGRATIONS_DIR / "005_attributed_messages.sql").read_text()
    store.command(
        text[text.index("CREATE VIEW") :].replace(
            "VIEW IF NOT EXISTS attributed_messages AS",
            "VIEW IF NOT EXISTS attributed_messages_005 AS",
        )
    )


def report(label: str, timing: Timing, goal_s: float) -> None:
    verdict = "ok" if timing.wall_s < goal_s else "MISSED"
    print(
        f"   {label:<44} {timing.wall_s * 1000:>8,.0f} ms  cpu {timing.cpu_s * 1000:>7,.0f} ms"
        f"  < {goal_s * 1000:,.0f} ms {verdict}"
    )


def bench_queries(store: Store, events: int, runs: int, *, baseline: bool) -> None:
    print(f"\n2. named queries over ≈{events:,} events, best of {runs} (wall, process CPU)")
    start = time.perf_counter()
    counts = generate_events(store, events)
    print(
        f"   generated {sum(counts.values()):,} rows in {time.perf_counter() - start:.1f} s: "
        + ", ".join(f"{t} {n:,}" for t, n in counts.items())
    )
    bench_refresh(store, events)
    parts = store.query(
        "SELECT count() FROM system.parts WHERE active AND table = 'attributed_facts'"
    ).scalar()
    rollup = lambda: run_named(store, "funnel_rollup", grain="campaign")  # noqa: E731
    report("funnel by campaign, parts as written", best_of(runs, rollup), 0.2)
    funnel = lambda: run_named(store, "funnel", grain="campaign")  # noqa: E731
    report(f"funnel + replies + conversions, {parts} parts", best_of(runs, funnel), 2.0)
    for table in ("message_facts", "attributed_facts", "funnel_counts"):
        start = time.perf_counter()
        store.command(f"OPTIMIZE TABLE {table} FINAL")
        print(f"   OPTIMIZE TABLE {table} FINAL: {time.perf_counter() - start:.1f} s")
    cases: list[tuple[str, str, dict[str, object], float]] = [
        ("funnel by campaign (rollup)", "funnel_rollup", {"grain": "campaign"}, 0.2),
        ("funnel by day (rollup)", "funnel_rollup", {"grain": "day"}, 0.2),
        ("funnel + replies + conversions", "funnel", {"grain": "campaign"}, 2.0),
        ("roi per campaign", "roi_campaign", {}, 2.0),
        ("segment efficiency", "segment_efficiency", {}, 2.0),
        ("provider cost", "provider_cost", {}, 2.0),
        ("ltv by cohort", "ltv_cohort", {}, 2.0),
    ]
    for label, name, params, goal_s in cases:
        report(label, best_of(runs, lambda n=name, p=params: run_named(store, n, **p)), goal_s)  # type: ignore[misc]
    if not baseline:
        return
    old_attribution_view(store)
    queries = load_queries()
    for label, name in (
        ("funnel + replies + conversions (005 view)", "funnel"),
        ("roi per campaign (005 view)", "roi_campaign"),
    ):
        query = queries[name]
        sql = query.sql.replace(
            "FROM attributed_messages AS m", "FROM attributed_messages_005 AS m"
        )
        bound = query.bind(**({"grain": "campaign"} if name == "funnel" else {}))
        report(label, best_of(runs, lambda q=sql, b=bound: store.query(q, b)), 2.0)  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--insert-rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs")
    parser.add_argument(
        "--baseline", action="store_true", help="also time migration 005's attribution view"
    )
    args = parser.parse_args()
    # Shared machines: the load average says how much of the CPU the figures below had.
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="wapipe-bench-") as data_dir:
        store = open_store(Settings(data_dir=Path(data_dir)))
        try:
            apply_migrations(store)
            bench_inserts(store, args.insert_rows, args.runs)
            bench_queries(store, args.events, args.runs, baseline=args.baseline)
            print(f"load average (1 min) at end: {os.getloadavg()[0]:.1f}")
        finally:
            store.close()


if __name__ == "__main__":
    main()
