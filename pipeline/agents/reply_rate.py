"""Role ``reply_rate``: reply-rate and delivery-rate alarms per business number and campaign.

Receipts, send results and inbound messages are keyed by customer; the windows are per
business number and per campaign. The state lives where each half belongs (docs/agents.md):

    wa.status.v1, wa.outbound.results.v1, wa.inbound.v1   (customer-keyed, co-partitioned)
        └─► attribute_replies: per customer, which message each reply answers; the campaign
            of a message comes from its SendResult (joined on wamid, same customer, same
            partition) → small RateFacts keyed by scope ("number:…", "campaign:…")
    <app>-rate-facts (internal, keyed by scope)
        └─► judge_rate_windows: per scope, a sliding window judged at event-time instants
            → alarms.v1 (firing / resolved, alarm_id = kind:scope)
            → campaigns.control.v1 (pause on a firing campaign reply-rate alarm, resume on
              its resolution): the sender's circuit breaker.

Both tables use the producer's partitioner (murmur2), like their source topics' keys.
"""

from __future__ import annotations

from typing import Any

import faust
import structlog

from pipeline import topics
from pipeline.agents.acked_output import publish_acked, store_acked
from pipeline.agents.batches import event_batches, group_by_key
from pipeline.agents.state_codec import use_state_codec
from pipeline.app import WapipeApp
from pipeline.events import Alarm, CampaignControl, DeliveryReceipt, InboundMessage, SendResult
from pipeline.policy.durations import HOUR_MS
from pipeline.policy.reply_attribution import (
    CustomerMessages,
    RateFact,
    forget_settled,
    note_message,
    note_reply,
    publish,
)
from pipeline.policy.reply_rate import (
    RateAlarmPolicy,
    RateThresholds,
    RateTransition,
    ScopeWindow,
    apply_fact,
    judge,
)
from pipeline.settings import Settings

log = structlog.get_logger(__name__)

SOURCES = (topics.STATUS, topics.RESULTS, topics.INBOUND)


class RateFactRecord(faust.Record, serializer="json"):
    scope: str
    wamid: str
    kind: str
    ts_ms: int


def rate_policy(settings: Settings) -> RateAlarmPolicy:
    return RateAlarmPolicy(
        reply=RateThresholds(
            fire_below=settings.reply_rate_alarm_below,
            resolve_at=settings.reply_rate_resolve_at,
            min_sample=settings.rate_min_sample,
        ),
        delivery=RateThresholds(
            fire_below=settings.delivery_rate_alarm_below,
            resolve_at=settings.delivery_rate_resolve_at,
            min_sample=settings.rate_min_sample,
        ),
        window_ms=int(settings.rate_window_hours * HOUR_MS),
        lateness_ms=int(settings.judge_lateness_s * 1000),
    )


def fold_customer(state: CustomerMessages, event: Any) -> CustomerMessages:
    if isinstance(event, SendResult):
        if event.outcome == "accepted" and event.wamid:
            return note_message(
                state,
                wamid=event.wamid,
                business_number_id=event.business_number_id,
                campaign_id=event.campaign_id,
                ts_ms=event.ts_ms,
            )
        return state
    if isinstance(event, DeliveryReceipt):
        return note_message(
            state,
            wamid=event.wamid,
            business_number_id=event.business_number_id,
            status=event.status,
            ts_ms=event.ts_ms,
        )
    if isinstance(event, InboundMessage):
        return note_reply(state, ts_ms=event.ts_ms, context_id=event.context_id)
    return state


def alarm_for(scope: str, t: RateTransition, threshold: float) -> Alarm:
    return Alarm(
        alarm_id=f"{t.kind}:{scope}",
        kind=t.kind,
        scope=scope,
        value=round(t.value, 6),
        threshold=threshold,
        sample=t.sample,
        state="firing" if t.firing else "resolved",
        detail=f"{t.kind.replace('_', ' ')} {t.value:.1%} over {t.sample} messages",
        ts_ms=t.at_ms,
    )


def campaign_control(scope: str, alarm: Alarm) -> CampaignControl | None:
    """Pause a campaign whose reply-rate alarm fires; resume it when the alarm resolves."""
    if alarm.kind != "reply_rate" or not scope.startswith("campaign:"):
        return None
    action = "pause" if alarm.state == "firing" else "resume"
    return CampaignControl(
        event_id=f"{alarm.alarm_id}:{alarm.state}:{alarm.ts_ms}",
        campaign_id=scope.removeprefix("campaign:"),
        action=action,
        reason=f"reply-rate alarm {alarm.state}: {alarm.detail}",
        ts_ms=alarm.ts_ms,
    )


def register(wapp: WapipeApp) -> None:
    app, settings = wapp.app, wapp.settings
    policy = rate_policy(settings)
    partitions = settings.kafka_partitions
    per_customer = app.Table(
        "reply-rate-customers", default=None, partitions=partitions, use_partitioner=True
    )
    per_scope = app.Table(
        "reply-rate-scopes", default=None, partitions=partitions, use_partitioner=True
    )
    use_state_codec(per_customer)
    use_state_codec(per_scope)
    source = app.topic(
        *(spec.name for spec in SOURCES), key_serializer="utf8", value_serializer="avro"
    )
    facts_topic = app.topic(
        f"{settings.app_id}-rate-facts",
        key_type=str,
        value_type=RateFactRecord,
        key_serializer="utf8",
        value_serializer="json",
        partitions=partitions,
        internal=True,
    )
    alarms_out = wapp.topic(topics.ALARMS)
    control_out = wapp.topic(topics.CAMPAIGNS)

    # Each batch publishes its facts, alarms and pauses, and only then writes the state that
    # records them as published: a crash in between repeats them, never loses them
    # (pipeline/agents/acked_output.py).

    @app.agent(source, name="reply-rate-attribution")
    async def attribute_replies(stream: faust.StreamT[Any]) -> None:
        async for batch in event_batches(
            stream, max_events=settings.engagement_batch_max, within_s=settings.engagement_batch_s
        ):
            states: dict[str, CustomerMessages] = {}
            facts: list[tuple[str, RateFactRecord]] = []
            for customer, (_, values) in group_by_key(batch).items():
                before = per_customer.get(customer) or CustomerMessages()
                state = before
                for value in values:
                    state = fold_customer(state, value)
                if state == before:
                    continue  # redelivered: nothing new to say
                state, published = publish(state, window_ms=policy.window_ms)
                state = forget_settled(
                    state, window_ms=policy.window_ms, lateness_ms=policy.lateness_ms
                )
                states[customer] = state
                facts += [
                    (
                        f.scope,
                        RateFactRecord(scope=f.scope, wamid=f.wamid, kind=f.kind, ts_ms=f.ts_ms),
                    )
                    for f in published
                ]
            await publish_acked(facts_topic, facts)
            await store_acked(per_customer, states)

    @app.agent(facts_topic, name="reply-rate-windows")
    async def judge_rate_windows(stream: faust.StreamT[RateFactRecord]) -> None:
        async for batch in stream.take(
            settings.engagement_batch_max, within=settings.engagement_batch_s
        ):
            touched: dict[str, ScopeWindow] = {}
            for record in batch:
                window = touched.get(record.scope) or per_scope.get(record.scope) or ScopeWindow()
                fact = RateFact(
                    scope=record.scope,
                    wamid=record.wamid,
                    kind=record.kind,
                    ts_ms=record.ts_ms,
                )
                touched[record.scope] = apply_fact(window, fact)
            alarms: list[tuple[str, Alarm]] = []
            controls: list[tuple[str, CampaignControl]] = []
            for scope, window in touched.items():
                touched[scope], transitions = judge(window, policy)
                for t in transitions:
                    limits = policy.thresholds(t.kind)
                    threshold = limits.fire_below if t.firing else limits.resolve_at
                    alarm = alarm_for(scope, t, threshold)
                    alarms.append((alarm.alarm_id, alarm))
                    log.info("alarm." + alarm.state, kind=alarm.kind, scope=scope, ts_ms=t.at_ms)
                    control = campaign_control(scope, alarm)
                    if control is not None:
                        controls.append((control.campaign_id, control))
            await publish_acked(alarms_out, alarms)
            await publish_acked(control_out, controls)
            await store_acked(per_scope, touched)


__all__ = [
    "RateFactRecord",
    "alarm_for",
    "campaign_control",
    "fold_customer",
    "rate_policy",
    "register",
]
