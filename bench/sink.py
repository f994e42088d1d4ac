"""Benchmark: Kafka → ClickHouse through the sink, per worker (issue 7 goal: ≥ 50,000 events/s).

    .venv/bin/python bench/sink.py [--events 200000] [--batch 5000]

Produces ``--events`` InboundMessage records to a fresh embedded broker, then runs the sink's
consume → decode → Arrow → chDB insert → commit loop (pipeline/sinks/clickhouse.py, the code
the worker runs) until every row is in chDB, and prints events/s. In the same run it times the
sink's CPU work per batch two ways on the same messages:

* before: fastavro's schemaless_reader per record and ``pyarrow.Table.from_pylist`` (the
  first version of the sink);
* after: the generated column decoder and column-wise Arrow arrays (what runs now).
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pyarrow
from confluent_kafka import Producer
from fastavro import schemaless_reader

from pipeline import topics
from pipeline.events import InboundMessage
from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS, EmbeddedBroker
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.runtime.store import apply_migrations, arrow_schema, open_store
from pipeline.schemas.codec import HEADER_BYTES, AvroEventCodec
from pipeline.settings import Settings
from pipeline.sinks.clickhouse import BatchSink, SinkConfig, columns_to_arrow

CODEC = AvroEventCodec()


def messages(n: int) -> list[bytes]:
    return [
        CODEC.encode(
            InboundMessage(
                event_id=f"wamid.bench.{i}",
                business_number_id="106540352242922",
                customer=f"8210{i % 100_000:08d}",
                profile_name="Kim",
                text="할인 있나요? discount please",
                ts_ms=1_760_000_000_000 + i,
            )
        )
        for i in range(n)
    ]


def cpu_before(batch: list[bytes]) -> float:
    started = time.process_time()
    parsed = CODEC.registry.current("InboundMessage").parsed
    records = []
    for data in batch:
        buf = io.BytesIO(data)
        buf.seek(HEADER_BYTES)
        records.append(schemaless_reader(buf, parsed, None))
    pyarrow.Table.from_pylist(records, schema=arrow_schema(InboundMessage))
    return time.process_time() - started


def cpu_after(batch: list[bytes]) -> float:
    started = time.process_time()
    columns: list[list[object]] = [[] for _ in arrow_schema(InboundMessage)]
    for data in batch:
        CODEC.decode_into_columns(data, "InboundMessage", columns)
    columns_to_arrow("InboundMessage", columns)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=20_000)
    args = parser.parse_args()
    payloads = messages(args.events)
    sample = payloads[: args.batch]
    cpu_before(sample[:100]), cpu_after(sample[:100])  # warm both paths up first
    before, after = cpu_before(sample), cpu_after(sample)
    print(
        f"sink CPU per {args.batch}-event batch: before {before * 1000:.0f} ms "
        f"({args.batch / before:,.0f}/s), after {after * 1000:.0f} ms "
        f"({args.batch / after:,.0f}/s), ratio {before / after:.1f}x"
    )
    data_dir = Path(tempfile.mkdtemp(prefix="wapipe-bench-sink-"))
    try:
        with EmbeddedBroker() as broker:
            ensure_topics(broker.bootstrap_servers, topics.ALL_TOPICS, partitions=12, replication=1)
            producer = Producer(
                {
                    "bootstrap.servers": broker.bootstrap_servers,
                    "linger.ms": 20,
                    **CONFLUENT_PRODUCER_DEFAULTS,
                }
            )
            for i, value in enumerate(payloads):
                producer.produce(topics.INBOUND.name, key=f"8210{i % 100_000:08d}", value=value)
                if i % 10_000 == 0:
                    producer.poll(0)
            producer.flush(60)
            store = open_store(Settings(data_dir=data_dir))
            apply_migrations(store)
            sink = BatchSink(
                store,
                SinkConfig(
                    bootstrap=broker.bootstrap_servers,
                    group_id="bench-sink",
                    batch_size=args.batch,
                    batch_seconds=0.5,
                ),
            )
            thread = threading.Thread(target=sink.run, daemon=True)
            started = time.monotonic()
            first_row: float | None = None
            thread.start()
            while sink.stats.rows.get("inbound_messages", 0) < args.events:
                if first_row is None and sink.stats.rows:
                    first_row = time.monotonic()
                if time.monotonic() - started > 600:
                    break
                time.sleep(0.05)
            finished = time.monotonic()
            sink.stopping.set()
            thread.join(30)
            rows = store.query("SELECT count() FROM inbound_messages").scalar()
            store.close()
        steady = finished - (first_row or started)
        print(
            f"sink end to end: {rows:,} events Kafka → ClickHouse in {finished - started:.1f}s "
            f"({rows / (finished - started):,.0f} events/s including the group join; "
            f"{rows / steady:,.0f} events/s from the first insert on)"
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
