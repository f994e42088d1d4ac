"""A small generated world of wapipe events with the traps analytics must survive.

Duplicates (sink retries), receipts stored before their send results, late receipts,
read-without-delivered, replies just inside and just outside 24 h, purchases before delivery
and outside the attribution window, two currencies, tags added and removed, campaigns whose
strategy comes from the launch spec or from the campaign_id prefix.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from pipeline.events import (
    Alarm,
    CampaignControl,
    DeadLetter,
    DeliveryReceipt,
    InboundMessage,
    Purchase,
    PurchaseItem,
    SendResult,
    TagChange,
)
from pipeline.runtime.store import Store, events_to_arrow, table_for

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
T0_MS = 1_767_571_200_000  # 2026-01-05 00:00 UTC

COUNTRY_PREFIXES = ["8210", "1415", "5511", "4915", "4477", "9198", "2547"]  # 2547: "other" price
CAMPAIGNS = [
    "none:welcome",
    "frequency:restock",
    "value:vip-sale",
    "heat:win-back",
    "spring",
    "x:promo",
]
TAGS = ["freq:monthly", "freq:lapsed", "value:high", "value:low", "heat:hot", "heat:cold", "vip"]


@dataclass
class World:
    outbound: list[SendResult] = field(default_factory=list)
    receipts: list[DeliveryReceipt] = field(default_factory=list)
    inbound: list[InboundMessage] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)
    tags: list[TagChange] = field(default_factory=list)
    controls: list[CampaignControl] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def families(self) -> list[list[Any]]:
        return [
            self.outbound,
            self.receipts,
            self.inbound,
            self.purchases,
            self.tags,
            self.controls,
            self.alarms,
            self.dead_letters,
        ]


def generate(seed: int, *, messages: int = 260, customers: int = 36) -> World:
    rng = random.Random(seed)
    world = World()
    people = [
        rng.choice(COUNTRY_PREFIXES) + f"{rng.randrange(10**7):07d}" for _ in range(customers)
    ]
    for n in range(messages):
        customer = rng.choice(people)
        business = rng.choice(["b1", "b2"])
        campaign = rng.choice([*CAMPAIGNS, None, None])
        category = "marketing" if campaign else rng.choice(["service", "utility", "authentication"])
        sent_ms = T0_MS + rng.randrange(80 * DAY_MS)
        accepted = rng.random() < 0.88
        wamid = f"wamid.{n:04d}" if accepted else None
        world.outbound.append(
            SendResult(
                command_id=f"cmd-{n:04d}",
                wamid=wamid,
                customer=customer,
                business_number_id=business,
                outcome="accepted" if accepted else "rejected",
                category=category,
                campaign_id=campaign,
                template_name=rng.choice(["promo_a", "promo_b", None]) if campaign else None,
                cost_micros=rng.randrange(0, 60_000),
                ts_ms=sent_ms,
            )
        )
        if wamid is None:
            continue
        _receipts(rng, world, wamid, business, customer, sent_ms, category)
    for customer in people:
        _customer_history(rng, world, customer)
    world.controls += [
        _control("c1", "spring", "launch", {"segmentation": "heat"}, T0_MS),
        _control("c2", "none:welcome", "launch", {"segmentation": "none"}, T0_MS),
        # The spec wins over the prefix: value:vip-sale is a frequency campaign.
        _control("c3", "value:vip-sale", "launch", {"segmentation": "frequency"}, T0_MS),
        _control("c4", "value:vip-sale", "pause", None, T0_MS + DAY_MS),
        _control("c5", "x:promo", "launch", {"audience": "all"}, T0_MS),
    ]
    for n in range(5):
        world.dead_letters.append(
            DeadLetter(
                event_id=f"dl-{n}",
                source=rng.choice(["webhook", "purchases"]),
                reason="bad signature" if n % 2 else "missing order_id",
                raw=bytes([n, 0xFF, 0x00]) + b"{}",
                ts_ms=T0_MS + n * HOUR_MS,
            )
        )
    for n in range(12):
        alarm_id = f"reply_rate:campaign:{rng.choice(CAMPAIGNS)}"
        ts = T0_MS + rng.randrange(80 * DAY_MS)
        state = rng.choice(["firing", "resolved"])
        world.alarms.append(
            Alarm(
                alarm_id=alarm_id,
                kind=rng.choice(["reply_rate", "delivery_rate"]),
                scope=alarm_id.split(":", 1)[1],
                value=rng.random() / 10,
                threshold=0.05,
                sample=rng.randrange(100, 500),
                state=state,
                ts_ms=ts,
                detail=None if n % 2 else "why",
            )
        )
    return world


def _receipts(
    rng: random.Random,
    world: World,
    wamid: str,
    business: str,
    customer: str,
    sent_ms: int,
    category: str,
) -> None:
    def receipt(status: str, ts_ms: int, billable: bool | None = None) -> None:
        error_code = rng.choice([131_026, 131_049, 130_429]) if status == "failed" else None
        world.receipts.append(
            DeliveryReceipt(
                event_id=f"{wamid}:{status}",
                wamid=wamid,
                business_number_id=business,
                customer=customer,
                status=status,
                ts_ms=ts_ms,
                pricing_billable=billable,
                pricing_category=category,
                error_code=error_code,
                ingested_ms=ts_ms + rng.randrange(5_000),
            )
        )

    roll = rng.random()
    receipt("sent", sent_ms + 500)
    if roll < 0.06:
        receipt("failed", sent_ms + 2_000)
        return
    delivered_ms = sent_ms + rng.randrange(1_000, 3 * HOUR_MS)
    if roll < 0.82:
        # Some deliveries are confirmed days later (a phone that was off): late receipts.
        late = rng.random() < 0.1
        receipt(
            "delivered", delivered_ms + (3 * DAY_MS if late else 0), billable=rng.random() > 0.1
        )
        if late:
            delivered_ms += 3 * DAY_MS
        if rng.random() < 0.55:
            receipt("read", delivered_ms + rng.randrange(60_000, HOUR_MS))
    elif roll < 0.92:
        receipt("read", delivered_ms)  # read without any delivered receipt
    else:
        return
    if rng.random() < 0.35:
        # Replies around the 24 h edge, some to the other business number.
        wait_ms = rng.choice(
            [
                rng.randrange(0, 20 * HOUR_MS),
                24 * HOUR_MS,
                24 * HOUR_MS + 1,
                rng.randrange(25 * HOUR_MS, 60 * HOUR_MS),
            ]
        )
        world.inbound.append(
            InboundMessage(
                event_id=f"in.{wamid}",
                customer=customer,
                business_number_id=business if rng.random() < 0.85 else "b-other",
                text="yes",
                ts_ms=delivered_ms + wait_ms,
                ingested_ms=delivered_ms + wait_ms,
            )
        )
    if category == "marketing" and rng.random() < 0.45:
        wait_ms = rng.choice(
            [-HOUR_MS, rng.randrange(0, 6 * DAY_MS), 7 * DAY_MS, 7 * DAY_MS + 1, 9 * DAY_MS]
        )
        _purchase(rng, world, customer, delivered_ms + wait_ms)


def _purchase(rng: random.Random, world: World, customer: str, ts_ms: int) -> None:
    currency = "KRW" if rng.random() < 0.2 else "USD"
    amount = rng.randrange(500, 20_000) * (100 if currency == "KRW" else 1)
    world.purchases.append(
        Purchase(
            order_id=f"order-{len(world.purchases):04d}",
            customer=customer,
            amount_minor=amount,
            currency=currency,
            items=(PurchaseItem(sku="sku-1", quantity=1, amount_minor=amount),),
            ts_ms=ts_ms,
            source="api",
        )
    )


def _customer_history(rng: random.Random, world: World, customer: str) -> None:
    for _ in range(rng.randrange(0, 3)):
        _purchase(
            rng, world, customer, T0_MS - rng.randrange(60 * DAY_MS) + rng.randrange(140 * DAY_MS)
        )
    for n in range(rng.randrange(0, 6)):
        ts = T0_MS + rng.randrange(80 * DAY_MS)
        tag = rng.choice(TAGS)
        change = rng.choice(["added", "added", "removed"])
        world.tags.append(
            TagChange(
                event_id=f"tag.{customer}.{n}",
                customer=customer,
                tag=tag,
                change=change,
                reason="generated",
                ts_ms=ts,
            )
        )


def _control(
    event_id: str, campaign: str, action: str, spec: dict[str, str] | None, ts_ms: int
) -> CampaignControl:
    return CampaignControl(
        event_id=event_id,
        campaign_id=campaign,
        action=action,
        spec_json=json.dumps(spec) if spec is not None else None,
        ts_ms=ts_ms,
    )


def load(store: Store, world: World, seed: int) -> None:
    """Insert the world the way an at-least-once sink would: duplicates, out of order."""
    rng = random.Random(seed + 1)
    batches: list[list[Any]] = []
    for family in world.families():
        if not family:
            continue
        rows = list(family)
        rows += rng.sample(rows, k=max(1, len(rows) // 8))  # duplicate rows
        rng.shuffle(rows)
        third = max(1, len(rows) // 3)
        chunks = [rows[:third], rows[third : 2 * third], rows[2 * third :]]
        batches += [chunk for chunk in chunks if chunk]
        batches.append(chunks[0])  # a whole batch redelivered after a crash
    rng.shuffle(batches)  # receipts may land before the send results they describe
    for batch in batches:
        store.insert_arrow(table_for(batch[0]), events_to_arrow(batch))
