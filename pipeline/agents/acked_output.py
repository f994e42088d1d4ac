"""Outputs before state: what a batch publishes is on the broker before the table writes that
remember it, and both are before Faust acks the batch.

``Topic.send_soon`` and ``table[key] = value`` queue their records in Faust's producer
buffer, which sends different keys concurrently (pipeline/runtime/faust_producer.py), and the
commit that follows flushes only what already reached aiokafka. A worker SIGKILLed in between
could leave a table value that says "published" on the broker while the records it published
never got there: the restarted worker recovered the value, took the redelivered events for
already applied, and never sent the records again (issue 6: a reply-rate alarm missing after a
SIGKILL because some of its delivered facts were lost). Awaiting the broker's acks in this
order, a crash can only repeat a batch's records (redelivery, which their consumers
tolerate), never lose them.

The agents that use this (reply_rate, sla) publish a few records per batch; the extra round
trip per batch is the price of their outputs being exact after a crash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import faust


async def publish_acked(topic: faust.TopicT, records: Iterable[tuple[str, Any]]) -> None:
    """Send ``(key, value)`` records in order; return once the broker has every one."""
    # force: publish now even if stream_publish_on_commit is set (an attachment is only sent
    # at commit, which waits for this batch: awaiting it here would never end).
    acks = [await topic.send(key=key, value=value, force=True) for key, value in records]
    if acks:
        await asyncio.gather(*acks)


async def store_acked(table: Any, values: Mapping[str, Any]) -> None:
    """``table[key] = value`` for each item; return once the broker has every changelog record.

    The records take the table's serializers (what recovery decodes) and the producer's
    partitioner, as Faust's own write does for a table declared with ``use_partitioner``.
    """
    changelog = table.changelog_topic
    acks = []
    for key, value in values.items():
        table.data[key] = value  # the store; the changelog record is sent here, acknowledged
        acks.append(
            await changelog.send(
                key=key,
                value=value,
                key_serializer=table.key_serializer,
                value_serializer=table.value_serializer,
                force=True,
            )
        )
    if acks:
        await asyncio.gather(*acks)


__all__ = ["publish_acked", "store_acked"]
