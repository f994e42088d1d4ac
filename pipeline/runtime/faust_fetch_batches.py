"""Agents that receive what the consumer fetched, a batch at a time (issue 6).

Faust hands every record to its agents alone: the consumer's drain loop awaits
``wait_first(conductor.on_message(record), suspend_flow.wait())`` (two tasks and an
``asyncio.wait``), the conductor decodes it into an event, the event waits in the stream's
queue, and the stream tracks, yields and acknowledges it. Measured in bench/engagement.py
on a quiet machine, that path alone costs a counting agent ~100 µs of CPU per record: about
10,000 records/s before any work, against aiokafka's ~490,000/s on the same broker
(docs/benchmarks.md, "Engagement").

A :class:`FetchBatchTopic` is an ordinary Faust topic for an agent to iterate, whose values
are :class:`FetchedBatch` objects: every record of its topics that one fetch returned, as
aiokafka records (raw key and value bytes), one event per fetch. Everything else stays
Faust's: the group membership and assignment (the topic is subscribed and co-partitioned
like any other), table recovery (partitions are paused while their tables recover), flow
control during a rebalance (a batch fetched in an earlier generation is skipped by the
stream, and the queue is cleared when the flow resumes), read offsets and seeks, and the
commit of acknowledged offsets. The agent acknowledges a batch with :func:`ack_fetched`
when its work is done (at-least-once: a crash before that refetches the batch).

A topic read both by a batch agent and by ordinary agents is delivered to both.

A busy batch agent does not hold up the worker's other agents. While its queue is full, the
consumer does not wait for room (Faust's per-record delivery would, and with it every agent
of the worker: an auto-reply waited for a whole batch's fold). It takes the partitions only
the batch agent reads out of the next fetches (Faust's ``on_buffer_full``, as its own
per-record queues do under pressure), queues the batch it has beyond the bound, and returns
the other records to their agents at once. Records of partitions both kinds read keep coming
for the per-record agents; their batch share joins the batch already waiting, up to
``max_records``, and only past that does the consumer wait as before. The held partitions
are given back (``on_buffer_drop``) once the agent has room again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import faust
from faust.transport.conductor import Conductor
from faust.types import TP, Message
from faust.types.tuples import tp_set_to_map

from pipeline.runtime.faust_rewind import RewindingConsumer, RewindingTransport

#: Batches waiting for a batch agent (besides the one it works on). One keeps it busy; more
#: would only hold more records in memory: the fetch holds back what only the batch agent
#: reads while its queue is full (see above). With 4, before that, a full queue stopped the
#: fetch loop and the sender's crash-evidence agent behind a replaying engagement agent
#: missed a status for 45 s (the full-size SIGKILL fault test).
FETCH_BATCH_QUEUE = 1


@dataclass(slots=True)
class FetchedBatch:
    """One fetch's records of a :class:`FetchBatchTopic`'s topics, per topic-partition.

    ``parts`` keeps each partition's records in offset order; the records are aiokafka's
    (``key``/``value`` bytes, ``topic``, ``partition``, ``offset``, ``timestamp``).
    """

    generation_id: int
    parts: list[tuple[TP, list[Any]]] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(records) for _, records in self.parts)


class FetchBatchTopic(faust.Topic):
    """A topic whose agent receives :class:`FetchedBatch` values, not one event per record."""

    def __init__(self, *args: Any, max_records: int = 5000, **kwargs: Any) -> None:
        kwargs.setdefault("maxsize", FETCH_BATCH_QUEUE)
        super().__init__(*args, **kwargs)
        # A fetch can hold every partition's backlog; a batch past this is split so one
        # batch's work (and what a crash repeats) stays bounded.
        self.max_records = max_records

    def _clone_args(self) -> Mapping[str, Any]:
        return {**super()._clone_args(), "max_records": self.max_records}


def ack_fetched(app: faust.App, batch: FetchedBatch) -> bool:
    """Acknowledge every record of ``batch``: its offsets may now be committed.

    A batch of an earlier consumer generation is not acknowledged (after a rebalance Faust
    reads its partitions again from the committed offsets). Returns whether it was.
    """
    return cast(FetchBatchConsumer, app.consumer).ack_fetched(batch)


class FetchBatchConductor(Conductor):
    """Faust's conductor; records of a :class:`FetchBatchTopic` skip its per-record path.

    The batch topics still count for the subscription (``_update_indices``), so the group
    assigns their partitions, but they get no per-record handler: the consumer delivers their
    records to :attr:`fetch_batch_channels` a fetch at a time.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_batch_channels: dict[str, list[FetchBatchTopic]] = {}

    def _update_tp_index(self, assigned: set[TP]) -> None:
        assignmap = tp_set_to_map(assigned)
        tp_index = self._tp_index
        batch_channels: dict[str, list[FetchBatchTopic]] = {}
        for topic in self._topics:
            if isinstance(topic, FetchBatchTopic):
                for name in topic.topics:
                    batch_channels.setdefault(name, []).append(topic)
            elif topic.active_partitions is not None:
                for tp in topic.active_partitions:  # isolated partitions: as Faust does
                    tp_index[tp].add(topic)
            else:
                for name in topic.topics:
                    for tp in assignmap[name]:
                        tp_index[tp].add(topic)
        self.fetch_batch_channels = batch_channels

    def per_record(self, tp: TP) -> bool:
        """Whether an ordinary (per-record) channel reads ``tp``."""
        return bool(self._tp_index.get(tp))


class FetchBatchConsumer(RewindingConsumer):
    """Faust's consumer (as wapipe configures it) that also delivers fetch batches.

    A partition read both by a batch agent and by ordinary agents is committed only as far as
    all of them have finished. Faust counts a record's readers with the message's reference
    count (the streams' acknowledgements decrement it, and at zero its offset may be
    committed); the batch agent holds one more reference on each such message, dropped when
    it acknowledges the batch holding the record.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared: set[TP] = set()  # partitions read by a batch agent and per record
        self._batch_done: dict[TP, int] = {}  # shared partition → next offset not yet done
        self._referenced: dict[TP, list[Message]] = {}  # messages the batch agent holds
        # While a batch agent's queue is full: the partitions only it reads, out of the
        # fetch, and the batch queued past the bound that later records may join.
        self._held: dict[TP, FetchBatchTopic] = {}
        self._overflow: dict[int, Any] = {}  # id(channel) → the event queued past the bound

    async def _wait_next_records(
        self, timeout: float
    ) -> tuple[Mapping[TP, list[Any]] | None, set[TP] | None]:
        self._release_held()
        records, active = await super()._wait_next_records(timeout)
        conductor = self.app.topics
        if not records or not isinstance(conductor, FetchBatchConductor):
            return records, active
        channels = conductor.fetch_batch_channels
        if not channels or not any(tp.topic in channels for tp in records):
            return records, active
        rest = {
            tp: tp_records
            for tp, tp_records in records.items()
            if tp.topic not in channels or conductor.per_record(tp)
        }
        self._shared.update(tp for tp in rest if tp.topic in channels)
        if self.flow_active and not self.should_stop:
            await self._deliver_batches(records, active, channels, per_record=rest)
        # With the flow stopped the batches are dropped; Faust's getmany then seeks back to
        # the committed offsets (as it does with its own records), so they are read again.
        return rest, active

    async def _deliver_batches(
        self,
        records: Mapping[TP, list[Any]],
        active: set[TP] | None,
        channels: Mapping[str, list[FetchBatchTopic]],
        per_record: Mapping[TP, Any],
    ) -> None:
        generation = self.app.consumer_generation_id
        batches: dict[int, tuple[FetchBatchTopic, list[FetchedBatch]]] = {}
        for tp, tp_records in records.items():
            subscribers = channels.get(tp.topic)
            if not subscribers or not tp_records:
                continue
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                continue  # paused (its table is recovering) or revoked meanwhile
            # A partition an ordinary agent reads too keeps Faust's bookkeeping: its drain
            # loop, which follows, moves the read offset and records the gaps.
            fresh = await self._read_records(tp, tp_records, record_read=tp not in per_record)
            if not fresh:
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            for channel in subscribers:
                entry = batches.get(id(channel))
                if entry is None:
                    entry = batches[id(channel)] = (channel, [FetchedBatch(generation)])
                _append(entry[1], tp, fresh, channel.max_records)
        for channel, channel_batches in batches.values():
            for batch in channel_batches:
                if self._queue_past_bound(channel, batch, per_record):
                    continue
                event = self.app.create_event(None, batch, None, _batch_message(channel, batch))
                # The put waits while the agent's queue is full (back-pressure); a rebalance
                # interrupts it, like Faust's own per-record delivery.
                await self.wait_first(channel.put(event), self.suspend_flow.wait())
                if not self.flow_active:
                    return  # the rest is read again after the rebalance's seek

    def _queue_past_bound(
        self, channel: FetchBatchTopic, batch: FetchedBatch, per_record: Mapping[TP, Any]
    ) -> bool:
        """With ``channel``'s queue full, queue ``batch`` past the bound instead of waiting.

        A batch holding records only the batch agent reads is queued, and their partitions
        are held out of the next fetches: what is queued so is bounded by one fetch. A batch
        of shared partitions only (their records keep coming for the per-record agents) joins
        the one queued past the bound while the agent has not taken it, up to
        ``max_records``. False if the caller must wait for room: the queue has room (no
        wait), the shared records are past that bound, or no agent of the worker reads
        record by record."""
        queue = channel.queue  # Topic.put's queue: the agent's, this channel is its iterator
        if not queue.full():
            return False
        conductor = cast(FetchBatchConductor, self.app.topics)
        if not any(conductor._tp_index.values()):
            # No agent reads record by record: nobody to serve meanwhile, and with every
            # partition held Faust's fetch loop would sleep a second before asking again.
            return False
        # Faust's TP, not the fetch's aiokafka TopicPartition: on_buffer_drop puts it back
        # among the active partitions, which must all be Faust's.
        batch_only = [TP(tp.topic, tp.partition) for tp, _ in batch.parts if tp not in per_record]
        for tp in batch_only:
            # Out of the next fetches until the agent has room; again each time, in case
            # Faust made the partition active again meanwhile (it resets them on resume).
            self._held[tp] = channel
            self.on_buffer_full(tp)
        overflow = self._overflow.get(id(channel))
        if not batch_only and overflow is not None and any(q is overflow for q in _queued(queue)):
            waiting: FetchedBatch = overflow.value  # not taken yet: join it
            if (
                waiting.generation_id != batch.generation_id
                or len(waiting) + len(batch) > channel.max_records
            ):
                return False
            waiting.parts.extend(batch.parts)
            return True
        event = self.app.create_event(None, batch, None, _batch_message(channel, batch))
        queue.force_put_nowait(event)
        self._overflow[id(channel)] = event
        return True

    def _release_held(self) -> None:
        """Give the held partitions back to the fetch once their agent has room again."""
        for tp, channel in list(self._held.items()):
            if not channel.queue.full():
                del self._held[tp]
                self._give_back(tp)

    def _give_back(self, tp: TP) -> None:
        if tp in self._paused_partitions:  # a table recovering: Faust resumes it itself
            self._buffered_partitions.discard(tp)
        else:
            self.on_buffer_drop(tp)

    async def _read_records(self, tp: TP, tp_records: list[Any], *, record_read: bool) -> list[Any]:
        """The records not yet read (Faust's read offset); with ``record_read`` also record
        the gaps and the new read offset."""
        read = self._read_offset[tp]
        fresh = tp_records
        if read is not None and tp_records[0].offset < read:
            fresh = [r for r in tp_records if r.offset >= read]  # read again after a seek
        if not fresh or not record_read:
            return fresh
        first, last = fresh[0].offset, fresh[-1].offset
        gapless = last - first + 1 == len(fresh) and (read is None or first - read <= 1)
        if not gapless and self.app.topics.acks_enabled_for(tp.topic):
            previous = read
            for record in fresh:  # compaction or transaction markers: as Faust's drain loop
                if previous is not None and record.offset - previous > 1:
                    await self._add_gap(tp, previous + 1, record.offset)
                previous = record.offset
        self._read_offset[tp] = last
        return fresh

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        async for tp, message in super().getmany(timeout):
            if tp in self._shared and message.offset >= self._batch_done.get(tp, -1):
                message.incref()  # the batch agent's reference, dropped by ack_fetched
                self._referenced.setdefault(tp, []).append(message)
            yield tp, message

    async def perform_seek(self) -> None:
        # Everything after the committed offsets is read (and acknowledged) again.
        self._referenced.clear()
        self._batch_done.clear()
        assigned = self.assignment()
        for tp in self._held:
            if tp in assigned:
                self._give_back(tp)
            else:
                self._buffered_partitions.discard(tp)
        self._held.clear()
        self._overflow.clear()
        await super().perform_seek()

    def ack_fetched(self, batch: FetchedBatch) -> bool:
        if batch.generation_id != self.app.consumer_generation_id:
            return False
        acks_enabled_for = self.app.topics.acks_enabled_for
        for tp, records in batch.parts:
            if not acks_enabled_for(tp.topic):
                continue
            if tp in self._shared:
                self._release(tp, records[-1].offset + 1)
                continue
            committed = self._committed_offset[tp]
            acked_index = self._acked_index[tp]
            new = [
                r.offset
                for r in records
                if (committed is None or r.offset >= committed) and r.offset not in acked_index
            ]
            acked_index.update(new)
            self._acked[tp].extend(new)
            self._n_acked += len(new)
        return True

    def _release(self, tp: TP, done: int) -> None:
        """The batch agent finished ``tp`` below ``done``: drop its references there."""
        self._batch_done[tp] = max(done, self._batch_done.get(tp, done))
        referenced = self._referenced.get(tp)
        if not referenced:
            return
        waiting = []
        for message in referenced:
            if message.offset < done:
                message.ack(self)  # the last reference: its offset may be committed
            else:
                waiting.append(message)
        self._referenced[tp] = waiting


def _queued(queue: Any) -> Any:
    """The events waiting in an asyncio queue (its deque)."""
    return queue._queue


def _append(batches: list[FetchedBatch], tp: TP, records: list[Any], max_records: int) -> None:
    """Add a partition's records to the last batch, starting new ones at ``max_records``."""
    start = 0
    while start < len(records):
        last = batches[-1]
        room = max_records - len(last)
        if room <= 0:
            last = FetchedBatch(last.generation_id)
            batches.append(last)
            room = max_records
        last.parts.append((tp, records[start : start + room]))
        start += room


def _batch_message(channel: FetchBatchTopic, batch: FetchedBatch) -> Message:
    # The event's message is the batch's envelope: a name no acking topic has (so the stream
    # does not track or acknowledge it as a record) and the generation it was fetched in (so
    # the stream skips it after a rebalance).
    name = f"fetch-batch:{'+'.join(channel.topics)}"
    return Message(
        name,
        0,
        batch.parts[0][1][-1].offset,
        0.0,
        0,
        None,
        None,
        None,
        None,
        tp=TP(name, 0),
        generation_id=batch.generation_id,
    )


class FetchBatchTransport(RewindingTransport):
    """wapipe's transport, with batch delivery for :class:`FetchBatchTopic` agents."""

    Consumer: ClassVar[Any] = FetchBatchConsumer
    Conductor: ClassVar[Any] = FetchBatchConductor


__all__ = [
    "FETCH_BATCH_QUEUE",
    "FetchBatchConductor",
    "FetchBatchConsumer",
    "FetchBatchTopic",
    "FetchBatchTransport",
    "FetchedBatch",
    "ack_fetched",
]
