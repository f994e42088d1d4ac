"""The chDB store: columnar inserts, parameters, the read-only guard and the directory lock."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline.errors import ReadOnlyQueryError, StoreError, StoreLockedError
from pipeline.events import DeadLetter, DeliveryReceipt, Purchase, PurchaseItem, SendResult
from pipeline.runtime.store import Store, events_to_arrow, open_store, table_for
from pipeline.settings import Settings


def test_purchases_round_trip_through_arrow(store: Store) -> None:
    batch = [
        Purchase(
            order_id="o1",
            customer="821012345678",
            amount_minor=12_900,
            currency="KRW",
            items=(PurchaseItem(sku="tea", quantity=2, amount_minor=6_450),),
            ts_ms=1_767_225_600_123,
            source="api",
        ),
        Purchase(order_id="o2", customer="821000000000", amount_minor=5, currency="USD"),
    ]
    inserted = store.insert_arrow(table_for(batch[0]), events_to_arrow(batch))
    assert inserted == 2
    rows = store.query(
        "SELECT order_id, customer, amount_minor, currency, items, ts_ms, source, "
        "toString(ts) AS ts_text FROM purchases ORDER BY order_id"
    ).to_dicts()
    assert rows[0]["items"] == [{"sku": "tea", "quantity": 2, "amount_minor": 6_450}]
    assert rows[0]["ts_text"] == "2026-01-01 00:00:00.123", "ts must be derived from ts_ms (UTC)"
    assert rows[1]["items"] == []
    assert [r["amount_minor"] for r in rows] == [12_900, 5]


def test_nullable_bool_and_bytes_columns_survive(store: Store) -> None:
    receipts = [
        DeliveryReceipt(
            event_id="w1:read",
            wamid="w1",
            business_number_id="b",
            customer="c",
            status="read",
            ts_ms=1,
            pricing_billable=True,
            error_code=None,
        ),
        DeliveryReceipt(
            event_id="w2:failed",
            wamid="w2",
            business_number_id="b",
            customer="c",
            status="failed",
            ts_ms=2,
            pricing_billable=None,
            error_code=131_047,
        ),
    ]
    store.insert_arrow("message_status", events_to_arrow(receipts))
    got = store.query(
        "SELECT pricing_billable, error_code FROM message_status ORDER BY event_id"
    ).rows
    assert got == [(True, None), (None, 131_047)]
    raw = bytes(range(256))
    store.insert_arrow(
        "dead_letters",
        events_to_arrow([DeadLetter(event_id="d", source="webhook", reason="x", raw=raw, ts_ms=3)]),
    )
    assert store.query("SELECT raw FROM dead_letters").scalar() == raw
    assert store.query("SELECT length(raw) FROM dead_letters").scalar() == 256


def test_duplicates_collapse_under_final(store: Store) -> None:
    result = SendResult(
        command_id="c1", wamid="w1", customer="c", business_number_id="b", outcome="accepted"
    )
    for _ in range(3):  # three sink retries of the same batch
        store.insert_arrow("outbound_messages", events_to_arrow([result]))
    assert store.query("SELECT count() FROM outbound_messages").scalar() == 3
    assert store.query("SELECT count() FROM outbound_messages FINAL").scalar() == 1


def test_parameters_bind_on_chdb(store: Store) -> None:
    got = store.query(
        "SELECT {n:UInt32} + 1 AS n, {s:String} AS s, {d:Date} AS d, {xs:Array(String)} AS xs",
        {"n": 41, "s": "it's", "d": "2026-01-02", "xs": ["a", "b'c"]},
    ).to_dicts()
    assert got[0]["n"] == 42
    assert got[0]["s"] == "it's"
    assert str(got[0]["d"]) == "2026-01-02"
    assert got[0]["xs"] == ["a", "b'c"]


def test_read_only_store_refuses_writes(settings: Settings, store: Store) -> None:
    reader = open_store(settings, read_only=True)  # shares the session of `store`
    try:
        assert reader.query("SELECT count() FROM purchases").scalar() == 0
        with pytest.raises(ReadOnlyQueryError):
            reader.query("INSERT INTO purchases (order_id) VALUES ('x')")
        with pytest.raises(ReadOnlyQueryError):
            reader.query("SELECT 1; DROP TABLE purchases")
        with pytest.raises(ReadOnlyQueryError):
            reader.command("DROP TABLE purchases")
        with pytest.raises(ReadOnlyQueryError):
            reader.insert_arrow("purchases", events_to_arrow([Purchase("o", "c", 1, "USD")]))
    finally:
        reader.close()
    # Closing the reader left the writer's shared session open.
    assert store.query("SELECT count() FROM purchases").scalar() == 0


def test_clickhouse_errors_become_store_errors(store: Store) -> None:
    with pytest.raises(StoreError, match=r"UNKNOWN_TABLE|Unknown table"):
        store.query("SELECT * FROM no_such_table")


def test_a_second_directory_in_one_process_is_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="one data directory per process"):
        open_store(Settings(data_dir=tmp_path / "other"))


def test_directory_owned_by_another_process_raises_store_locked(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from pipeline.runtime.store import open_store
                from pipeline.settings import Settings
                store = open_store(Settings(data_dir={str(data_dir)!r}))
                print("ready", file=sys.stderr, flush=True)
                sys.stdin.read()
                store.close()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,  # structlog's lines
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stderr is not None and owner.stderr.readline().strip() == "ready"
        with pytest.raises(StoreLockedError) as caught:
            open_store(Settings(data_dir=data_dir))
        message = str(caught.value)
        assert f"pid {owner.pid}" in message and "wapipe sql" in message
        assert "\n" not in message, "the CLI prints this as one line"
    finally:
        assert owner.stdin is not None
        owner.stdin.close()
        owner.wait(timeout=30)
    # Once the owner has gone, the directory opens normally.
    open_store(Settings(data_dir=data_dir)).close()


def test_inserts_from_a_worker_thread_while_reading(store: Store) -> None:
    # The sink inserts from an executor thread while a web view reads: the store serialises
    # them, and chDB still finds the batch by name in the inserting thread's frame.
    def insert(batch_no: int) -> int:
        purchases = [
            Purchase(order_id=f"o{batch_no}-{i}", customer="c", amount_minor=1, currency="USD")
            for i in range(200)
        ]
        return store.insert_arrow("purchases", events_to_arrow(purchases))

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        inserted = [pool.submit(insert, n) for n in range(10)]
        counts = [store.query("SELECT count() FROM purchases").scalar() for _ in range(10)]
        assert sum(f.result() for f in inserted) == 2000
    assert counts == sorted(counts), "reads see a growing table, never a torn state"
    assert store.query("SELECT uniqExact(order_id) FROM purchases").scalar() == 2000
