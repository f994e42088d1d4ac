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

The seek is also made atomic. Faust seeks right after it resumes the stream partitions, with
its fetcher still running: records fetched from the old positions are delivered while the
seek runs, each moves the partition's "read offset" (Faust drops any later record below it),
and the queue clear that follows the seek discards some of them. Measured (same test, after
the rewind above): a restarted worker re-read ``wa.status.v1`` partition 1 from 18, the seek
moved it back to 18 while deliveries went on to 40, the re-fetched 31-34 were dropped as
"already read", their first copies were cleared from a queue, and 35-40 were acknowledged:
offsets 31-34 were never acknowledged, so the partition's commit stayed at 31 for good.
:class:`RewindingConsumer` stops the flow before it seeks (every caller resumes it after),
and when the flow resumes it puts back the read offsets the seek set, undoing any delivery
that finished after the seek.
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
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._seek_read_offsets: dict[TP, int | None] = {}  # set by the last seek
        super().__init__(*args, **kwargs)

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return RewindingConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        # Faust's callers (table recovery, a fetch that returned while the flow was stopped)
        # resume the flow after the seek; until then nothing is fetched or delivered.
        self.stop_flow()
        await super().perform_seek()
        self._seek_read_offsets = {tp: self._read_offset[tp] for tp in self.assignment()}

    def resume_flow(self) -> None:
        # A delivery abandoned when the flow stopped still records its offset as read; the
        # seek's read offsets win, or the re-fetched records below it would be dropped.
        sought, self._seek_read_offsets = self._seek_read_offsets, {}
        self._read_offset.update(sought)
        super().resume_flow()


class RewindingTransport(FetchWaitTransport):
    """:class:`FetchWaitTransport` whose seeks also rewind partitions never committed."""

    Consumer: ClassVar[Any] = RewindingConsumer


__all__ = [
    "RewindingConsumer",
    "RewindingConsumerThread",
    "RewindingTransport",
    "seek_to_committed_or_reset",
]
