"""The ClickHouse sink through a real broker and chDB: batches, dedup, dead letters, retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pyarrow
import pytest
from confluent_kafka import Producer

from pipeline import topics
from pipeline.errors import StoreError
from pipeline.events import DeliveryReceipt, InboundMessage, Purchase, PurchaseItem
from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS, EmbeddedBroker
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.runtime.store import QueryResult, Store
from pipeline.schemas.codec import AvroEventCodec
from pipeline.sinks.clickhouse import BatchSink, SinkConfig

CODEC = AvroEventCodec()


class FlakyStore:
    """A real store whose first ``failures`` inserts fail, like a ClickHouse restart."""

    def __init__(self, inner: Store, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.read_only = False
        self.attempts = 0

    def insert_arrow(self, table: str, batch: pyarrow.Table) -> int:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("Code: 210. Connection refused (simulated outage)")
        return self.inner.insert_arrow(table, batch)

    def query(self, sql: str, parameters: Any = None) -> QueryResult:
        return self.inner.query(sql, parameters)

    def command(self, sql: str) -> None:
        self.inner.command(sql)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def bootstrap() -> Iterator[str]:
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap_servers, topics.ALL_TOPICS, partitions=4, replication=1)
        yield broker.bootstrap_servers


def produce(bootstrap: str, items: list[tuple[str, str, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, **CONFLUENT_PRODUCER_DEFAULTS})
    for topic, key, value in items:
        producer.produce(topic, key=key.encode(), value=value)
    assert producer.flush(10) == 0


def inbound(i: int) -> tuple[str, str, bytes]:
    customer = f"8210{i % 7:08d}"
    event = InboundMessage(
        event_id=f"wamid.{i}", business_number_id="b1", customer=customer, text="hi", ts_ms=i
    )
    return topics.INBOUND.name, customer, CODEC.encode(event)


def run_sink(sink: BatchSink) -> threading.Thread:
    thread = threading.Thread(target=sink.run, daemon=True)
    thread.start()
    return thread


def wait_for(predicate: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def count(store: Store, sql: str) -> int:
    return int(store.query(sql).scalar())


def config(bootstrap: str, group: str = "sink-test") -> SinkConfig:
    return SinkConfig(bootstrap=bootstrap, group_id=group, batch_size=500, batch_seconds=0.2)


def test_every_topic_lands_once_even_when_delivered_twice(bootstrap: str, store: Store) -> None:
    purchase = Purchase(
        order_id="o-1",
        customer="821000000001",
        amount_minor=12_000,
        currency="KRW",
        items=(PurchaseItem(sku="A", quantity=2, amount_minor=12_000),),
        ts_ms=5,
    )
    receipt = DeliveryReceipt(
        event_id="wamid.9:read",
        wamid="wamid.9",
        business_number_id="b1",
        customer="821000000001",
        status="read",
        ts_ms=6,
        pricing_billable=True,
    )
    items = [inbound(i) for i in range(1000)]
    items += [
        (topics.PURCHASES.name, purchase.customer, CODEC.encode(purchase)),
        (topics.STATUS.name, receipt.customer, CODEC.encode(receipt)),
    ]
    produce(bootstrap, items + items[:300])  # Meta and at-least-once both redeliver
    sink = BatchSink(store, config(bootstrap))
    thread = run_sink(sink)
    try:
        wait_for(lambda: sink.stats.rows.get("inbound_messages", 0) >= 1300)
        wait_for(lambda: sink.stats.rows.get("purchases", 0) >= 1)
    finally:
        sink.stopping.set()
        thread.join(15)
    assert count(store, "SELECT uniqExact(event_id) FROM inbound_messages") == 1000
    assert count(store, "SELECT count() FROM inbound_messages FINAL") == 1000
    row = store.query("SELECT amount_minor, items.sku FROM purchases FINAL").rows
    assert row == [(12_000, ["A"])]
    assert count(store, "SELECT count() FROM message_status FINAL WHERE status = 'read'") == 1


def test_undecodable_bytes_go_to_the_dead_letter_table_with_the_reason(
    bootstrap: str, store: Store
) -> None:
    produce(
        bootstrap,
        [inbound(1), (topics.INBOUND.name, "x", b'{"not": "avro"}'), inbound(2)],
    )
    sink = BatchSink(store, config(bootstrap))
    thread = run_sink(sink)
    try:
        wait_for(lambda: count(store, "SELECT count() FROM dead_letters") >= 1)
        wait_for(lambda: count(store, "SELECT count() FROM inbound_messages") >= 2)
    finally:
        sink.stopping.set()
        thread.join(15)
    reason, raw, source = store.query("SELECT reason, raw, source FROM dead_letters").rows[0]
    assert "missing C3 01 marker" in reason
    assert source == f"sink:{topics.INBOUND.name}"
    assert raw in (b'{"not": "avro"}', '{"not": "avro"}')


def test_a_failing_store_is_retried_and_nothing_is_lost(bootstrap: str, store: Store) -> None:
    produce(bootstrap, [inbound(i) for i in range(200)])
    flaky = FlakyStore(store, failures=3)
    sink = BatchSink(flaky, config(bootstrap))  # type: ignore[arg-type]
    sink.sleep = lambda s: None
    thread = run_sink(sink)
    try:
        wait_for(lambda: count(store, "SELECT count() FROM inbound_messages") >= 200)
    finally:
        sink.stopping.set()
        thread.join(15)
    assert sink.stats.insert_failures == 3
    assert count(store, "SELECT uniqExact(event_id) FROM inbound_messages") == 200


def test_offsets_are_committed_only_after_the_insert(bootstrap: str, store: Store) -> None:
    produce(bootstrap, [inbound(i) for i in range(50)])
    down = FlakyStore(store, failures=10**9)  # ClickHouse stays down
    first = BatchSink(down, config(bootstrap, group="commit-test"))  # type: ignore[arg-type]
    thread = run_sink(first)
    wait_for(lambda: down.attempts >= 2)
    first.stopping.set()  # the worker stops while the batch is still unwritten
    thread.join(15)
    assert first.stats.commits == 0
    assert count(store, "SELECT count() FROM inbound_messages") == 0
    # A new sink in the same group gets the same batch again and writes it.
    second = BatchSink(store, config(bootstrap, group="commit-test"))
    thread = run_sink(second)
    try:
        wait_for(lambda: count(store, "SELECT count() FROM inbound_messages") >= 50)
    finally:
        second.stopping.set()
        thread.join(15)
    assert count(store, "SELECT uniqExact(event_id) FROM inbound_messages") == 50
