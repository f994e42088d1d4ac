"""Role ``sla``: a customer waiting too long for a business reply raises a red alarm.

    wa.inbound.v1 (customer wrote) ┐
    wa.outbound.results.v1 (reply) ├─► watch_conversations ─► table sla-conversations
    customer.tags.v1 (value, vip)  ┘                        └─► alarms.v1 (sla_unanswered)
    <app>-sweep-ticks ─────────────► sweep_conversations ───┘  (time passes: fire when due)

All customer-keyed and co-partitioned. An alarm's id is ``sla_unanswered:<customer>``; its
priority is set for high-value customers (value:high, vip) so ``wapipe alarms`` lists them
first. Judging follows :mod:`pipeline.policy.sla`: event time and sweep ticks only.
"""

from __future__ import annotations

from typing import Any

import faust
import structlog

from pipeline import topics
from pipeline.agents.acked_output import publish_acked, store_acked
from pipeline.agents.batches import event_batches, group_by_key
from pipeline.agents.due_index import DueIndex
from pipeline.agents.engagement import partition_of
from pipeline.agents.state_codec import use_state_codec
from pipeline.agents.sweep_ticks import SweepTick, sweep_ticks
from pipeline.app import WapipeApp
from pipeline.events import Alarm, InboundMessage, SendResult, TagChange
from pipeline.policy.durations import HOUR_MS
from pipeline.policy.sla import (
    REPLY_ORIGINS,
    Conversation,
    SlaTransition,
    business_replied,
    customer_wrote,
    judge,
    next_due_ms,
)

log = structlog.get_logger(__name__)

KIND = "sla_unanswered"
SOURCES = (topics.INBOUND, topics.RESULTS, topics.TAGS)


def fold(conv: Conversation, event: Any) -> tuple[Conversation, SlaTransition | None]:
    if isinstance(event, InboundMessage):
        return customer_wrote(conv, event.ts_ms), None
    if isinstance(event, SendResult):
        if event.outcome == "accepted" and event.origin in REPLY_ORIGINS:
            return business_replied(conv, event.ts_ms)
        return conv, None
    if isinstance(event, TagChange):
        tags = conv.tags | {event.tag} if event.change == "added" else conv.tags - {event.tag}
        return Conversation(
            waiting=conv.waiting,
            last_reply_ms=conv.last_reply_ms,
            judged_ms=conv.judged_ms,
            firing_since_ms=conv.firing_since_ms,
            tags=frozenset(tags),
        ), None
    return conv, None


def sla_alarm(customer: str, t: SlaTransition, *, sla_ms: int) -> Alarm:
    waited_h = (t.at_ms - t.waiting_since_ms) / HOUR_MS
    return Alarm(
        alarm_id=f"{KIND}:{customer}",
        kind=KIND,
        scope=customer,
        value=round(waited_h, 3),
        threshold=sla_ms / HOUR_MS,
        sample=1,
        state="firing" if t.firing else "resolved",
        priority=t.priority,
        detail=(
            f"customer waiting since {t.waiting_since_ms} (Unix ms) for a business reply"
            if t.firing
            else f"answered after {waited_h:.1f} h"
        ),
        ts_ms=t.at_ms,
    )


def register(wapp: WapipeApp) -> None:
    app, settings = wapp.app, wapp.settings
    sla_ms = int(settings.sla_unanswered_hours * HOUR_MS)
    # Judge a little behind the newest time seen, so a reply still on its way from another
    # partition (results vs inbound) counts before a replay could disagree (docs/agents.md).
    lateness_ms = int(settings.judge_lateness_s * 1000)
    conversations = app.Table(
        "sla-conversations",
        default=None,
        partitions=settings.kafka_partitions,
        use_partitioner=True,
    )
    use_state_codec(conversations)
    source = app.topic(
        *(spec.name for spec in SOURCES), key_serializer="utf8", value_serializer="avro"
    )
    alarms_out = wapp.topic(topics.ALARMS)
    ticks = sweep_ticks(wapp)
    due = DueIndex()

    def alarms_of(customer: str, transitions: list[SlaTransition]) -> list[tuple[str, Alarm]]:
        return [
            (alarm.alarm_id, alarm)
            for alarm in (sla_alarm(customer, t, sla_ms=sla_ms) for t in transitions)
        ]

    # Alarms reach the broker before the state that records them as raised: a crash in
    # between repeats an alarm, never loses it (pipeline/agents/acked_output.py).

    @app.agent(source, name="sla")
    async def watch_conversations(stream: faust.StreamT[Any]) -> None:
        async for batch in event_batches(
            stream, max_events=settings.engagement_batch_max, within_s=settings.engagement_batch_s
        ):
            changed: dict[str, Conversation] = {}
            alarms: list[tuple[str, Alarm]] = []
            for customer, (partition, values) in group_by_key(batch).items():
                before = conversations.get(customer) or Conversation()
                conv, transitions = before, []
                for value in sorted(values, key=lambda v: v.ts_ms):
                    conv, t = fold(conv, value)
                    if t is not None:
                        transitions.append(t)
                    conv, t = judge(conv, value.ts_ms - lateness_ms, sla_ms=sla_ms)
                    if t is not None:
                        transitions.append(t)
                if conv != before:
                    changed[customer] = conv
                    due.schedule(
                        partition, customer, next_due_ms(conv, sla_ms=sla_ms + lateness_ms)
                    )
                alarms += alarms_of(customer, transitions)
            await publish_acked(alarms_out, alarms)
            await store_acked(conversations, changed)

    @app.on_rebalance_complete.connect
    def reindex_after_rebalance(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        due.stale = True

    @app.agent(ticks, name="sla-sweep")
    async def sweep_conversations(stream: faust.StreamT[SweepTick]) -> None:
        async for event in stream.events():
            now_ms = event.value.ts_ms
            if due.stale:
                n = settings.kafka_partitions
                due.rebuild(
                    (partition_of(key, n), key, next_due_ms(value, sla_ms=sla_ms + lateness_ms))
                    for key, value in conversations.items()
                    if value is not None
                )
            changed: dict[str, Conversation] = {}
            alarms: list[tuple[str, Alarm]] = []
            for customer in due.pop_due(event.message.partition, now_ms):
                before = conversations.get(customer)
                if before is None:
                    continue
                conv, t = judge(before, now_ms - lateness_ms, sla_ms=sla_ms)
                if conv != before:
                    changed[customer] = conv
                if t is not None:
                    alarms += alarms_of(customer, [t])
            await publish_acked(alarms_out, alarms)
            await store_acked(conversations, changed)


__all__ = ["KIND", "fold", "register", "sla_alarm"]
