"""Small views every sender keeps of a whole topic: opt-outs and paused campaigns.

Every sender must see every opt-out (a queued marketing command to a customer who just wrote
STOP is skipped) and every campaign pause, whichever worker consumed the event. A Faust
GlobalTable does this when one app's agents write it; here the writers are other roles
(auto-replies, ingestion, the reply-rate breaker) that may run in other processes or consumer
groups, so the views read their source topics directly: one consumer with no group, assigned
every partition of both topics, from the beginning, then live. The source topics are small
(one record per change) and the fold is last-writer-wins per key, so replay at start-up is
cheap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import mode
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.events import CampaignControl, ConsentChange
from pipeline.schemas.codec import AvroEventCodec
from pipeline.topics import CAMPAIGNS, CONSENT, TopicSpec

log = structlog.get_logger(__name__)


class ConsentView:
    """customer → opted out? Latest change by event time; ties go to the opt-out."""

    def __init__(self) -> None:
        self._latest: dict[str, tuple[int, bool]] = {}

    def apply(self, change: ConsentChange) -> None:
        if change.consent not in ("opted_out", "opted_in"):
            return
        new = (change.ts_ms, change.consent == "opted_out")
        old = self._latest.get(change.customer)
        if old is None or new >= old:
            self._latest[change.customer] = new

    def opted_out(self, customer: str) -> bool:
        latest = self._latest.get(customer)
        return latest is not None and latest[1]


class CampaignPauses:
    """campaign_id → paused? ``pause`` pauses, ``resume`` and ``launch`` un-pause."""

    def __init__(self) -> None:
        self._paused: dict[str, bool] = {}

    def apply(self, control: CampaignControl) -> None:
        if control.action == "pause":
            self._paused[control.campaign_id] = True
        elif control.action in ("resume", "launch"):
            self._paused[control.campaign_id] = False

    def paused(self, campaign_id: str | None) -> bool:
        return campaign_id is not None and self._paused.get(campaign_id, False)


class TopicReplica(mode.Service):
    """Feeds each followed topic's ``apply`` with every record of it, all partitions, forever.

    One consumer follows every topic: each consumer polls the broker once per fetch wait even
    when nothing changes (Tansu holds every empty fetch to the end of that wait), so one
    consumer per topic doubled the fetch requests. Measured, the idle worker's CPU did not
    move (55.5 → 54.0 ms/s, docs/benchmarks.md, "Auto-reply latency"): aiokafka's cost of an
    empty fetch grows with the partitions it names more than with the requests.
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        follows: Mapping[TopicSpec, Callable[[Any], None]],
        fetch_max_wait_ms: int = 50,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._bootstrap = bootstrap
        self._apply = {spec.name: apply for spec, apply in follows.items()}
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._codec = AvroEventCodec()
        self.caught_up = asyncio.Event()

    @mode.Service.task
    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            # An opt-out must reach the senders in well under a second (design.md §10).
            fetch_max_wait_ms=self._fetch_max_wait_ms,
        )
        await consumer.start()
        try:
            tps = await _all_partitions(consumer, sorted(self._apply))
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, 0)
            ends = await consumer.end_offsets(tps)
            while not self.should_stop:
                batches = await consumer.getmany(timeout_ms=200)
                for tp, records in batches.items():
                    apply = self._apply[tp.topic]
                    for record in records:
                        self._apply_bytes(record.value, apply, tp.topic)
                if not self.caught_up.is_set() and all(
                    await asyncio.gather(*(_reached(consumer, tp, ends[tp]) for tp in tps))
                ):
                    self.caught_up.set()
        finally:
            await consumer.stop()

    def _apply_bytes(self, raw: bytes | None, apply: Callable[[Any], None], topic: str) -> None:
        if raw is None:
            return
        try:
            apply(self._codec.decode(raw))
        except Exception:  # a bad record is the producer's bug; the view must keep going
            log.warning("replica.bad_record", topic=topic)


async def _all_partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    """Every partition of ``topics``, once the broker's metadata names them all."""
    while True:
        found = {topic: consumer.partitions_for_topic(topic) for topic in topics}
        if all(found.values()):
            return [TopicPartition(t, p) for t in topics for p in sorted(found[t] or ())]
        await asyncio.sleep(0.2)
        await consumer._client.force_metadata_update()


async def _reached(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int) -> bool:
    return await consumer.position(tp) >= end


def sender_replica(bootstrap: str, consent: ConsentView, pauses: CampaignPauses) -> TopicReplica:
    """The opt-outs and campaign pauses every sender keeps, through one consumer."""
    return TopicReplica(
        bootstrap=bootstrap,
        follows={
            CONSENT: _typed(ConsentChange, consent.apply),
            CAMPAIGNS: _typed(CampaignControl, pauses.apply),
        },
    )


def _typed(cls: type, apply: Callable[[Any], None]) -> Callable[[Any], None]:
    def checked(event: Any) -> None:
        if isinstance(event, cls):
            apply(event)

    return checked
