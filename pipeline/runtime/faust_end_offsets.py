"""A Faust transport whose end offsets are the real ends of partitions, on Tansu too.

Faust rebuilds a table by reading its changelog up to the "highwater" that
``consumer.end_offsets`` (a ListOffsets request) returns, and stops there. Tansu 0.6.0
answers ListOffsets with the base offset of the last stored batch + 1, so when the last
changelog batch held several records Faust stopped early and the rest of that batch never
reached the table: a worker restarted after SIGKILL came back with a count short (measured,
tests/broker/test_faust_worker.py; issue 2). The Fetch response's high watermark is right,
so this transport confirms each listed end by fetching the batch that starts just below it.
On a broker whose ListOffsets is right the fetch finds nothing new: one extra short-lived
connection per rebalance, no other cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar, cast

import aiokafka
import structlog
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = structlog.get_logger(__name__)

PROBE_TIMEOUT_S = 10.0


async def fetched_end_offsets(
    bootstrap_servers: list[str], listed: Mapping[TP, int], *, timeout_s: float = PROBE_TIMEOUT_S
) -> dict[TP, int]:
    """``listed`` end offsets raised to the high watermark a Fetch response reports."""
    ends = dict(listed)
    probed = {tp: end for tp, end in listed.items() if end is not None and end > 0}
    if not probed:
        return ends
    probe = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False
    )
    await probe.start()
    try:
        probe.assign([aiokafka.TopicPartition(tp.topic, tp.partition) for tp in probed])
        for tp, end in probed.items():
            # The listed end is at least "last batch base + 1": the fetch from end - 1 returns
            # the last batch and, with it, the real high watermark.
            probe.seek(aiokafka.TopicPartition(tp.topic, tp.partition), end - 1)
        pending = set(probed)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while pending and loop.time() < deadline:
            await probe.getmany(timeout_ms=200)
            for tp in list(pending):
                high = probe.highwater(aiokafka.TopicPartition(tp.topic, tp.partition))
                if high is not None:
                    ends[tp] = max(ends[tp], high)
                    pending.discard(tp)
        if pending:
            log.warning("end_offsets.unconfirmed", partitions=len(pending), timeout_s=timeout_s)
    finally:
        await probe.stop()
    return ends


class EndOffsetsConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        listed = await super()._highwaters(partitions)
        if self.consumer.in_transaction:
            return listed  # last stable offsets come from fetches already
        transport = cast(faust_aiokafka.Transport, self.transport)
        servers = faust_aiokafka.server_list(transport.url, transport.default_port)
        return await fetched_end_offsets(servers, listed)


class EndOffsetsConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return EndOffsetsConsumerThread(self, loop=self.loop, beacon=self.beacon)


class EndOffsetsTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport with :class:`EndOffsetsConsumer`."""

    Consumer: ClassVar[Any] = EndOffsetsConsumer
