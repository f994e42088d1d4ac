"""End offsets. Tansu 0.6.0 answers ListOffsets(latest) with the base offset of the last
stored batch + 1, which is lower than the real end when that batch held several records.
The Fetch response's high watermark is right. wapipe therefore never stops reading at the
ListOffsets end: consumers read until a poll returns nothing (docs/broker.md).
"""

from __future__ import annotations

import asyncio

from faust.types import TP

from pipeline.runtime.faust_end_offsets import fetched_end_offsets
from tests.broker.conftest import BrokerUnderTest
from tests.broker.kafka_io import (
    create_topic,
    fetch_high_watermark,
    list_offsets_end,
    produce,
    read_partition,
)

BATCH_SIZES = (1, 10, 1, 5, 3)  # one flush each: the last batch holds three records


def fill(kafka: BrokerUnderTest, topic: str) -> list[int]:
    """Produce one batch per size into partition 0; the base offset of each batch."""
    assert create_topic(kafka.bootstrap, topic, partitions=1) is None
    bases = []
    for size in BATCH_SIZES:
        delivered = produce(kafka.bootstrap, topic, [(b"k", b"v")] * size, partition=0)
        bases.append(min(r.offset for r in delivered))
    return bases


def test_reading_until_an_empty_poll_returns_every_record(
    kafka: BrokerUnderTest, unique: str
) -> None:
    topic = f"conf.hw.read.{unique}"
    fill(kafka, topic)
    records = read_partition(kafka.bootstrap, topic, 0)
    assert len(records) == sum(BATCH_SIZES), (
        f"read {len(records)} of {sum(BATCH_SIZES)} records: the tail of a batch is missing"
    )


def test_fetch_high_watermark_is_the_real_end_of_the_partition(
    kafka: BrokerUnderTest, unique: str
) -> None:
    topic = f"conf.hw.fetch.{unique}"
    fill(kafka, topic)
    high = fetch_high_watermark(kafka.bootstrap, topic, 0)
    assert high == sum(BATCH_SIZES), f"Fetch high watermark {high}, real end {sum(BATCH_SIZES)}"


def test_list_offsets_end_is_never_past_the_real_end(kafka: BrokerUnderTest, unique: str) -> None:
    # Lower than the end only costs re-reading (or under-reported lag); higher would skip data
    # for a consumer that starts "at latest", so that bound must hold on every broker.
    topic = f"conf.hw.bounds.{unique}"
    bases = fill(kafka, topic)
    end = list_offsets_end(kafka.bootstrap, topic, 0)
    assert bases[-1] + 1 <= end <= sum(BATCH_SIZES), (
        f"ListOffsets(latest)={end}, outside [last batch base + 1={bases[-1] + 1}, "
        f"real end={sum(BATCH_SIZES)}]"
    )


def test_tansu_list_offsets_end_is_last_batch_base_plus_one(
    kafka: BrokerUnderTest, unique: str, tansu_only: None
) -> None:
    # The quirk itself. If this fails after a Tansu upgrade, the quirk is gone: update
    # docs/broker.md ("High watermark") and drop the read-until-empty caveats.
    topic = f"conf.hw.quirk.{unique}"
    bases = fill(kafka, topic)
    end = list_offsets_end(kafka.bootstrap, topic, 0)
    assert end == bases[-1] + 1, (
        f"Tansu's ListOffsets(latest) is {end}, expected the documented quirk {bases[-1] + 1} "
        f"(real end {sum(BATCH_SIZES)})"
    )


def test_faust_end_offsets_are_the_real_ends_where_list_offsets_stops_short(
    kafka: BrokerUnderTest, unique: str
) -> None:
    # The workaround Faust's table recovery runs on (pipeline/runtime/faust_end_offsets.py).
    topic = f"conf.hw.faust.{unique}"
    fill(kafka, topic)
    assert create_topic(kafka.bootstrap, f"{topic}.empty", partitions=1) is None
    full, empty = TP(topic, 0), TP(f"{topic}.empty", 0)
    listed = {
        full: list_offsets_end(kafka.bootstrap, topic, 0),
        empty: list_offsets_end(kafka.bootstrap, empty.topic, 0),
    }
    ends = asyncio.run(fetched_end_offsets([kafka.bootstrap], listed))
    assert ends == {full: sum(BATCH_SIZES), empty: 0}, (
        f"EndOffsetsTransport reports {ends} from ListOffsets {listed}; real ends "
        f"{sum(BATCH_SIZES)} and 0: Faust would end table recovery early"
    )
