"""Generated, seeded traffic covering every table the dashboards read.

Messages over ten days from two business numbers in three campaigns, receipts (some read
without delivered, some failed), replies, purchases inside and outside the attribution
window, commands with and without results, tag changes and alarms. Some events are stored
twice, as the at-least-once sink may.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from pipeline import events

DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NUMBERS = ("15550000001", "15550000002")
CAMPAIGNS = {"value:spring": "value", "heat:winback": "heat", "none:blast": "none"}
TEMPLATES = ("spring_sale", "winback", "order_update")


@dataclass
class Traffic:
    rows: dict[type, list[Any]] = field(default_factory=dict)
    accepted: list[events.SendResult] = field(default_factory=list)

    def add(self, event: Any, *, copies: int = 1) -> None:
        self.rows.setdefault(type(event), []).extend([event] * copies)


def generate(seed: int = 9) -> Traffic:
    rng = random.Random(seed)
    traffic = Traffic()
    customers = [f"8210{rng.randrange(10**7, 10**8)}" for _ in range(50)]
    customers += [f"1{rng.randrange(10**9, 10**10)}" for _ in range(10)]
    for index, (campaign, strategy) in enumerate(CAMPAIGNS.items()):
        traffic.add(
            events.CampaignControl(
                event_id=f"launch-{index}",
                campaign_id=campaign,
                action="launch",
                spec_json=json.dumps({"segmentation": strategy}),
                ts_ms=START_MS,
            )
        )
    serial = 0
    for customer in customers:
        for _ in range(rng.randint(2, 4)):
            serial += 1
            sent_ms = START_MS + rng.randrange(0, 10 * DAY_MS)
            number = rng.choice(NUMBERS)
            campaign = rng.choice([*CAMPAIGNS, None])
            category = "marketing" if campaign else "utility"
            template = rng.choice(TEMPLATES)
            command_id = f"cmd-{serial}"
            traffic.add(
                events.OutboundCommand(
                    command_id=command_id,
                    customer=customer,
                    business_number_id=number,
                    kind="template",
                    template_name=template,
                    category=category,
                    campaign_id=campaign,
                    origin="campaign" if campaign else "api",
                    created_ms=sent_ms - rng.randrange(0, 20_000),
                )
            )
            roll = rng.random()
            if roll < 0.08:
                traffic.add(
                    events.SendResult(
                        command_id=command_id,
                        wamid=None,
                        customer=customer,
                        business_number_id=number,
                        outcome="rejected",
                        reason="Re-engagement message",
                        error_code=rng.choice([131047, 131026, 130429]),
                        attempts=1,
                        category=category,
                        campaign_id=campaign,
                        template_name=template,
                        ts_ms=sent_ms,
                    )
                )
                continue
            wamid = f"wamid.{serial:06d}"
            result = events.SendResult(
                command_id=command_id,
                wamid=wamid,
                customer=customer,
                business_number_id=number,
                outcome="accepted",
                attempts=1,
                category=category,
                campaign_id=campaign,
                template_name=template,
                origin="campaign" if campaign else "api",
                cost_micros=22_500 if category == "marketing" else 5_300,
                ts_ms=sent_ms,
            )
            traffic.accepted.append(result)
            traffic.add(result, copies=2 if serial % 7 == 0 else 1)
            _receipts(traffic, rng, result)
    # Commands still waiting for the sender.
    for waiting in range(3):
        traffic.add(
            events.OutboundCommand(
                command_id=f"cmd-waiting-{waiting}",
                customer=customers[waiting],
                business_number_id=NUMBERS[0],
                kind="text",
                body="hello",
                created_ms=START_MS + 9 * DAY_MS,
            )
        )
    _tags(traffic, rng, customers)
    _alarms(traffic)
    return traffic


def _receipt(result: events.SendResult, status: str, ts_ms: int, **extra: Any) -> Any:
    assert result.wamid is not None
    return events.DeliveryReceipt(
        event_id=f"{result.wamid}:{status}",
        wamid=result.wamid,
        business_number_id=result.business_number_id,
        customer=result.customer,
        status=status,
        ts_ms=ts_ms,
        pricing_billable=True,
        pricing_category=result.category,
        **extra,
    )


def _receipts(traffic: Traffic, rng: random.Random, result: events.SendResult) -> None:
    at = result.ts_ms + rng.randrange(500, 5_000)
    traffic.add(_receipt(result, "sent", at))
    roll = rng.random()
    if roll < 0.07:
        traffic.add(
            _receipt(result, "failed", at + 1_000, error_code=131026, error_title="Undeliverable")
        )
        return
    delivered_at = at + rng.randrange(1_000, 60_000)
    read_without_delivered = roll > 0.95
    if not read_without_delivered:
        traffic.add(_receipt(result, "delivered", delivered_at), copies=1 + (roll < 0.2))
    if read_without_delivered or rng.random() < 0.6:
        traffic.add(_receipt(result, "read", delivered_at + rng.randrange(1_000, 3_600_000)))
    if rng.random() < 0.2:
        traffic.add(
            events.InboundMessage(
                event_id=f"in.{result.wamid}",
                business_number_id=result.business_number_id,
                customer=result.customer,
                text="yes please",
                ts_ms=delivered_at + rng.randrange(60_000, 20 * 3_600_000),
            )
        )
    if result.category == "marketing" and rng.random() < 0.25:
        # Inside the 7-day attribution window, or (one in four) well outside it.
        delay = rng.randrange(3_600_000, 2 * DAY_MS) if rng.random() < 0.75 else 9 * DAY_MS
        currency = "KRW" if result.customer.startswith("82") else "USD"
        traffic.add(
            events.Purchase(
                order_id=f"order.{result.wamid}",
                customer=result.customer,
                amount_minor=rng.randrange(5_000, 90_000),
                currency=currency,
                items=(events.PurchaseItem(sku="sku-1", quantity=1, amount_minor=5_000),),
                ts_ms=delivered_at + delay,
            )
        )


def _tags(traffic: Traffic, rng: random.Random, customers: list[str]) -> None:
    for index, customer in enumerate(customers):
        for family, values in (("value", "high mid low"), ("heat", "hot warm cold")):
            tag = f"{family}:{rng.choice(values.split())}"
            added = START_MS + rng.randrange(0, 5 * DAY_MS)
            traffic.add(
                events.TagChange(
                    event_id=f"tag-{index}-{family}-add",
                    customer=customer,
                    tag=tag,
                    change="added",
                    reason="purchases",
                    ts_ms=added,
                ),
                copies=1 + (index % 5 == 0),
            )
            if rng.random() < 0.3:
                traffic.add(
                    events.TagChange(
                        event_id=f"tag-{index}-{family}-remove",
                        customer=customer,
                        tag=tag,
                        change="removed",
                        reason="decay",
                        ts_ms=added + rng.randrange(DAY_MS, 4 * DAY_MS),
                    )
                )


def _alarms(traffic: Traffic) -> None:
    def alarm(alarm_id: str, kind: str, state: str, ts_ms: int, value: float) -> events.Alarm:
        return events.Alarm(
            alarm_id=alarm_id,
            kind=kind,
            scope=f"campaign:{next(iter(CAMPAIGNS))}",
            value=value,
            threshold=0.05,
            sample=140,
            state=state,
            ts_ms=ts_ms,
        )

    traffic.add(alarm("a-reply", "reply_rate", "firing", START_MS + 2 * DAY_MS, 0.03))
    traffic.add(alarm("a-reply", "reply_rate", "resolved", START_MS + 3 * DAY_MS, 0.07))
    traffic.add(alarm("a-delivery", "delivery_rate", "firing", START_MS + 6 * DAY_MS, 0.8))
