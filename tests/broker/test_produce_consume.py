"""Produce and consume: keys, partitions, order. Every wapipe topic is keyed by customer."""

from __future__ import annotations

from collections import defaultdict

from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS
from tests.broker.conftest import BrokerUnderTest
from tests.broker.kafka_io import (
    consumer,
    create_topic,
    drain,
    produce,
    produce_with_aiokafka,
    read_partition,
)

PARTITIONS = 12  # wapipe's default kafka_partitions


def customer_keys(count: int) -> list[bytes]:
    # The shape of a real key: an E.164 number (these are in no numbering plan's live range).
    return [f"+8210{n:08d}".encode() for n in range(count)]


def test_keyed_records_round_trip_unchanged(kafka: BrokerUnderTest, unique: str) -> None:
    topic = f"conf.roundtrip.{unique}"
    assert create_topic(kafka.bootstrap, topic, partitions=4) is None
    sent = [
        (key, b"payload-" + key + bytes([n % 256]) * n) for n, key in enumerate(customer_keys(60))
    ]
    delivered = produce(kafka.bootstrap, topic, sent)
    client = consumer(kafka.bootstrap, group=f"g.roundtrip.{unique}")
    client.subscribe([topic])
    try:
        received = drain(client, at_least=len(sent))
    finally:
        client.close()
    assert sorted((r.key, r.value) for r in received) == sorted(sent), (
        f"sent {len(sent)} keyed records, read back {len(received)} (or different bytes)"
    )
    where_sent = {(r.partition, r.offset): r.key for r in delivered}
    where_read = {(r.partition, r.offset): r.key for r in received}
    assert where_read == where_sent, "records were read at other partition/offset than acked"


def test_same_key_always_lands_in_the_same_partition(kafka: BrokerUnderTest, unique: str) -> None:
    topic = f"conf.samekey.{unique}"
    assert create_topic(kafka.bootstrap, topic, partitions=PARTITIONS) is None
    keys = customer_keys(40)
    # Three separate producers, as three importer runs would be.
    runs = [produce(kafka.bootstrap, topic, [(k, b"%d" % run) for k in keys]) for run in range(3)]
    partitions_of: dict[bytes | None, set[int]] = defaultdict(set)
    for run in runs:
        for record in run:
            partitions_of[record.key].add(record.partition)
    split = {k: sorted(p) for k, p in partitions_of.items() if len(p) > 1}
    assert not split, f"keys spread over several partitions across producers: {split}"
    assert len({p for ps in partitions_of.values() for p in ps}) > 1, "all keys in 1 partition"


def test_confluent_and_aiokafka_put_a_customer_key_in_the_same_partition(
    kafka: BrokerUnderTest, unique: str
) -> None:
    # Faust produces with aiokafka (murmur2); importers produce with confluent-kafka, whose
    # default is CRC32. wapipe configures confluent-kafka with CONFLUENT_PRODUCER_DEFAULTS.
    topic = f"conf.partitioner.{unique}"
    assert create_topic(kafka.bootstrap, topic, partitions=PARTITIONS) is None
    records = [(key, b"x") for key in customer_keys(200)]
    by_confluent = {r.key: r.partition for r in produce(kafka.bootstrap, topic, records)}
    by_aiokafka = {
        r.key: r.partition for r in produce_with_aiokafka(kafka.bootstrap, topic, records)
    }
    differ = {
        k: (by_confluent[k], by_aiokafka[k])
        for k in by_aiokafka
        if by_confluent[k] != by_aiokafka[k]
    }
    assert not differ, (
        f"{len(differ)}/{len(records)} keys land in different partitions from confluent-kafka "
        f"(with {dict(CONFLUENT_PRODUCER_DEFAULTS)}) and aiokafka, e.g. "
        f"{list(differ.items())[:3]}: set partitioner=murmur2_random on confluent producers"
    )


def test_order_within_a_partition_is_kept_across_multi_record_batches(
    kafka: BrokerUnderTest, unique: str
) -> None:
    topic = f"conf.order.{unique}"
    assert create_topic(kafka.bootstrap, topic, partitions=2) is None
    expected: list[bytes] = []
    for batch in range(5):  # each call is one flush: one batch of `size` records
        size = 1 + batch * 7
        values = [b"%03d" % (len(expected) + n) for n in range(size)]
        produce(kafka.bootstrap, topic, [(b"k", v) for v in values], partition=1)
        expected += values
    records = read_partition(kafka.bootstrap, topic, 1)
    assert [r.value for r in records] == expected, "records came back out of order or missing"
    assert [r.offset for r in records] == list(range(len(expected))), (
        f"offsets are not dense from 0: {[r.offset for r in records][:20]}…"
    )


def test_reading_from_an_offset_inside_a_batch_starts_at_that_offset(
    kafka: BrokerUnderTest, unique: str
) -> None:
    # A consumer resuming from a committed offset usually lands inside a stored batch.
    topic = f"conf.midbatch.{unique}"
    assert create_topic(kafka.bootstrap, topic, partitions=1) is None
    produce(kafka.bootstrap, topic, [(b"k", b"%d" % n) for n in range(10)], partition=0)
    records = read_partition(kafka.bootstrap, topic, 0, start=4)
    assert [r.offset for r in records] == list(range(4, 10)), (
        f"reading from offset 4 returned offsets {[r.offset for r in records]}"
    )
