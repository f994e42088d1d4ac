"""Small synchronous Kafka clients for the conformance tests (confluent-kafka and aiokafka).

Everything here talks to the broker for real; nothing is mocked. Consumers read "until a poll
returns nothing" instead of "until the high watermark", because Tansu's ListOffsets answer can
be lower than the real end of a partition (see docs/broker.md, "High watermark").
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS

QUIET = {"log_level": 0}  # librdkafka's own log lines only blur pytest output


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes | None
    value: bytes
    partition: int
    offset: int


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, **QUIET})


def create_topic(
    bootstrap: str,
    name: str,
    *,
    partitions: int,
    config: Mapping[str, str] | None = None,
    timeout_s: float = 15.0,
) -> KafkaError | None:
    """CreateTopics for one topic; the broker's error (None when created)."""
    topic = NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})
    client = admin(bootstrap)  # keep a reference: a collected client cancels its futures
    future = client.create_topics([topic], request_timeout=timeout_s)[name]
    try:
        future.result(timeout=timeout_s)
    except KafkaException as exc:
        return exc.args[0]  # type: ignore[no-any-return]
    return None


def partition_count(bootstrap: str, topic: str, *, timeout_s: float = 10.0) -> int | None:
    """Partitions Metadata reports for ``topic`` (None when the topic is unknown)."""
    meta = admin(bootstrap).list_topics(topic=topic, timeout=timeout_s).topics.get(topic)
    if meta is None or meta.error is not None:
        return None
    return len(meta.partitions)


def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes]],
    *,
    partition: int | None = None,
    config: Mapping[str, object] | None = None,
    timeout_s: float = 15.0,
) -> list[Record]:
    """Produce with confluent-kafka as wapipe's importers do; return where each record went.

    ``linger.ms`` is long enough that the records of one call share a batch per partition,
    which is what exposes batch-boundary bugs in a broker.
    """
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            **CONFLUENT_PRODUCER_DEFAULTS,
            **QUIET,
            **(config or {}),
        }
    )
    delivered: list[Record] = []
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: object) -> None:
        if err is not None:
            errors.append(err)
            return
        delivered.append(
            Record(msg.key(), msg.value(), msg.partition(), msg.offset())  # type: ignore[attr-defined]
        )

    for key, value in records:
        kwargs: dict[str, object] = {"key": key, "value": value, "on_delivery": on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        producer.produce(topic, **kwargs)
    left = producer.flush(timeout_s)
    if errors or left:
        raise AssertionError(f"produce to {topic} failed: {errors[:3]} ({left} undelivered)")
    return delivered


def produce_with_aiokafka(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]]
) -> list[Record]:
    """Produce with aiokafka, the client inside Faust, with its default partitioner."""

    async def run() -> list[Record]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
        await producer.start()
        try:
            futures = [await producer.send(topic, key=k, value=v) for k, v in records]
            metas = [await f for f in futures]
        finally:
            await producer.stop()
        return [
            Record(k, v, m.partition, m.offset) for (k, v), m in zip(records, metas, strict=True)
        ]

    return asyncio.run(run())


def consumer(bootstrap: str, *, group: str, **overrides: object) -> Consumer:
    """A confluent-kafka consumer with the group timing of wapipe's workers.

    librdkafka's default 45 s session timeout would make every join on Tansu take 23 s.
    """
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **wapipe_group_timing().confluent_config(),
            **QUIET,
            **overrides,
        }
    )


def drain(
    client: Consumer, *, at_least: int = 0, idle_s: float = 1.0, limit_s: float = 30.0
) -> list[Record]:
    """Poll until ``at_least`` records arrived and then nothing more for ``idle_s``.

    ``at_least`` covers the seconds a subscribing consumer spends joining its group (Tansu
    takes about 5 s); the idle poll afterwards catches duplicates and extras.
    """
    got: list[Record] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        msg = client.poll(idle_s)
        if msg is None:
            if len(got) >= at_least:
                return got
            continue
        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise AssertionError(f"consumer error: {msg.error()}")
        got.append(Record(msg.key(), msg.value(), msg.partition(), msg.offset()))
    raise AssertionError(
        f"after {limit_s}s: {len(got)} records read, expected at least {at_least} then silence"
    )


def read_partition(bootstrap: str, topic: str, partition: int, *, start: int = 0) -> list[Record]:
    """Every record of one partition from ``start``, read until a poll returns nothing."""
    client = consumer(bootstrap, group="unused-assign-only")
    try:
        client.assign([TopicPartition(topic, partition, start)])
        return drain(client)
    finally:
        client.close()


def list_offsets_end(bootstrap: str, topic: str, partition: int) -> int:
    """The end offset a ListOffsets(latest) request returns (what lag tools and Faust use)."""
    client = consumer(bootstrap, group="unused-list-offsets")
    try:
        _low, high = client.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=10, cached=False
        )
        return int(high)
    finally:
        client.close()


def fetch_high_watermark(bootstrap: str, topic: str, partition: int) -> int:
    """The high watermark a Fetch response carries, after reading the partition to its end."""
    client = consumer(bootstrap, group="unused-fetch-hw")
    try:
        client.assign([TopicPartition(topic, partition, 0)])
        drain(client)
        _low, high = client.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
        return int(high)
    finally:
        client.close()


def committed(bootstrap: str, topic: str, partitions: int, *, group: str) -> dict[int, int]:
    """The group's committed offset per partition (-1001 = nothing committed)."""
    client = consumer(bootstrap, group=group)
    try:
        tps = client.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        client.close()


@dataclass(frozen=True, slots=True)
class GroupTiming:
    """The consumer-group timing wapipe's Faust workers use, read from ``faust_app``."""

    session_timeout_s: float
    rebalance_timeout_s: float
    heartbeat_interval_s: float

    def confluent_config(self) -> dict[str, int]:
        # librdkafka sends max.poll.interval.ms as the JoinGroup rebalance timeout.
        return {
            "session.timeout.ms": int(self.session_timeout_s * 1000),
            "heartbeat.interval.ms": int(self.heartbeat_interval_s * 1000),
            "max.poll.interval.ms": int(self.rebalance_timeout_s * 1000),
        }


@functools.cache
def wapipe_group_timing() -> GroupTiming:
    from pipeline.app import faust_app
    from pipeline.settings import Settings

    conf = faust_app(Settings(), bootstrap="127.0.0.1:9").conf
    return GroupTiming(
        session_timeout_s=float(conf.broker_session_timeout),
        rebalance_timeout_s=float(conf.broker_rebalance_timeout),
        heartbeat_interval_s=float(conf.broker_heartbeat_interval),
    )
