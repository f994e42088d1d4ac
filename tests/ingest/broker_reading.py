"""Read what ingestion produced, straight from the broker (confluent-kafka + our Avro codec)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from pipeline.schemas.codec import AvroEventCodec

CODEC = AvroEventCodec()


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[tuple[str, Any]]], bool],
    timeout_s: float = 10.0,
) -> list[tuple[str, Any]]:
    """(key, event) pairs of ``topic`` from the beginning, polled until ``until`` holds."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        seen: list[tuple[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not until(seen):
            for msg in consumer.consume(500, timeout=0.2):
                if msg.error() is None:
                    seen.append((msg.key().decode("utf-8"), CODEC.decode(msg.value())))
        return seen
    finally:
        consumer.close()


def events_with_ids(
    bootstrap: str, topic: str, ids: set[str], *, id_field: str = "event_id"
) -> dict[str, tuple[str, Any]]:
    """The records of ``topic`` whose ``id_field`` is in ``ids``, waiting until all arrived."""

    def found(seen: list[tuple[str, Any]]) -> dict[str, tuple[str, Any]]:
        return {getattr(e, id_field): (k, e) for k, e in seen if getattr(e, id_field) in ids}

    seen = read_topic(bootstrap, topic, until=lambda s: len(found(s)) == len(ids))
    return found(seen)
