"""What one batch of an agent writes: table values and output records, sent per partition.

Faust sends every table write (its changelog record) and every ``send_soon`` as its own
message: a future, a trip through the producer buffer, a key hash, an ``aiokafka`` append.
Measured in issue 6's benchmark, that per-message path cost more than the whole fold. A
:class:`BatchOutput` collects a batch's records and hands them to aiokafka as one
``BatchBuilder`` per topic-partition (``send_batch``):

* a table value goes to the table's store directly and its changelog record into the batch
  (one per key per batch: callers write each key once);
* the partition is the caller's: for co-partitioned, customer-keyed topics the key's source
  partition *is* its partition in the changelog and the output topic (murmur2, design.md
  §3a), so nothing is hashed again;
* :meth:`flush` is awaited at the end of the batch, before Faust acks it. State before
  outputs: it sends the changelog records, waits for the broker's acks, then sends the
  output records (TagChanges) and waits for theirs. A value that changed tags remembers
  that change and the input that made it, so after a SIGKILL in between the restarted
  worker publishes the change again from the recovered value (same ids) if that input was
  not committed (docs/agents.md, "State before changes"). The reverse order could publish a
  change whose state was then lost, and a refold with other batch boundaries would publish
  a different one. Records of one kind are sent in the order they were added, under one
  lock. One round trip per kind per batch, not per record.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from functools import partial
from typing import Any

import faust
from faust.serializers import codecs

from pipeline.errors import ConfigError


class BatchOutput:
    def __init__(self, app: faust.App, *, partitions: int) -> None:
        self.app = app
        self.partitions = partitions
        self._outputs: dict[tuple[str, int], list[tuple[bytes, bytes]]] = defaultdict(list)
        self._changelog: dict[tuple[str, int], list[tuple[bytes, bytes]]] = defaultdict(list)
        self._checked: set[str] = set()
        self._tables: dict[str, tuple[str, Any]] = {}  # table name → (changelog topic, dumps)
        self._lock = asyncio.Lock()
        self.records = 0  # sent so far, for benchmarks
        self.batches = 0

    def put(self, table: Any, key: str, value: Any, *, partition: int) -> None:
        """``table[key] = value`` with its changelog record sent at the next :meth:`flush`."""
        table.data[key] = value  # the store, without Faust's per-key changelog send
        # The table's changelog topic and value codec, looked up once per batch, not per key.
        found = self._tables.get(table.name)
        if found is None:
            serializer = table.value_serializer
            dumps = (
                codecs.get_codec(serializer).dumps if serializer else partial(codecs.dumps, None)
            )
            found = (table.changelog_topic.get_topic_name(), dumps)
            self._tables[table.name] = found
        topic, dumps = found
        self._changelog[(topic, partition)].append((key.encode("utf-8"), dumps(value)))

    def add(self, topic: str, key: str, value: bytes, *, partition: int) -> None:
        """An output record (already encoded), sent at the next :meth:`flush`."""
        self._outputs[(topic, partition)].append((key.encode("utf-8"), value))

    async def flush(self) -> None:
        """Send the changelog records and wait for their acks, then the outputs, likewise."""
        async with self._lock:
            self._tables.clear()  # a table's changelog topic is rebuilt on start-up
            outputs, self._outputs = self._outputs, defaultdict(list)
            changelog, self._changelog = self._changelog, defaultdict(list)
            if not outputs and not changelog:
                return
            producer = self.app.producer._ensure_producer()  # type: ignore[attr-defined]
            for topic in {t for t, _ in (*outputs, *changelog)} - self._checked:
                await self._check_partitions(producer, topic)
            for pending in (changelog, outputs):
                acks = await self._send(producer, pending)
                if acks:
                    await asyncio.gather(*acks)

    async def _send(
        self, producer: Any, pending: dict[tuple[str, int], list[tuple[bytes, bytes]]]
    ) -> list[asyncio.Future[Any]]:
        """One aiokafka batch per topic-partition (more if one fills); their ack futures."""
        acks: list[asyncio.Future[Any]] = []
        for (topic, partition), records in pending.items():
            batch = producer.create_batch()
            for key, value in records:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    acks.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            acks.append(await producer.send_batch(batch, topic, partition=partition))
            self.records += len(records)
        self.batches += len(acks)
        return acks

    async def _check_partitions(self, producer: Any, topic: str) -> None:
        # Records go to the key's source partition: only right if the topic has as many.
        await producer.client._wait_on_metadata(topic)
        found = producer.client.cluster.partitions_for_topic(topic) or set()
        if len(found) != self.partitions:
            raise ConfigError(
                f"topic {topic} has {len(found)} partitions, its inputs "
                f"WAPIPE_KAFKA_PARTITIONS={self.partitions}: co-partitioned topics need the "
                "same count; recreate the topic with that many partitions"
            )
        self._checked.add(topic)


__all__ = ["BatchOutput"]
