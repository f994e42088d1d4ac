"""The lane's grants: the rate in every window, priority first, the pair gap, number isolation."""

from __future__ import annotations

import asyncio
import time

from pipeline.clock import ManualClock, SimulatedClock, SystemClock
from pipeline.policy import PairRate, ThroughputProfile, TokenBucket
from pipeline.sinks.send_lanes import Lanes
from pipeline.sinks.sender_config import guarded
from tests.sender.harness import command
from tests.sender.rate_windows import busiest_window


def clock_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def lanes(rate_per_s: int, *, gap_ms: int = 0) -> Lanes:
    # As the sender builds it: the window widened by the jitter guard (sender_config.guarded),
    # which here also covers the gap between a grant and the waiter resuming.
    profile = guarded(ThroughputProfile.per_second(rate_per_s), guard_ms=20)
    bucket = TokenBucket(profile=profile)
    return Lanes(bucket=bucket, pair_rate=PairRate(min_gap_ms=gap_ms), clock_ms=clock_ms)


async def test_grants_never_exceed_the_rate_and_use_it() -> None:
    lane = lanes(100).for_number("n1")
    granted: list[float] = []

    async def one(i: int) -> None:
        await lane.turn(command(f"82{i:010d}"))
        granted.append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(250)))
    assert busiest_window(granted) <= 100
    assert 250 / (time.monotonic() - started) >= 95  # ~2.5 s for 250 at 100/s


async def test_service_goes_before_marketing_and_pair_gap_holds() -> None:
    lane = lanes(20, gap_ms=300).for_number("n1")
    order: list[str] = []
    sent_at: dict[str, float] = {}

    async def one(cid: str, customer: str, category: str) -> None:
        await lane.turn(command(customer, command_id=cid, category=category))
        order.append(cid)
        sent_at[cid] = time.monotonic()

    first = asyncio.create_task(one("m0", "821", "marketing"))  # takes the first token
    await asyncio.sleep(0)
    await asyncio.gather(
        first,
        *(one(f"m{i}", f"82{i}0", "marketing") for i in range(1, 6)),
        one("reply", "829", "service"),
        one("m0-again", "821", "marketing"),
    )
    assert order[1] == "reply", order
    # The lane counts whole milliseconds; allow that rounding, nothing more.
    assert sent_at["m0-again"] - sent_at["m0"] >= 0.3 - 0.002


async def test_a_slow_number_does_not_hold_up_another() -> None:
    all_lanes = lanes(2)
    slow, fast = all_lanes.for_number("slow"), all_lanes.for_number("fast")
    backlog = [asyncio.create_task(slow.turn(command(f"82{i:010d}"))) for i in range(10)]
    started = time.monotonic()
    await fast.turn(command("829"))
    assert time.monotonic() - started < 0.1
    for task in backlog:
        task.cancel()
    await all_lanes.close()


async def test_a_simulated_clock_shortens_the_real_wait_for_the_pair_gap() -> None:
    # The demo runs the sender on a clock 120x faster than real time: a 6 s pair gap is 50 real
    # ms there, and sleeping it as 6 real seconds held the lane up.
    clock = SimulatedClock(start_ms=0, speed=100)
    lane = Lanes(
        bucket=TokenBucket(profile=ThroughputProfile.per_second(1000)),
        pair_rate=PairRate(min_gap_ms=6_000),
        clock_ms=clock.now_ms,
        real_seconds=clock.real_seconds,
    ).for_number("n1")
    await lane.turn(command("821"))
    started = time.monotonic()
    await asyncio.wait_for(lane.turn(command("821", command_id="again")), timeout=30)
    waited_s = time.monotonic() - started
    assert 0.03 <= waited_s < 3.0, f"waited {waited_s:.2f} s for 60 ms of real time"


def test_real_seconds_follow_the_clock_speed() -> None:
    assert SystemClock().real_seconds(6_000) == 6.0
    assert ManualClock().real_seconds(6_000) == 6.0
    assert SimulatedClock(start_ms=0, speed=120).real_seconds(6_000) == 0.05
    # Frozen time never moves: wait as a wall clock would and look again, never forever.
    assert SimulatedClock(start_ms=0, speed=0).real_seconds(6_000) == 6.0
