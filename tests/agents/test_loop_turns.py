"""A worker replaying an engagement backlog still answers its other work within a turn.

Every agent, the web server (webhooks, /sql, /metrics) and the timers of a worker share one
event loop. The engagement agent folds a batch without awaiting anything; at 50,000 events a
batch that was seconds during which a webhook in the same worker waited. It now gives the loop
away every LOOP_TURN_S (pipeline/runtime/loop_turns.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from pipeline.events import InboundMessage, Purchase
from pipeline.runtime.broker import EmbeddedBroker
from pipeline.runtime.loop_turns import LoopTurns
from pipeline.topics import INBOUND, PURCHASES, TopicSpec
from tests.agents.streams import produce
from tests.sender.crash_history import committed_offsets
from tests.support.workers import WorkerProcess

EVENTS = 100_000
CUSTOMERS = 25_000
T0 = 1_767_225_600_000


def backlog() -> Iterator[tuple[TopicSpec, str, object]]:
    for i in range(EVENTS):
        customer = f"8210{i % CUSTOMERS:08d}"
        ts = T0 + i * 1_000
        if i % 3:
            yield (
                INBOUND,
                customer,
                InboundMessage(
                    event_id=f"in{i}",
                    business_number_id="15550001111",
                    customer=customer,
                    text="hi",
                    ts_ms=ts,
                ),
            )
        else:
            yield (
                PURCHASES,
                customer,
                Purchase(
                    order_id=f"o{i}",
                    customer=customer,
                    amount_minor=45_000,
                    currency="KRW",
                    ts_ms=ts,
                ),
            )


def _consumed(bootstrap: str, app_id: str) -> int:
    return sum(
        max(offset, 0)
        for spec in (INBOUND, PURCHASES)
        for offset in committed_offsets(bootstrap, app_id, spec.name).values()
    )


@pytest.mark.broker
def test_the_web_server_answers_while_the_engagement_agent_replays_big_batches(
    fresh_broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    bootstrap = fresh_broker.bootstrap_servers
    assert produce(bootstrap, backlog()) == EVENTS
    app_id = "loop-turns"
    # Batches of 50,000: a second or more of folding each, on any machine.
    worker = start_worker("engagement", app_id=app_id, env={"WAPIPE_ENGAGEMENT_BATCH_MAX": "50000"})
    slowest = 0.0
    answers = 0
    deadline = time.monotonic() + 120
    with httpx.Client(timeout=30) as client:
        while _consumed(bootstrap, app_id) < EVENTS:
            assert time.monotonic() < deadline, "the backlog was not consumed in 120 s"
            for _ in range(20):
                started = time.perf_counter()
                assert client.get(worker.url + "/").status_code == 200
                slowest = max(slowest, time.perf_counter() - started)
                answers += 1
                time.sleep(0.01)
    assert answers >= 40, "the replay was too short to tell"
    # Without turns the answer waited for a whole batch's fold (2–4 s measured here).
    assert slowest < 1.0, f"a request waited {slowest:.2f} s behind the engagement agent"


async def test_a_turn_lasts_its_time_and_then_lets_others_run() -> None:
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    turns = LoopTurns(max_s=0.05)
    assert not turns.expired()
    task = asyncio.ensure_future(other())
    time.sleep(0.06)
    assert turns.expired() and ran == []
    await turns.give_way()
    assert ran == ["other"] and not turns.expired()
    await task
