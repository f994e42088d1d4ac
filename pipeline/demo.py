"""``wapipe demo`` (what ``make run`` runs): traffic through the real parts, then a report.

Walking skeleton: generated inbound messages, receipts and purchases are produced to Kafka as
Avro, the sink agent batches them into ClickHouse, and the report is read back with SQL.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from pipeline import topics
from pipeline.app import WapipeApp
from pipeline.events import DeliveryReceipt, InboundMessage, Purchase, PurchaseItem
from pipeline.runtime.worker import run_worker
from pipeline.settings import Settings

BUSINESS_NUMBER = "106540352242922"


@dataclass
class DemoOutcome:
    produced: dict[str, int] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def generated_events(
    n: int, *, seed: int = 7, start_ms: int = 1_760_000_000_000
) -> list[tuple[topics.TopicSpec, str, object]]:
    """A reproducible mix: a third messages, a third receipts, a third purchases."""
    rng = random.Random(seed)
    out: list[tuple[topics.TopicSpec, str, object]] = []
    for i in range(n):
        customer = f"8210{rng.randrange(10_000_000, 99_999_999)}"
        ts_ms = start_ms + i * 1000
        kind = i % 3
        if kind == 0:
            out.append(
                (
                    topics.INBOUND,
                    customer,
                    InboundMessage(
                        event_id=f"wamid.demo.in.{i}",
                        business_number_id=BUSINESS_NUMBER,
                        customer=customer,
                        text=rng.choice(["hello", "할인 있나요?", "price?", "STOP"]),
                        ts_ms=ts_ms,
                    ),
                )
            )
        elif kind == 1:
            status = rng.choice(["sent", "delivered", "read"])
            out.append(
                (
                    topics.STATUS,
                    customer,
                    DeliveryReceipt(
                        event_id=f"wamid.demo.out.{i}:{status}",
                        wamid=f"wamid.demo.out.{i}",
                        business_number_id=BUSINESS_NUMBER,
                        customer=customer,
                        status=status,
                        ts_ms=ts_ms,
                    ),
                )
            )
        else:
            amount = rng.randrange(5_000, 200_000, 100)
            out.append(
                (
                    topics.PURCHASES,
                    customer,
                    Purchase(
                        order_id=f"demo-order-{i}",
                        customer=customer,
                        amount_minor=amount,
                        currency="KRW",
                        items=(PurchaseItem(sku="SKU-1", quantity=1, amount_minor=amount),),
                        ts_ms=ts_ms,
                        source="demo",
                    ),
                )
            )
    return out


TABLES = {
    topics.INBOUND.name: "inbound_messages",
    topics.STATUS.name: "message_status",
    topics.PURCHASES.name: "purchases",
}


async def drive(wapp: WapipeApp, n: int, outcome: DemoOutcome, timeout_s: float = 120) -> None:
    started = time.monotonic()
    pending = []
    for spec, key, event in generated_events(n):
        pending.append(await wapp.topic(spec).send(key=key, value=event))
        outcome.produced[spec.name] = outcome.produced.get(spec.name, 0) + 1
    await asyncio.gather(*pending)
    store = wapp.store
    if store is None:
        return
    loop = asyncio.get_running_loop()
    while time.monotonic() - started < timeout_s:
        for topic_name, table in TABLES.items():
            result = await loop.run_in_executor(
                None,
                store.query,
                f"SELECT uniqExact({_key(table)}) FROM {table}",
            )
            outcome.stored[topic_name] = int(result.scalar())
        if all(outcome.stored.get(t, 0) >= c for t, c in outcome.produced.items()):
            break
        await asyncio.sleep(0.25)
    outcome.seconds = time.monotonic() - started


def _key(table: str) -> str:
    return "order_id" if table == "purchases" else "event_id"


def run_demo(settings: Settings, *, events: int, console: Console) -> DemoOutcome:
    outcome = DemoOutcome()

    async def driver(wapp: WapipeApp) -> None:
        await drive(wapp, events, outcome)

    console.print(f"[bold]wapipe demo[/]: {events} events through Kafka into ClickHouse…")
    run_worker(settings, driver=driver)
    table = Table("topic", "ClickHouse table", "produced", "stored (distinct)")
    for topic_name, table_name in TABLES.items():
        table.add_row(
            topic_name,
            table_name,
            str(outcome.produced.get(topic_name, 0)),
            str(outcome.stored.get(topic_name, 0)),
        )
    console.print(table)
    console.print(f"done in {outcome.seconds:.1f}s; no process left running.")
    return outcome
