"""A worker stops fetching what it never reads: its own tables' changelogs and the leader topic.

After a rebalance Faust reads each active table's changelog back into the table, then "pauses"
those partitions, which only means its drain loop stops handing out their records. aiokafka,
which does the fetching in Faust's consumer thread, is never told. It names every assigned
partition that has nothing buffered in every fetch request, so:

* a changelog partition that gets records has them fetched once and held in aiokafka's buffer
  (up to ``max_partition_fetch_bytes`` each) until the next rebalance;
* an empty one (a table nobody has written yet) is named in every fetch, for as long as the
  worker runs, and so is ``<app>-__assignor-__leader``, a topic Faust subscribes only so that
  its assignment elects a leader (``LeaderAssignor.is_leader`` reads the assignment).

On the embedded broker every partition named costs CPU on both sides (docs/benchmarks.md,
"Where the two cores go at 200/s"). An idle worker with every role and 12 partitions named
97 of them in each fetch of its Faust consumer (8 tables × 12 partitions and the leader's).

Once recovery has completed (Faust's ``on_rebalance_complete``, sent before it resumes the
stream partitions), they are paused in aiokafka itself, in the consumer thread that owns it.
Standby partitions (replicas of tables active on other workers) are left alone: Faust applies
them as they come. A table whose ``recovery_buffer_size`` is 1 is left alone too: Faust
resumes its active partitions on purpose. The next rebalance gives aiokafka a new assignment,
unpaused, and recovery reads the changelogs again before this runs again.

A price paid for it: aiokafka's fetcher adds each paused partition's resume future to the
``asyncio.wait`` of every loop of its routine, a few microseconds per partition per fetch
(~100 partitions in a worker with every role at 12 partitions). Measured, the idle worker
still saved ~2.5 points of a core, and the engagement bench (13 partitions paused) moved
within the VM's drift (54 and 69 µs per event before, 55 and 73 after, interleaved).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import faust
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

log = structlog.get_logger(__name__)


def unread_partitions(
    *,
    active: Iterable[TP],
    standby: Iterable[TP],
    recovery_buffer_size: Mapping[TP, int],
    assignment: Iterable[TP],
    leader_topic: str,
) -> set[TopicPartition]:
    """The assigned partitions a worker never needs to fetch once recovery is done: the
    changelogs of its active tables (not standbys, not a table Faust keeps resumed on purpose
    with a recovery buffer of 1) and the leader topic."""
    standbys = set(standby)
    owned = {tp for tp in active if tp not in standbys and recovery_buffer_size.get(tp) != 1}
    owned |= {tp for tp in assignment if tp.topic == leader_topic}
    return {TopicPartition(tp.topic, tp.partition) for tp in owned}


def unread_partitions_of(app: faust.App) -> set[TopicPartition]:
    recovery: Any = app.tables.recovery  # type: ignore[attr-defined]
    return unread_partitions(
        active=recovery.active_tps,
        standby=recovery.standby_tps,
        recovery_buffer_size={
            tp: table.recovery_buffer_size for tp, table in recovery.tp_to_table.items()
        },
        assignment=app.consumer.assignment(),
        leader_topic=app._leader_assignor._leader_topic_name,  # type: ignore[attr-defined]
    )


def pause_unread_after_recovery(app: faust.App) -> None:
    """Connect the pause to ``app.on_rebalance_complete``."""

    async def pause_unread(sender: Any, /, *args: Any, **kwargs: Any) -> None:
        unread = unread_partitions_of(app)
        thread = getattr(app.consumer, "_thread", None)
        if not unread or thread is None:
            return
        paused = await thread.call_thread(_pause, thread._ensure_consumer(), unread)
        log.info(
            "consumer.unread_paused",
            partitions=len(paused),
            topics=sorted({tp.topic for tp in paused}),
        )

    app.on_rebalance_complete.connect(pause_unread)


async def _pause(
    consumer: AIOKafkaConsumer, partitions: set[TopicPartition]
) -> set[TopicPartition]:
    """aiokafka's paused partitions after pausing ``partitions``."""
    # Runs in the consumer's thread: aiokafka's pause creates the future its fetcher waits on.
    # A partition revoked meanwhile is not in the assignment any more and is skipped.
    assigned = partitions & set(consumer.assignment())
    consumer.pause(*assigned)
    return set(consumer.paused())


__all__ = ["pause_unread_after_recovery", "unread_partitions", "unread_partitions_of"]
