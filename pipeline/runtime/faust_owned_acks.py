"""Topics whose agent acknowledges each event itself ("owned"): no event is lost to Faust.

An agent with manual acks (the sender: ``stream.noack()``) acknowledges an event once its work
is done, and the committed offset must never pass an event the agent has not finished, or
never seen. Faust loses events of such a topic in three ways; the first was caught in the
sender's SIGKILL test (issue 5: one command of 1,500 without a SendResult, 1 run in 5):

* **A seek while a batch is delivered.** A restarted worker's agent consumes while its tables
  recover; when recovery ends Faust seeks every partition back to its committed offset
  (``perform_seek``) and resumes the flow, which empties the agents' queues. Its fetch loop
  meanwhile goes on delivering the batch fetched before the seek and sets its read offset
  after each record, past the seek, so the fetch from the committed offset skips what the
  queues lost. Traced: the seek to 490 landed while 508 was queued, 509–516 followed from the
  old batch, the refetch skipped 490–516, and 508 never reached the agent.
* **An off-by-one gap test.** Faust commits "the acknowledged offsets up to the first gap", but
  ``Consumer._new_offset`` sees a gap only when ``min(acked) - committed > 1``: committed 508
  and 509… acknowledged, it committed 1047. Before a partition's first commit (and between a
  revocation and the next seek) it checks no gap at all.
* **Acks the agent never gave.** An event that reaches a stream while a rebalance suspends the
  flow, or fetched in an earlier generation, is skipped by the stream *and acknowledged*
  ("otherwise the lag would increase"): its offset counts as done.

For an owned topic :class:`OwnedAcksConsumer` drops the rest of a batch fetched before a seek
and puts the read offset back where the seek left it (the refetch delivers every record from
the committed offset again; the owner drops copies it has), counts only the acknowledgements
given through :meth:`OwnedAcksConsumer.ack_owned`, and commits only a run of them that starts
at the committed offset. Other topics keep Faust's behaviour.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message


def committable_offset(committed: int | None, acked: list[int]) -> tuple[int | None, list[int]]:
    """The offset to commit and the acknowledged offsets left after it; pure.

    Only the run of consecutive acknowledged offsets starting exactly at ``committed`` (the next
    offset to read) may be committed; offsets below ``committed`` are stale copies and dropped.
    With ``committed`` unknown nothing is committed.
    """
    if committed is None:
        return None, acked
    pending = sorted({o for o in acked if o >= committed})
    run_end = committed
    for offset in pending:
        if offset != run_end:
            break
        run_end += 1
    if run_end == committed:
        return None, pending
    return run_end, [o for o in pending if o >= run_end]


class OwnedAcksConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, strict for the topics named with :meth:`own`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owned_topics: set[str] = set()
        self._owned_seeks = 0  # perform_seek calls so far: a batch fetched before one is stale
        self._owned_sought: dict[TP, int | None] = {}  # owned partitions' read offsets at the seek
        # Where reading started in a partition without a committed offset (never committed,
        # or at 0, which Faust does not record): the first record fetched since the seek.
        self._owned_run_start: dict[TP, int] = {}

    def own(self, topics: Iterable[str]) -> None:
        """From now on only :meth:`ack_owned` acknowledges events of ``topics``."""
        self._owned_topics.update(topics)

    def ack_owned(self, message: Message) -> bool:
        """The owner's acknowledgement: the event's work is done."""
        return bool(super().ack(message))

    def ack(self, message: Message) -> bool:
        if message.topic in self._owned_topics:
            return False  # a stream's own ack (a skipped event): the owner has not seen it
        return bool(super().ack(message))

    def _new_offset(self, tp: TP) -> int | None:
        if tp.topic not in self._owned_topics:
            return super()._new_offset(tp)
        committed = self._committed_offset[tp]
        if committed is None:
            committed = self._owned_run_start.get(tp)
        offset, left = committable_offset(committed, self._acked[tp])
        if offset is not None:
            self._acked[tp][:] = left
            self._acked_index[tp].intersection_update(left)
        return offset

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        seeks: int | None = None
        async for tp, message in super().getmany(timeout):
            if seeks is None:
                # The batch is in hand from its first record (Faust's wait for records may
                # span a seek, and what it returns after one was fetched after it).
                seeks = self._owned_seeks
            if tp.topic in self._owned_topics:
                if self._owned_seeks != seeks:
                    self._read_from_seek()
                    continue  # fetched before the seek, which fetches it again
                if self._committed_offset[tp] is None:
                    self._owned_run_start.setdefault(tp, message.offset)
            yield tp, message
        if seeks is not None and self._owned_seeks != seeks:
            self._read_from_seek()

    def _read_from_seek(self) -> None:
        # The fetch loop sets the read offset after each record it delivers, so a record
        # delivered while perform_seek ran put it back past the seek; records queued for the
        # agent are dropped when the flow resumes. From the sought offset every one of them
        # is delivered again (the owner drops the copies it has).
        self._read_offset.update(self._owned_sought)

    async def perform_seek(self) -> None:
        await super().perform_seek()
        # At the end of a recovery Faust seeks every partition back to its committed offset,
        # while its fetch loop may be delivering a batch fetched before (the agent consumes
        # during table recovery): the rest of that batch would be delivered and move the read
        # offset past records the agent never got, and the fetch from the committed offset
        # would then skip them (seen in the sender's SIGKILL test: one command never seen).
        self._owned_sought = {
            tp: self._read_offset.get(tp)
            for tp in self.assignment()
            if tp.topic in self._owned_topics
        }
        self._owned_run_start.clear()
        self._owned_seeks += 1
