"""Create wapipe's topics idempotently and read their offsets (for ``wapipe topics``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from pipeline.errors import BrokerUnavailable
from pipeline.topics import TopicSpec

log = structlog.get_logger(__name__)


def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec],
    *,
    partitions: int,
    replication: int,
    timeout_s: float = 15.0,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise BrokerUnavailable(f"cannot list topics on {bootstrap}: {exc}") from exc
    wanted = [
        NewTopic(
            spec.name,
            num_partitions=partitions,
            replication_factor=replication,
            config={"cleanup.policy": "compact"} if spec.compacted else {},
        )
        for spec in specs
        if spec.name not in existing
    ]
    created: list[str] = []
    if not wanted:
        return created
    for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue  # another worker won the race: that is the idempotent outcome
            raise BrokerUnavailable(f"cannot create topic {name}: {exc}") from exc
    log.info("topics.created", topics=created, partitions=partitions)
    return created


@dataclass(frozen=True, slots=True)
class TopicOffsets:
    topic: str
    partitions: int
    end_offset: int  # sum of high watermarks
    committed: int | None  # sum of the group's committed offsets (None: never committed)

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else max(0, self.end_offset - self.committed)


def topic_offsets(bootstrap: str, topics: Iterable[str], *, group_id: str) -> list[TopicOffsets]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    try:
        meta = consumer.list_topics(timeout=10)
        out = []
        for topic in topics:
            tmeta = meta.topics.get(topic)
            if tmeta is None or tmeta.error is not None:
                continue
            tps = [TopicPartition(topic, p) for p in sorted(tmeta.partitions)]
            end = 0
            for tp in tps:
                _low, high = consumer.get_watermark_offsets(tp, timeout=5)
                end += max(0, high)
            committed_tps = consumer.committed(tps, timeout=5)
            seen = [tp.offset for tp in committed_tps if tp.offset >= 0]
            out.append(TopicOffsets(topic, len(tps), end, sum(seen) if seen else None))
        return out
    finally:
        consumer.close()
