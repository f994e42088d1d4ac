"""Two workers of one app split the partitions: together they store every event, once.

Scaling out in production is `docker compose up --scale worker=N`: N workers with the same
WAPIPE_APP_ID form one consumer group and Kafka gives each a share of every topic's
partitions. Here two real `wapipe run --roles sink,sql` processes share one embedded broker
and one app id; each owns its own chDB (chDB allows one process per data directory), so the
split is visible: each store holds the events of the partitions its worker was given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

from pipeline import topics
from pipeline.events import InboundMessage
from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS, EmbeddedBroker
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.runtime.store import open_store
from pipeline.schemas.codec import AvroEventCodec
from pipeline.settings import Settings
from tests.support.workers import WorkerProcess

PARTITIONS = 4
CUSTOMERS = 40  # distinct keys per wave: every partition gets some
FINAL_WAVE = 400


def _stored(worker: WorkerProcess) -> set[str]:
    """Event ids in the worker's store, read through its read-only /sql while it runs."""
    answer = httpx.post(worker.url + "/sql", content=b"SELECT event_id FROM inbound_messages")
    answer.raise_for_status()
    return {row[0] for row in answer.json()["rows"]}


class Traffic:
    """Inbound messages keyed by customer, each with a distinct event id."""

    def __init__(self, bootstrap: str) -> None:
        self.codec = AvroEventCodec()
        self.producer = Producer({"bootstrap.servers": bootstrap, **CONFLUENT_PRODUCER_DEFAULTS})
        self.produced: list[str] = []

    def wave(self, size: int) -> set[str]:
        ids = set()
        for _ in range(size):
            i = len(self.produced)
            customer = f"8210{i % CUSTOMERS:08d}"
            event = InboundMessage(
                event_id=f"wamid.scale.{i}",
                business_number_id="15550000001",
                customer=customer,
                text="hi",
                ts_ms=1_767_225_600_000 + i,
            )
            self.producer.produce(
                topics.INBOUND.name, key=customer.encode(), value=self.codec.encode(event)
            )
            self.produced.append(event.event_id)
            ids.add(event.event_id)
        assert self.producer.flush(15) == 0, "the broker did not ack every event"
        return ids


def _customer(event_id: str) -> int:
    return int(event_id.rsplit(".", 1)[1]) % CUSTOMERS


def _event_ids(data_dir: Path) -> set[str]:
    store = open_store(Settings(data_dir=data_dir))
    try:
        return set(store.query("SELECT event_id FROM inbound_messages").column("event_id"))
    finally:
        store.close()


def _wait_for(
    what: str,
    predicate: Callable[[], bool],
    timeout_s: float,
    *,
    tick: Callable[[], object] = lambda: None,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        tick()
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@pytest.mark.broker
@pytest.mark.slow
def test_two_workers_split_the_partitions(
    broker: EmbeddedBroker, app_id: str, tmp_path: Path
) -> None:
    bootstrap = broker.bootstrap_servers
    ensure_topics(bootstrap, topics.ALL_TOPICS, partitions=PARTITIONS, replication=1)
    workers = [
        WorkerProcess(
            bootstrap=bootstrap,
            data_dir=tmp_path / name,
            app_id=app_id,
            roles="sink,sql",
            partitions=PARTITIONS,
        )
        for name in ("a", "b")
    ]
    traffic = Traffic(bootstrap)
    try:
        with ThreadPoolExecutor(len(workers)) as pool:  # start both at once: halves the wait
            list(pool.map(WorkerProcess.start, workers))
        # Warm-up waves until both workers store something: then the consumer group has
        # settled with both members (the broker's DescribeGroups cannot tell us).
        _wait_for(
            "both workers to be given partitions",
            lambda: all(_stored(w) for w in workers),
            timeout_s=60,
            tick=lambda: traffic.wave(CUSTOMERS),
        )
        final_wave = traffic.wave(FINAL_WAVE)
        _wait_for(
            f"{len(traffic.produced)} events stored between the two workers",
            lambda: set().union(*(_stored(w) for w in workers)) >= set(traffic.produced),
            timeout_s=45,
        )
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0], "\n\n".join(w.log_tail() for w in workers)

    a, b = (_event_ids(worker.data_dir) for worker in workers)
    # What one worker would have stored: every event, none invented.
    assert a | b == set(traffic.produced), "the two stores together miss or invent events"
    # Once the group settled, each partition (so each customer) belongs to one worker.
    final_a, final_b = a & final_wave, b & final_wave
    assert final_a and final_b, f"one worker got every partition: {len(final_a)}/{len(final_b)}"
    assert not final_a & final_b, "an event was stored by both workers: partitions not split"
    customers_a = {_customer(e) for e in final_a}
    customers_b = {_customer(e) for e in final_b}
    assert not customers_a & customers_b, "one customer's events went to both workers"
