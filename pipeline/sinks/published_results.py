"""Which commands already have a SendResult on the results topic: asked after a crash.

The done mark (ledger changelog) and the SendResult (``wa.outbound.results.v1``) are two
records on two topics; a SIGKILL can land after the broker has one and before the other. When
the result made it and the done mark did not, the restarted sender finds the command
``in_flight`` and, without this check, would publish a second SendResult for it. The results
topic is the truth for "this command has its result": before settling an in-flight command
the sender reads the topic's tail (every partition, from shortly before the command's in-flight
mark to the end as of that moment) once, and drops every command found there.

One read serves every crash resolution of a restart: the results in question were produced by
the dead worker, before this one started, so they are all below the end offsets read here.
"""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.schemas.codec import AvroEventCodec
from pipeline.topics import RESULTS

log = structlog.get_logger(__name__)

#: Read from this long before the earliest in-flight mark asked about (clock skew, batching).
MARGIN_MS = 60_000


class PublishedResults:
    def __init__(self, *, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._read_from_ms: int | None = None
        self._ids: set[str] = set()
        self._lock = asyncio.Lock()

    async def published(self, command_id: str, *, since_ms: int) -> bool:
        """Whether a SendResult for ``command_id`` was produced at or after ``since_ms``."""
        async with self._lock:
            if self._read_from_ms is None or since_ms - MARGIN_MS < self._read_from_ms:
                self._read_from_ms = since_ms - MARGIN_MS
                self._ids = await self._read_tail(self._read_from_ms)
        return command_id in self._ids

    async def _read_tail(self, from_ms: int) -> set[str]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(RESULTS.name)
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(RESULTS.name) or set()
            tps = [TopicPartition(RESULTS.name, p) for p in sorted(partitions)]
            if not tps:
                return set()
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            starts = await consumer.offsets_for_times(dict.fromkeys(tps, max(0, from_ms)))
            pending = set()
            for tp in tps:
                start = starts.get(tp)
                if start is not None and start.offset < ends[tp]:
                    consumer.seek(tp, start.offset)
                    pending.add(tp)
            codec = AvroEventCodec()
            ids: set[str] = set()
            while pending:
                batches = await consumer.getmany(*pending, timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        if record.value is not None:
                            ids.add(codec.decode(record.value).command_id)
                for tp in list(pending):
                    # Past the end and a fetch with nothing new: Tansu can report an end offset
                    # short of the last batch (pipeline/runtime/faust_end_offsets.py).
                    if not batches.get(tp) and await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
            log.info("sender.results_tail_read", results=len(ids), from_ms=from_ms)
            return ids
        finally:
            await consumer.stop()
