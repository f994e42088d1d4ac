"""publish_acked / store_acked against the real broker: what they return from is on the broker,
in order, where recovery and co-partitioning expect it, decoding to what was written."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from faust.types import Message

from pipeline.agents.acked_output import publish_acked, store_acked
from pipeline.agents.engagement import partition_of
from pipeline.agents.state_codec import use_state_codec
from pipeline.app import faust_app
from pipeline.policy.reply_rate import ScopeWindow
from pipeline.runtime.broker import EmbeddedBroker
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.settings import Settings
from pipeline.topics import TopicSpec

PARTITIONS = 4


def records(bootstrap: str, topic: str) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of every record now on ``topic``, in partition/offset order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    out: list[tuple[int, int, bytes, bytes]] = []
    idle, deadline = 0, time.monotonic() + 30
    while idle < 3 and time.monotonic() < deadline:
        batch = consumer.consume(1000, timeout=0.5)
        idle = 0 if batch else idle + 1
        out += [
            (m.partition(), m.offset(), m.key() or b"", m.value() or b"")
            for m in batch
            if m.error() is None
        ]
    consumer.close()
    return [(p, k, v) for p, _, k, v in sorted(out)]


async def test_acked_outputs_and_table_writes_land_in_order_where_recovery_reads_them(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    bootstrap = broker.bootstrap_servers
    app_id = f"acked-{uuid.uuid4().hex[:8]}"
    settings = Settings(app_id=app_id, data_dir=tmp_path, kafka_partitions=PARTITIONS)
    app = faust_app(settings, bootstrap=bootstrap)
    table = app.Table("windows", default=None, partitions=PARTITIONS, use_partitioner=True)
    use_state_codec(table)
    out = app.topic(f"{app_id}-out", key_serializer="utf8", value_serializer="json")
    changelog = table.changelog_topic.get_topic_name()
    ensure_topics(
        bootstrap,
        [TopicSpec(name, dict, "scope") for name in (out.get_topic_name(), changelog)],
        partitions=PARTITIONS,
        replication=1,
    )
    windows = {f"campaign:c{i}": ScopeWindow(watermark_ms=i, judged_ms=i) for i in range(12)}
    await app.producer.start()
    try:
        await publish_acked(out, [("campaign:c1", {"n": n}) for n in range(5)])
        await store_acked(table, windows)
    finally:
        await app.producer.stop()

    assert dict(table.data) == windows  # the worker's own view
    sent = records(bootstrap, out.get_topic_name())
    assert [v for _, _, v in sent] == [b'{"n":%d}' % n for n in range(5)]  # per-key order
    written = records(bootstrap, changelog)
    assert len(written) == len(windows)
    recovered = {}
    for partition, key, value in written:
        message = Message(changelog, partition, 0, 0.0, 0, [], key, value, None)
        event = await table.changelog_topic.decode(message, propagate=True)
        recovered[event.key] = (partition, event.value)
    # Each key in its partition in the source topics (murmur2), as Faust's own table writes.
    assert recovered == {k: (partition_of(k, PARTITIONS), w) for k, w in windows.items()}
