"""Role ``engagement``: a customer's events → their tags, one TagChange per change (issue 6).

    wa.inbound.v1 ┐
    wa.status.v1  │  customer-keyed, co-partitioned: one worker sees a customer's whole
    commerce.…    ├─► fold_customer_events ─► table engagement-customers ─► customer.tags.v1
    wa.outbound.… │   (no repartition)            ▲
    customer.con… ┘                               │ time-driven changes
    <app>-sweep-ticks ─────────► sweep_customers ─┘ (hot → warm → cold → dormant)

How it stays fast and exact (docs/agents.md, docs/benchmarks.md "Engagement"):

* Batches: the agent receives what the consumer fetched, a batch at a time (a
  :class:`~pipeline.runtime.faust_fetch_batches.FetchBatchTopic`: Faust's per-record path
  costs more than the fold); a batch is decoded at once to records and grouped by customer
  (:func:`~pipeline.agents.batches.decode_by_key`), each customer's records are folded in
  place and judged once (:func:`fold_batch`), and each changed customer is written once per
  batch.
* Output per batch: table values and TagChanges go to aiokafka one batch per partition
  (:class:`~pipeline.agents.batch_output.BatchOutput`), at the key's source partition (the
  customer topics, the changelog and customer.tags.v1 are co-partitioned, murmur2,
  design.md §3a), flushed before the batch is acknowledged (``ack_fetched``).
* State before changes: the flush stores the values first, then publishes their
  TagChanges. A changed value remembers its change and the input record that made it; after
  a rebalance, before anything else, the agent publishes again the changes of values whose
  input was not committed (:func:`unconfirmed`): the worker before may have died between
  the two. One batch or tick writes at a time, so a flush holds one value per key.
* Fair to the worker's other tasks: a batch's fold gives the event loop away every 20 ms
  (:class:`~pipeline.runtime.loop_turns.LoopTurns`), so webhooks and auto-replies in the
  same worker are not held up by a backlog replay.
* Idempotent: the fold remembers order ids and keeps times as maxima, so a redelivered batch
  (at-least-once) changes nothing and publishes nothing new.
* Event time: tags are judged at the latest event time or sweep tick seen for the customer;
  replaying the topics gives the same tags.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import faust
import structlog
from aiokafka.partitioner import murmur2
from faust.types import TP

from pipeline import topics
from pipeline.agents.batch_output import BatchOutput
from pipeline.agents.batches import decode_by_key
from pipeline.agents.due_index import DueIndex
from pipeline.agents.state_codec import register_state_codec, use_state_codec
from pipeline.agents.sweep_ticks import SweepTick, sweep_ticks
from pipeline.app import WapipeApp
from pipeline.events import TagChange
from pipeline.policy.customer_batch import FOLDED_FIELDS
from pipeline.policy.tag_thresholds import TagThresholds
from pipeline.policy.tag_timeline import (
    Source,
    TaggedCustomer,
    TimedDelta,
    fold_batch,
    last_changes,
    sweep,
    thresholds_from_settings,
)
from pipeline.runtime.faust_fetch_batches import FetchBatchTopic, FetchedBatch, ack_fetched
from pipeline.runtime.gc_tuning import collector_paused
from pipeline.runtime.loop_turns import LoopTurns
from pipeline.schemas.codec import AvroEventCodec
from pipeline.settings import Settings

log = structlog.get_logger(__name__)

SOURCES = (topics.INBOUND, topics.STATUS, topics.PURCHASES, topics.RESULTS, topics.CONSENT)
TABLE = "engagement-customers"


def tag_thresholds(settings: Settings) -> TagThresholds:
    return thresholds_from_settings(
        hot_days=settings.tag_hot_days,
        warm_days=settings.tag_warm_days,
        dormant_days=settings.tag_dormant_days,
        frequency_days=settings.tag_frequency_days,
        monthly_min_purchases=settings.tag_monthly_min_purchases,
        value_bands=settings.tag_value_bands,
    )


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka producers (murmur2, design.md §3a) put ``key`` in."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


def batch_sources(batch: FetchedBatch) -> dict[int, Source]:
    """Per partition of ``batch``, one of its records (topic, offset): the batch's witness.
    If that offset is committed, the batch was acknowledged, so its flush had finished."""
    sources: dict[int, Source] = {}
    for tp, records in batch.parts:
        if records and tp.partition not in sources:
            sources[tp.partition] = (tp.topic, records[-1].offset)
    return sources


def unconfirmed(value: TaggedCustomer, partition: int, committed: Mapping[TP, int | None]) -> bool:
    """Whether ``value``'s tag changes may not have been published: the input that made it
    is not committed (``committed`` holds the next offset to read, or None for none)."""
    source = value.changed_by
    if source is None:
        return False
    topic, offset = source
    return offset >= (committed.get(TP(topic, partition)) or 0)


def tag_change_fields(customer: str, timed: TimedDelta) -> dict[str, Any]:
    """A TagChange's fields, ready for the Avro encoder (the agent's path: no event object)."""
    d = timed.delta
    # Deterministic id: a change republished after a redelivery deduplicates downstream.
    ident = f"{customer}|{d.tag}|{d.change}|{timed.ts_ms}".encode()
    return {
        "event_id": hashlib.blake2b(ident, digest_size=12).hexdigest(),
        "customer": customer,
        "tag": d.tag,
        "change": d.change,
        "reason": d.reason,
        "ts_ms": timed.ts_ms,
    }


def tag_change(customer: str, timed: TimedDelta) -> TagChange:
    return TagChange(**tag_change_fields(customer, timed))


@dataclass
class EngagementStats:
    """Counters for benchmarks and /metrics: what the agent has done so far."""

    events: int = 0
    batches: int = 0
    writes: int = 0  # table writes (= changelog records)
    changes: int = 0  # TagChange events published
    turns_given: int = 0  # times a batch's fold let the worker's other tasks run
    republished: int = 0  # customers whose changes a restart published again


def register(wapp: WapipeApp) -> None:
    app, settings = wapp.app, wapp.settings
    register_state_codec()
    thresholds = tag_thresholds(settings)
    customers = app.Table(
        TABLE,
        default=None,
        partitions=settings.kafka_partitions,
        use_partitioner=True,
    )
    use_state_codec(customers)
    # Whole fetches, decoded at once (decode_by_key), not one Faust event per record.
    source = FetchBatchTopic(
        app, topics=[spec.name for spec in SOURCES], max_records=settings.engagement_batch_max
    )
    codec = AvroEventCodec()
    folded = codec.projection(FOLDED_FIELDS)  # decode only what the fold reads
    tag_schema = codec.registry.current(TagChange.__name__)
    output = BatchOutput(app, partitions=settings.kafka_partitions)
    ticks = sweep_ticks(wapp)
    due = DueIndex()
    # One batch or tick writes at a time: a flush then holds at most one value per key, so
    # a recovered value's remembered change is all that flush may have left unpublished.
    writing = asyncio.Lock()
    source_topics = frozenset(spec.name for spec in SOURCES)
    stats = EngagementStats()
    wapp.extras["engagement_table"] = customers
    wapp.extras["engagement_stats"] = stats

    def store(
        customer: str,
        partition: int,
        before: TaggedCustomer,
        after: TaggedCustomer,
        deltas: list[TimedDelta],
    ) -> None:
        """Write the customer's new value and queue its TagChanges (sent by output.flush)."""
        output.put(customers, customer, after, partition=partition)
        if after.next_change_ms != before.next_change_ms:
            # An unchanged due time is in the index already (a stale entry was never needed).
            due.schedule(partition, customer, after.next_change_ms)
        stats.writes += 1
        queue_changes(customer, partition, deltas)

    def queue_changes(customer: str, partition: int, deltas: list[TimedDelta]) -> None:
        for timed in deltas:
            change = codec.encode_dict(tag_schema, tag_change_fields(customer, timed))
            output.add(topics.TAGS.name, customer, change, partition=partition)
        stats.changes += len(deltas)

    @app.agent(source, name="engagement")
    async def fold_customer_events(stream: faust.StreamT[FetchedBatch]) -> None:
        async for batch in stream:
            stats.events += len(batch)
            stats.batches += 1
            async with writing:
                await recover_if_rebalanced()
                # The collector stays paused while other tasks take their turns too: the
                # decoded batch is garbage once folded, and the turns are short.
                with collector_paused():
                    folded_all = await fold_fetched(batch)
                await output.flush()  # before the batch is acked: at-least-once
            if folded_all:
                ack_fetched(app, batch)

    async def fold_fetched(batch: FetchedBatch) -> bool:
        """Fold a batch customer by customer, giving the event loop to the worker's other
        tasks every LOOP_TURN_S. False if a rebalance came meanwhile: the rest is left to
        whoever owns the partitions now (they read the batch again; the fold is idempotent)."""
        turns = LoopTurns()
        sources = batch_sources(batch)
        for customer, (partition, records) in decode_by_key(batch, folded).items():
            before = customers.data.get(customer) or TaggedCustomer()
            after, deltas = fold_batch(before, records, thresholds, sources[partition])
            if after is not before:
                store(customer, partition, before, after, deltas)
            if turns.expired():
                await turns.give_way()
                stats.turns_given += 1
                if rebalancing(batch.generation_id):
                    return False
        return True

    def rebalancing(generation_id: int) -> bool:
        """A rebalance began (Faust stops the flow as partitions are revoked) or ended since
        the batch or tick of ``generation_id`` was fetched."""
        return not app.flow_control.is_active() or generation_id != app.consumer_generation_id

    @app.on_rebalance_complete.connect
    def reindex_after_rebalance(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        due.stale = True  # recovered keys are not in the index yet

    async def recover_if_rebalanced() -> None:
        """After a rebalance, before the first write: index the recovered customers' due
        times, and publish again the changes of values whose input was not committed."""
        if not due.stale:
            return
        n = settings.kafka_partitions
        active = {
            tp.partition for tp in app.assignor.assigned_actives() if tp.topic in source_topics
        }
        # Faust read the committed offsets when the partitions were assigned (perform_seek),
        # and nothing of this generation is acked before this runs.
        committed = app.consumer._committed_offset  # type: ignore[attr-defined]
        generation = app.consumer_generation_id
        entries: list[tuple[int, str, int | None]] = []
        owed = 0
        turns = LoopTurns()  # a large table takes seconds: the worker's other tasks go on
        for key, value in list(customers.items()):
            if value is None:
                continue
            partition = partition_of(key, n)
            entries.append((partition, key, value.next_change_ms))
            if partition in active and unconfirmed(value, partition, committed):
                queue_changes(key, partition, last_changes(value, thresholds))
                owed += 1
            if turns.expired():
                await turns.give_way()
        due.rebuild(entries)
        if app.consumer_generation_id != generation:
            due.stale = True  # another rebalance during the scan: scan again before writing
        await output.flush()
        if owed:
            stats.republished += owed
            log.info("engagement.republished", customers=owed)

    @app.agent(ticks, name="engagement-sweep")
    async def sweep_customers(stream: faust.StreamT[SweepTick]) -> None:
        async for event in stream.events():
            async with writing:
                await recover_if_rebalanced()
                await sweep_tick(event.value, event.message)

    async def sweep_tick(tick: SweepTick, message: Any) -> None:
        partition = message.partition
        swept = 0
        turns = LoopTurns()
        for customer in due.pop_due(partition, tick.ts_ms):
            before = customers.data.get(customer)
            if before is not None:
                after, deltas = sweep(
                    before, tick.ts_ms, thresholds, (message.topic, message.offset)
                )
                if after is not before:
                    store(customer, partition, before, after, deltas)
                    swept += 1
            if turns.expired():
                await turns.give_way()
                if rebalancing(message.generation_id):
                    break  # a rebalance: the index is rebuilt from the table (stale)
        await output.flush()
        if swept:
            log.info("engagement.swept", customers=swept, now_ms=tick.ts_ms)


__all__ = [
    "SOURCES",
    "TABLE",
    "EngagementStats",
    "batch_sources",
    "partition_of",
    "register",
    "tag_change",
    "tag_change_fields",
    "tag_thresholds",
    "unconfirmed",
]
