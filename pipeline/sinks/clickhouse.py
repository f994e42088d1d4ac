"""Sink: every event topic into its ClickHouse table, in batches, offsets committed after insert.

Why not a Faust agent per topic: Faust's stream path costs 65–100 µs per event here
(several tasks and futures per message, see docs/benchmarks.md), which caps a sink near
10,000 events/s, while the sink needs no per-event logic at all. So the sink is a Faust
*service* of the same app, running one confluent-kafka consumer in its own thread:

    consume up to ``sink_batch_size`` messages or ``sink_batch_seconds``
      → decode (generated Avro code) → group by topic → one Arrow batch per table
      → insert (retried with back-off until it succeeds; never skipped)
      → commit exactly the offsets of that batch

A crash anywhere before the commit redelivers the batch; rows deduplicate on event id in
the tables (ReplacingMergeTree), so nothing is lost and nothing is counted twice. Bytes that
do not decode go to ``pipeline.deadletter.v1`` with the reason before the commit.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mode
import pyarrow
import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from pipeline import topics
from pipeline.app import WapipeApp
from pipeline.deadletter import make_dead_letter
from pipeline.errors import SchemaError, StoreError
from pipeline.events import RECORD_TYPES
from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS
from pipeline.runtime.store import TABLE_FOR_RECORD, Store, arrow_schema
from pipeline.schemas.codec import AvroEventCodec
from pipeline.sinks import attribution_refresh
from pipeline.topics import TopicSpec

log = structlog.get_logger(__name__)

SUNK_TOPICS: tuple[TopicSpec, ...] = (
    topics.INBOUND,
    topics.STATUS,
    topics.PURCHASES,
    topics.RESULTS,
    topics.TAGS,
    topics.CONSENT,
    topics.ALARMS,
    topics.DEADLETTER,
    topics.COMMANDS,  # queue lag and waiting commands on the Sender dashboard
    topics.CAMPAIGNS,
)

MAX_BACKOFF_S = 30.0


@dataclass
class SinkStats:
    """Counters for /metrics and tests."""

    rows: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    insert_failures: int = 0
    dead_letters: int = 0
    commits: int = 0

    def add(self, table: str, rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows


@dataclass(frozen=True, slots=True)
class SinkConfig:
    bootstrap: str
    group_id: str
    batch_size: int
    batch_seconds: float
    topics: tuple[TopicSpec, ...] = SUNK_TOPICS


def columns_to_arrow(record_name: str, columns: Sequence[list[Any]]) -> pyarrow.Table:
    """Column lists (current schema order) of one record type → the Arrow batch of its table."""
    schema = arrow_schema(RECORD_TYPES[record_name])
    arrays = [
        pyarrow.array(values, type=column.type)
        for values, column in zip(columns, schema, strict=True)
    ]
    return pyarrow.Table.from_arrays(arrays, schema=schema)


class BatchSink:
    """The consume → insert → commit loop; runs in a thread so chDB never blocks the loop."""

    def __init__(
        self,
        store: Store,
        config: SinkConfig,
        *,
        codec: AvroEventCodec | None = None,
        stats: SinkStats | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.config = config
        self.codec = codec or AvroEventCodec()
        self.stats = stats or SinkStats()
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.stopping = threading.Event()
        self._table_for_topic = {
            spec.name: (spec.record.__name__, TABLE_FOR_RECORD[spec.record.__name__])
            for spec in config.topics
        }
        self._width = {
            spec.record.__name__: arrow_schema(spec.record).names for spec in config.topics
        }
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": self.config.bootstrap,
                "group.id": self.config.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # Tansu rejoin facts (issue 2): short sessions so a killed worker's
                # partitions move on quickly.
                "session.timeout.ms": 10_000,
                "heartbeat.interval.ms": 1_000,
                # An insert retried through a long ClickHouse outage must not cost the
                # group membership (it would only cause a harmless redelivery, but churn).
                "max.poll.interval.ms": 3_600_000,
                "log_level": 3,
            }
        )
        self._consumer.subscribe([spec.name for spec in self.config.topics])
        log.info("sink.started", group=self.config.group_id, topics=len(self.config.topics))
        try:
            while not self.stopping.is_set():
                batch = self._collect()
                if batch:
                    self.process(batch)
        finally:
            self._consumer.close()
            if self._producer is not None:
                self._producer.flush(10)
            log.info("sink.stopped", rows=sum(self.stats.rows.values()))

    def _collect(self) -> list[Message]:
        assert self._consumer is not None  # set in run() before the loop
        batch: list[Message] = []
        deadline = time.monotonic() + self.config.batch_seconds
        while len(batch) < self.config.batch_size and not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            messages = self._consumer.consume(
                num_messages=self.config.batch_size - len(batch), timeout=min(remaining, 0.5)
            )
            for message in messages:
                error = message.error()
                if error is None:
                    batch.append(message)
                elif error.code() != KafkaError._PARTITION_EOF:
                    log.warning("sink.consume_error", error=str(error))
        return batch

    def process(self, batch: Sequence[Message]) -> None:
        """Insert one batch and commit its offsets; retries until done or stopping."""
        by_topic: dict[str, list[list[Any]]] = {}
        for message in batch:
            topic = message.topic() or ""
            raw = message.value() or b""
            record_name, _table = self._table_for_topic[topic]
            columns = by_topic.get(topic)
            if columns is None:
                columns = by_topic[topic] = [[] for _ in self._width[record_name]]
            try:
                self.codec.decode_into_columns(raw, record_name, columns)
            except SchemaError as exc:
                self._dead_letter(topic, raw, str(exc))
        for topic, columns in by_topic.items():
            record_name, table = self._table_for_topic[topic]
            if not columns[0]:
                continue
            arrow = columns_to_arrow(record_name, columns)
            if not self._insert_until_done(table, arrow):
                return  # stopping: leave the offsets uncommitted, the batch comes again
            self.stats.add(table, arrow.num_rows)
        self.stats.batches += 1
        if self._producer is not None:
            self._producer.flush(30)  # dead letters are durable before their offsets commit
        self._commit(batch)

    def _insert_until_done(self, table: str, batch: pyarrow.Table) -> bool:
        attempt = 0
        while not self.stopping.is_set():
            try:
                self.store.insert_arrow(table, batch)
                return True
            except StoreError as exc:
                attempt += 1
                self.stats.insert_failures += 1
                delay = self.rng.uniform(0, min(MAX_BACKOFF_S, 0.05 * 2**attempt))
                log.warning(
                    "sink.insert_failed",
                    table=table,
                    rows=batch.num_rows,
                    attempt=attempt,
                    retry_in_s=round(delay, 2),
                    error=str(exc)[:300],
                )
                self.stopping.wait(delay)
        return False

    def _commit(self, batch: Sequence[Message]) -> None:
        assert self._consumer is not None  # set in run()
        last: dict[tuple[str, int], int] = {}
        for message in batch:
            key = (message.topic() or "", message.partition() or 0)
            last[key] = max(last.get(key, -1), message.offset() or 0)
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
            self.stats.commits += 1
        except KafkaException as exc:
            # Partitions moved to another worker meanwhile: it re-reads them and the
            # tables deduplicate. Nothing to undo here.
            log.warning("sink.commit_failed", error=str(exc))

    def _dead_letter(self, topic: str, raw: bytes, reason: str) -> None:
        if self._producer is None:
            self._producer = Producer(
                {"bootstrap.servers": self.config.bootstrap, **CONFLUENT_PRODUCER_DEFAULTS}
            )
        letter = make_dead_letter(
            source=f"sink:{topic}", reason=reason, raw=raw, ts_ms=time.time_ns() // 1_000_000
        )
        self._producer.produce(
            topics.DEADLETTER.name, key=letter.source.encode(), value=self.codec.encode(letter)
        )
        self.stats.dead_letters += 1
        log.warning("sink.dead_letter", topic=topic, reason=reason)


class SinkService(mode.Service):
    """Runs :class:`BatchSink` in a thread for as long as the Faust app runs."""

    def __init__(self, sink: BatchSink, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sink = sink
        self._thread: threading.Thread | None = None

    async def on_start(self) -> None:
        self._thread = threading.Thread(target=self.sink.run, name="clickhouse-sink", daemon=True)
        self._thread.start()

    async def on_stop(self) -> None:
        self.sink.stopping.set()
        if self._thread is not None:
            await self.loop.run_in_executor(None, self._thread.join, 30)


def register(wapp: WapipeApp) -> None:
    if wapp.store is None:
        return  # this worker does not own the store (e.g. a sender-only process)
    settings = wapp.settings
    sink = BatchSink(
        wapp.store,
        SinkConfig(
            bootstrap=wapp.bootstrap,
            group_id=f"{settings.app_id}-clickhouse-sink",
            batch_size=settings.sink_batch_size,
            batch_seconds=settings.sink_batch_seconds,
        ),
    )
    wapp.extras["sink_stats"] = sink.stats
    wapp.app.service(SinkService(sink))  # type: ignore[arg-type]  # instances work too
    # The job that attributes what the sink stored runs in the same worker, on the same store.
    attribution_refresh.register(wapp)
