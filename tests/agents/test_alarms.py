"""Reply-rate and SLA alarms through the real broker: hysteresis, campaign pause, priority."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline import topics
from pipeline.events import DeliveryReceipt, InboundMessage, SendResult, TagChange
from pipeline.policy.durations import HOUR_MS, MINUTE_MS, SECOND_MS
from pipeline.runtime.broker import EmbeddedBroker
from tests.agents.conftest import PARTITIONS
from tests.agents.streams import produce, read_all, send_ticks, wait_caught_up, wait_for
from tests.agents.world import NUMBER, T0, TOPIC_OF
from tests.support.workers import WorkerProcess

LATENESS_S = 300


def ceil_minute(ts_ms: int) -> int:
    return -(-ts_ms // MINUTE_MS) * MINUTE_MS


def campaign_send(i: int, *, at_ms: int, campaign: str = "spring") -> list[Any]:
    customer = f"8230{i:08d}"
    wamid = f"wamid.{campaign}.{i}"
    return [
        SendResult(
            command_id=f"cmd.{i}",
            wamid=wamid,
            customer=customer,
            business_number_id=NUMBER,
            outcome="accepted",
            category="marketing",
            campaign_id=campaign,
            origin="campaign",
            ts_ms=at_ms,
        ),
        DeliveryReceipt(
            event_id=f"{wamid}.delivered",
            wamid=wamid,
            business_number_id=NUMBER,
            customer=customer,
            status="delivered",
            ts_ms=at_ms + 2 * SECOND_MS,
        ),
    ]


def reply(i: int, *, at_ms: int, campaign: str = "spring") -> InboundMessage:
    return InboundMessage(
        event_id=f"in.{campaign}.{i}.{at_ms}",
        business_number_id=NUMBER,
        customer=f"8230{i:08d}",
        text="yes",
        context_id=f"wamid.{campaign}.{i}" if i % 2 else None,  # context or latest delivered
        ts_ms=at_ms,
    )


def keyed(events: list[Any]) -> list[tuple[Any, str, Any]]:
    return [(TOPIC_OF.get(type(e), topics.TAGS), e.customer, e) for e in events]


def history(alarms: list[Any]) -> dict[str, list[tuple[str, int]]]:
    """alarm_id → [(state, ts_ms)], duplicates (redelivery) removed, in event-time order."""
    seen: dict[str, list[tuple[str, int]]] = {}
    for a in sorted({(a.alarm_id, a.ts_ms, a.state) for a in alarms}, key=lambda r: (r[1], r[0])):
        seen.setdefault(a[0], []).append((a[2], a[1]))
    return seen


def test_reply_rate_alarm_fires_pauses_the_campaign_and_resolves_with_hysteresis(
    fresh_broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    bootstrap = fresh_broker.bootstrap_servers
    worker = start_worker("reply_rate", env={"WAPIPE_JUDGE_LATENESS_S": str(LATENESS_S)})
    flow = [t.name for t in (topics.STATUS, topics.RESULTS, topics.INBOUND)]
    flow.append(f"{worker.app_id}-rate-facts")

    def caught_up() -> None:
        wait_caught_up(bootstrap, worker.app_id, flow)

    def alarms() -> list[Any]:
        return read_all(bootstrap, topics.ALARMS, partitions=PARTITIONS)

    # Live-like pacing: each phase is produced once the worker has caught up with the previous
    # one, so no partition runs ahead of another by more than the lateness (docs/agents.md).
    sends = [e for i in range(120) for e in campaign_send(i, at_ms=T0 + i * SECOND_MS)]
    early = [reply(i, at_ms=T0 + 10 * MINUTE_MS) for i in range(3)]  # 3/120 = 2.5 %: fires
    for phase in (sends, early):
        produce(bootstrap, keyed(phase))
        caught_up()
    produce(bootstrap, keyed(campaign_send(500, at_ms=T0 + 40 * MINUTE_MS)))  # watermark
    wait_for(alarms, lambda got: len(got) >= 2, timeout_s=60, what="reply-rate alarms to fire")

    middle = [reply(i, at_ms=T0 + 45 * MINUTE_MS) for i in range(3, 7)]  # 7/121 = 5.8 %: holds
    late = [reply(7, at_ms=T0 + HOUR_MS)]  # 8/121 = 6.6 % ≥ 6 %: resolves
    produce(bootstrap, keyed(middle + late))
    caught_up()
    produce(bootstrap, keyed(campaign_send(501, at_ms=T0 + 2 * HOUR_MS)))
    got = wait_for(
        alarms,
        lambda got: sum(a.state == "resolved" for a in got) >= 2,
        timeout_s=60,
        what="reply-rate alarms for the campaign and the number to resolve",
    )
    seen = history(got)
    resolved_at = ceil_minute(T0 + HOUR_MS)
    for scope in (f"number:{NUMBER}", "campaign:spring"):
        states = seen[f"reply_rate:{scope}"]
        assert [s for s, _ in states] == ["firing", "resolved"], (scope, states)
        fired_at = states[0][1]
        # Fires once 100 delivered messages are in the window (the 100th lands at T0+101 s).
        assert fired_at == ceil_minute(T0 + 101 * SECOND_MS), (scope, states)
        assert states[1][1] == resolved_at, f"5.8 % must not resolve, 6.6 % must: {states}"
    assert not any(k.startswith("delivery_rate") for k in seen), "all messages were delivered"
    firing = next(a for a in got if a.alarm_id == "reply_rate:campaign:spring")
    assert firing.sample >= 100 and firing.value < 0.05 and firing.threshold == 0.05

    controls = wait_for(
        lambda: read_all(bootstrap, topics.CAMPAIGNS, partitions=PARTITIONS),
        lambda got: len({c.action for c in got}) == 2,
        timeout_s=30,
        what="pause and resume for campaign spring",
    )
    ordered = sorted({(c.ts_ms, c.action, c.campaign_id) for c in controls})
    assert ordered == [(fired_at, "pause", "spring"), (resolved_at, "resume", "spring")]
    assert all("reply-rate alarm" in (c.reason or "") for c in controls)


def test_unanswered_conversation_fires_after_the_sla_with_priority_and_resolves_on_reply(
    fresh_broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    bootstrap = fresh_broker.bootstrap_servers
    plain, vip = "821077770001", "821077770002"
    wrote = T0 + HOUR_MS
    events: list[Any] = [
        TagChange(
            event_id="t1", customer=vip, tag="value:high", change="added", reason="r", ts_ms=T0
        ),
        InboundMessage(event_id="a", business_number_id=NUMBER, customer=plain, ts_ms=wrote),
        InboundMessage(event_id="b", business_number_id=NUMBER, customer=vip, ts_ms=wrote),
    ]
    produce(bootstrap, keyed(events))
    worker = start_worker("sla", env={"WAPIPE_JUDGE_LATENESS_S": "0"})
    sla_ms = 2 * HOUR_MS

    def alarms() -> list[Any]:
        return read_all(bootstrap, topics.ALARMS, partitions=PARTITIONS)

    flow = [topics.INBOUND.name, topics.RESULTS.name, topics.TAGS.name]
    ticks = f"{worker.app_id}-sweep-ticks"
    wait_caught_up(bootstrap, worker.app_id, flow)
    send_ticks(bootstrap, worker.app_id, now_ms=wrote + sla_ms, partitions=PARTITIONS)
    wait_caught_up(bootstrap, worker.app_id, [ticks])
    assert alarms() == [], "exactly two hours is still within the SLA"
    send_ticks(bootstrap, worker.app_id, now_ms=wrote + sla_ms + 1, partitions=PARTITIONS)
    fired = wait_for(alarms, lambda got: len(got) >= 2, timeout_s=60, what="two SLA alarms")
    by_customer = {a.scope: a for a in fired}
    assert set(by_customer) == {plain, vip}
    assert all(a.state == "firing" and a.ts_ms == wrote + sla_ms + 1 for a in fired)
    assert by_customer[vip].priority and not by_customer[plain].priority
    assert by_customer[vip].kind == "sla_unanswered"

    answer = SendResult(
        command_id="r1",
        wamid="wamid.r1",
        customer=plain,
        business_number_id=NUMBER,
        outcome="accepted",
        origin="agent",
        ts_ms=wrote + 3 * HOUR_MS,
    )
    produce(bootstrap, keyed([answer]))
    done = wait_for(
        alarms,
        lambda got: any(a.state == "resolved" for a in got),
        timeout_s=30,
        what="the answered conversation's alarm to resolve",
    )
    resolved = [a for a in done if a.state == "resolved"]
    assert [(a.alarm_id, a.ts_ms) for a in resolved] == [(f"sla_unanswered:{plain}", answer.ts_ms)]
