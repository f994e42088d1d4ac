"""A small deterministic world of customers and their events, with the expected outcomes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from pipeline import topics
from pipeline.events import ConsentChange, DeliveryReceipt, InboundMessage, Purchase, SendResult
from pipeline.policy.customer_state import CustomerState, apply_event
from pipeline.policy.durations import DAY_MS, HOUR_MS, MINUTE_MS
from pipeline.policy.tags import compute_tags
from pipeline.topics import TopicSpec

T0 = 1_750_000_000_000
NUMBER = "15550001111"

TOPIC_OF: dict[type, TopicSpec] = {
    InboundMessage: topics.INBOUND,
    DeliveryReceipt: topics.STATUS,
    Purchase: topics.PURCHASES,
    SendResult: topics.RESULTS,
    ConsentChange: topics.CONSENT,
}


def keyed(events: list[Any]) -> list[tuple[TopicSpec, str, Any]]:
    return [(TOPIC_OF[type(e)], e.customer, e) for e in events]


@dataclass
class World:
    events: list[Any]

    def customers(self) -> set[str]:
        return {e.customer for e in self.events}

    def expected_tags(self) -> dict[str, frozenset[str]]:
        """Tags at each customer's latest event time, folded by the pure policy."""
        out: dict[str, frozenset[str]] = {}
        for customer in self.customers():
            mine = [e for e in self.events if e.customer == customer]
            state = CustomerState()
            for e in mine:
                state = apply_event(state, e)
            out[customer] = compute_tags(state, max(e.ts_ms for e in mine))
        return out


def shop_world(*, customers: int, seed: int) -> World:
    """Purchases, messages, receipts and consent for ``customers`` over ~100 days."""
    rng = random.Random(seed)
    events: list[Any] = []
    for c in range(customers):
        customer = f"8210{c:08d}"
        start = T0 + rng.randrange(0, 20) * DAY_MS
        for k in range(rng.choice([0, 1, 2, 3, 5])):
            events.append(
                Purchase(
                    order_id=f"o-{c}-{k}",
                    customer=customer,
                    amount_minor=rng.choice([5_000, 40_000, 150_000]),
                    currency="KRW",
                    ts_ms=start + rng.randrange(0, 100) * DAY_MS,
                )
            )
        for k in range(rng.choice([0, 1, 3])):
            ts = start + rng.randrange(0, 100) * DAY_MS + rng.randrange(0, DAY_MS)
            wamid = f"wamid.{c}.{k}"
            events.append(
                DeliveryReceipt(
                    event_id=f"{wamid}.read",
                    wamid=wamid,
                    business_number_id=NUMBER,
                    customer=customer,
                    status=rng.choice(["delivered", "read"]),
                    ts_ms=ts,
                )
            )
            if rng.random() < 0.5:
                events.append(
                    InboundMessage(
                        event_id=f"in.{c}.{k}",
                        business_number_id=NUMBER,
                        customer=customer,
                        text="hi",
                        context_id=wamid if rng.random() < 0.5 else None,
                        ts_ms=ts + 5 * MINUTE_MS,
                    )
                )
        if rng.random() < 0.15:
            events.append(
                ConsentChange(
                    event_id=f"stop.{c}",
                    customer=customer,
                    business_number_id=NUMBER,
                    consent="opted_out",
                    source="keyword",
                    ts_ms=start + 50 * DAY_MS + HOUR_MS,
                )
            )
    events.sort(key=lambda e: e.ts_ms)
    return World(events=events)


def final_tags(changes: list[Any]) -> dict[str, frozenset[str]]:
    """Fold TagChange events; raise if one adds a present tag or removes an absent one."""
    tags: dict[str, set[str]] = {}
    for change in changes:
        current = tags.setdefault(change.customer, set())
        if change.change == "added":
            if change.tag in current:
                raise AssertionError(f"{change.tag} added twice for {change.customer}: {change}")
            current.add(change.tag)
        else:
            if change.tag not in current:
                raise AssertionError(f"{change.tag} removed but absent: {change}")
            current.discard(change.tag)
    return {c: frozenset(t) for c, t in tags.items()}
