"""The mixed stream every fault scenario replays: signed webhook POSTs (inbound messages and
delivery receipts), purchase POSTs and campaign send commands, all seeded.

What each scenario must end with is derived from the stream itself: the ids ingest accepts,
and the tags an undisturbed run gives, folded by the same pure policy the engagement agent
calls (tests/agents/test_engagement.py proves the agent gives exactly that fold).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.events import DeliveryReceipt, InboundMessage, OutboundCommand, Purchase
from pipeline.ingest.purchases import parse_purchase
from pipeline.ingest.signature import sign
from pipeline.ingest.webhook_parser import parse_webhook
from pipeline.policy.customer_state import CustomerState, apply_event
from pipeline.policy.tags import compute_tags
from tests.ingest import meta_examples as meta
from tests.sender.harness import command

APP_SECRET = "faults-app-secret"
PURCHASES_KEY = "faults-purchases-key"
T0_S = 1_750_000_000
DAY_S = 86_400
CAMPAIGN = "faults-spring"
SPAN_DAYS = 80


@dataclass(frozen=True, slots=True)
class Post:
    """One HTTP request as a sender (Meta or the shop) would make it, retried until 200."""

    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class MixedStream:
    posts: list[Post] = field(default_factory=list)
    commands: list[OutboundCommand] = field(default_factory=list)
    inbound_ids: set[str] = field(default_factory=set)
    status_ids: set[str] = field(default_factory=set)
    order_ids: set[str] = field(default_factory=set)
    events: list[Any] = field(default_factory=list)  # as ingest parses them

    @property
    def event_count(self) -> int:
        return len(self.inbound_ids) + len(self.status_ids) + len(self.order_ids)

    def expected_tags(self) -> dict[str, frozenset[str]]:
        """Each customer's tags at their latest event, as an undisturbed run ends."""
        by_customer: dict[str, list[Any]] = {}
        for event in self.events:
            by_customer.setdefault(event.customer, []).append(event)
        out: dict[str, frozenset[str]] = {}
        for customer, mine in by_customer.items():
            state = CustomerState()
            for event in sorted(mine, key=lambda e: e.ts_ms):
                state = apply_event(state, event)
            out[customer] = compute_tags(state, max(e.ts_ms for e in mine))
        return out


def _inbound(customer: str, wamid: str, ts_s: int) -> dict[str, Any]:
    return {
        "from": customer,
        "id": wamid,
        "timestamp": str(ts_s),
        "type": "text",
        "text": {"body": "is it in stock?"},
    }


def _status(customer: str, wamid: str, status: str, ts_s: int) -> dict[str, Any]:
    return {"id": wamid, "status": status, "timestamp": str(ts_s), "recipient_id": customer}


def _webhook(items: list[tuple[str, dict[str, Any]]]) -> Post:
    messages = [item for kind, item in items if kind == "message"]
    statuses = [item for kind, item in items if kind == "status"]
    value = meta.messages_value(*messages) if messages else meta.statuses_value()
    value["contacts"] = [{"profile": {"name": "Fault"}, "wa_id": m["from"]} for m in messages]
    value["statuses"] = statuses
    body = json.dumps(meta.envelope(value)).encode()
    headers = {
        "X-Hub-Signature-256": sign(body, app_secret=APP_SECRET.encode()),
        "Content-Type": "application/json",
    }
    return Post("/webhooks/whatsapp", body, headers)


def _purchases(rows: list[dict[str, Any]]) -> Post:
    headers = {"Authorization": f"Bearer {PURCHASES_KEY}", "Content-Type": "application/json"}
    return Post("/purchases", json.dumps(rows).encode(), headers)


def build_stream(
    *, events: int, sends: int, events_per_post: int, seed: int = 10, customers: int | None = None
) -> MixedStream:
    """About half inbound messages, 30% receipts, 20% purchases, over 80 days: inside the
    90-day purchase window, the span in which the engagement state is independent of arrival
    order (an older purchase arriving late is ignored by design, docs/reliability.md)."""
    rng = random.Random(seed)
    people = customers or max(20, events // 8)
    stream = MixedStream()
    batch: list[tuple[str, dict[str, Any]]] = []
    rows: list[dict[str, Any]] = []
    for n in range(events):
        customer = f"8210{rng.randrange(people):08d}"
        ts_s = T0_S + rng.randrange(SPAN_DAYS * DAY_S)
        draw = rng.random()
        if draw < 0.5:
            wamid = f"wamid.fault.in.{n}"
            batch.append(("message", _inbound(customer, wamid, ts_s)))
            stream.inbound_ids.add(wamid)
        elif draw < 0.8:
            status = rng.choice(["delivered", "read"])
            wamid = f"wamid.fault.out.{n}"
            batch.append(("status", _status(customer, wamid, status, ts_s)))
            stream.status_ids.add(f"{wamid}:{status}")
        else:
            order_id = f"fault-order-{n}"
            rows.append(
                {
                    "order_id": order_id,
                    "customer": customer,
                    "amount": str(rng.choice([5_000, 40_000, 150_000])),
                    "currency": "KRW",
                    "ts": _iso(ts_s),
                }
            )
            stream.order_ids.add(order_id)
        if len(batch) >= events_per_post:
            stream.posts.append(_webhook(batch))
            batch = []
        if len(rows) >= events_per_post:
            stream.posts.append(_purchases(rows))
            rows = []
    if batch:
        stream.posts.append(_webhook(batch))
    if rows:
        stream.posts.append(_purchases(rows))
    rng.shuffle(stream.posts)
    for post in stream.posts:
        stream.events.extend(_parsed(post))
    # Campaign sends go to customers of their own, so their results never touch the tags
    # compared above; the utility template is not held back by any marketing rule.
    stream.commands = [
        command(f"8250{i:08d}", command_id=f"fault-cmd-{i}", campaign_id=CAMPAIGN)
        for i in range(sends)
    ]
    return stream


def _iso(ts_s: int) -> str:
    return datetime.fromtimestamp(ts_s, tz=UTC).isoformat()


def _parsed(post: Post) -> list[InboundMessage | DeliveryReceipt | Purchase]:
    if post.path == "/purchases":
        return [
            parse_purchase(row, default_region="KR", source="api") for row in json.loads(post.body)
        ]
    parsed = parse_webhook(post.body, received_ms=T0_S * 1000)
    assert not parsed.dead_letters, parsed.dead_letters  # the stream is all valid input
    return [o.event for o in parsed.events]  # type: ignore[misc]
