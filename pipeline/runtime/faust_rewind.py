"""Rewinding a partition that has no committed offset to where the group starts it.

Faust rewinds its stream partitions with "seek to committed offsets" after each rebalance's
table recovery, and whenever its fetcher hands back records while the flow is stopped (it
drops them and seeks back). aiokafka's ``seek_to_committed`` moves only partitions with a
committed offset above 0 and leaves the others where the fetcher stopped, so records Faust
fetched and dropped there are never read again: no agent sees them, none acknowledges them,
and the partition is never committed.

Measured in issue 6's SIGKILL determinism test (3 stalls in 11 runs before this, the same
pattern each time): the killed worker had not yet committed the partitions that first got
records in the phase it was killed in (``commerce.purchases.v1``, ``customer.consent.v1``,
some of ``wa.inbound.v1``). While its successor rebuilt its tables, the fetcher read those
partitions to their end (position 13 of 13, nothing delivered); the seek after recovery left
them there. The successor then sat idle with those partitions uncommitted for good, and their
events never reached the engagement agent.

:class:`RewindingConsumerThread` seeks such a partition to its reset position
(``consumer_auto_offset_reset``; wapipe's is ``earliest``, the beginning), which is where the
group would start it anyway: what was fetched and dropped is read again, and the agents'
idempotent folds absorb anything read twice. Changelog partitions are left alone: recovery
seeks them itself.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

import aiokafka
import structlog
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from pipeline.runtime.faust_fetch_wait import (
    FetchWaitConsumer,
    FetchWaitConsumerThread,
    FetchWaitTransport,
)

log = structlog.get_logger(__name__)


async def seek_to_committed_or_reset(
    consumer: aiokafka.AIOKafkaConsumer, *, skip_topics: Collection[str], reset: str
) -> Mapping[Any, int | None]:
    """Seek every assigned partition to its committed offset, and one without (or at 0) to
    ``reset`` ("earliest" or "latest"); return the committed offsets (None: never committed).
    """
    committed: Mapping[Any, int | None] = await consumer.seek_to_committed()
    # aiokafka seeks only "offset and offset > 0": the rest stay where the fetcher left them.
    unset = [tp for tp, offset in committed.items() if not offset and tp.topic not in skip_topics]
    if unset:
        if reset == "latest":
            await consumer.seek_to_end(*unset)
        else:
            await consumer.seek_to_beginning(*unset)
        log.debug("seek.uncommitted_reset", partitions=len(unset), reset=reset)
    return committed


class RewindingConsumerThread(FetchWaitConsumerThread):
    async def seek_to_committed(self) -> Mapping[TP, int]:
        result: Mapping[TP, int] = await self.call_thread(self._seek_to_committed_or_reset)
        return result

    async def _seek_to_committed_or_reset(self) -> Mapping[Any, int | None]:
        return await seek_to_committed_or_reset(
            self._ensure_consumer(),
            skip_topics=self.app.tables.changelog_topics,
            reset=self.app.conf.consumer_auto_offset_reset,
        )


class RewindingConsumer(FetchWaitConsumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return RewindingConsumerThread(self, loop=self.loop, beacon=self.beacon)


class RewindingTransport(FetchWaitTransport):
    """:class:`FetchWaitTransport` whose seeks also rewind partitions never committed."""

    Consumer: ClassVar[Any] = RewindingConsumer


__all__ = [
    "RewindingConsumer",
    "RewindingConsumerThread",
    "RewindingTransport",
    "seek_to_committed_or_reset",
]
