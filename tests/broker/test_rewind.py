"""Seeking to committed offsets rewinds a partition never committed, too (issue 6).

Faust drops records its fetcher returned while the flow was stopped and relies on "seek to
committed" to read them again; aiokafka's seek leaves a partition without a committed offset
where the fetcher stopped (pipeline/runtime/faust_rewind.py).
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from pipeline.runtime.faust_rewind import seek_to_committed_or_reset
from tests.broker.conftest import BrokerUnderTest
from tests.broker.kafka_io import create_topic, produce

RECORDS = 5


async def positions_after_seeks(
    bootstrap: str, topic: str, group: str, *, skip_topics: tuple[str, ...]
) -> tuple[dict[int, int], dict[int, int], dict[int, int | None]]:
    """Read both partitions to their end, commit partition 1 at 3, then seek the plain way
    and the rewinding way; the positions after each, and the committed offsets seen."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in (0, 1)]
        consumer.assign(tps)
        read = 0
        deadline = asyncio.get_running_loop().time() + 20
        while read < 2 * RECORDS and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            read += sum(len(records) for records in batch.values())
        assert read == 2 * RECORDS, f"read {read} of {2 * RECORDS} records"
        await consumer.commit({tps[1]: OffsetAndMetadata(3, "")})

        await consumer.seek_to_committed()
        plain = {tp.partition: await consumer.position(tp) for tp in tps}
        committed = await seek_to_committed_or_reset(
            consumer, skip_topics=skip_topics, reset="earliest"
        )
        rewound = {tp.partition: await consumer.position(tp) for tp in tps}
        return plain, rewound, {tp.partition: offset for tp, offset in committed.items()}
    finally:
        await consumer.stop()


def fill(kafka: BrokerUnderTest, topic: str) -> None:
    assert create_topic(kafka.bootstrap, topic, partitions=2) is None
    for partition in (0, 1):
        produce(kafka.bootstrap, topic, [(b"k", b"v")] * RECORDS, partition=partition)


def test_a_partition_never_committed_is_sought_back_to_its_start(
    kafka: BrokerUnderTest, unique: str
) -> None:
    topic = f"conf.rewind.{unique}"
    fill(kafka, topic)
    plain, rewound, committed = asyncio.run(
        positions_after_seeks(kafka.bootstrap, topic, f"g.{unique}", skip_topics=())
    )
    assert committed == {0: None, 1: 3}
    # The quirk the rewind exists for: records fetched from partition 0 are not read again.
    assert plain == {0: RECORDS, 1: 3}, f"aiokafka's seek_to_committed moved to {plain}"
    assert rewound == {0: 0, 1: 3}, f"after the rewinding seek: {rewound}"


def test_the_rewind_leaves_the_partitions_of_skipped_topics_alone(
    kafka: BrokerUnderTest, unique: str
) -> None:
    # Changelog partitions: table recovery positions them itself.
    topic = f"conf.rewind.skip.{unique}"
    fill(kafka, topic)
    _, rewound, _ = asyncio.run(
        positions_after_seeks(kafka.bootstrap, topic, f"g.{unique}", skip_topics=(topic,))
    )
    assert rewound == {0: RECORDS, 1: 3}
