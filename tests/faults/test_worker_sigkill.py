"""SIGKILL the worker at random points of a mixed stream (webhooks, purchases, campaign
sends) and restart it each time: nothing accepted is lost, nothing is stored or sent twice."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.feeder import Feeder
from tests.faults.mixed_stream import build_stream
from tests.faults.scale import fault_scale
from tests.faults.stack import FaultStack, verify

pytestmark = [pytest.mark.slow]

SCALE = fault_scale()  # read at import: the test fixtures clear WAPIPE_* variables


SEND_RATE_PER_S = min(60, max(3, SCALE.sends // 15))  # the sends last as long as the stream


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[FaultStack]:
    # With Meta's status webhooks, as in production: a send in flight at a kill is confirmed
    # by its "sent" status, not written off as rejected.
    s = FaultStack(
        tmp_path,
        env={"WAPIPE_WHATSAPP_RATE_PER_S": str(SEND_RATE_PER_S)},
        status_webhooks=True,
    )
    yield s
    s.close()


def test_sigkilled_worker_loses_and_duplicates_nothing(stack: FaultStack) -> None:
    stream = build_stream(
        events=SCALE.events, sends=SCALE.sends, events_per_post=SCALE.events_per_post
    )
    rng = random.Random(31)
    # Kill points: shares of the stream's requests, drawn once, in order.
    kill_at = sorted(rng.uniform(0.1, 0.9) for _ in range(SCALE.kills))
    stack.start()
    stack.send(stream)
    rate_per_s = len(stream.posts) / SCALE.stream_s
    feeder = Feeder(stack.url, stream.posts, rate_per_s=rate_per_s).start()
    for share in kill_at:
        deadline = time.monotonic() + SCALE.timeout_s
        while feeder.accepted < share * len(stream.posts) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 1 / rate_per_s))  # not always right after an answer
        stack.kill_and_restart()
    feeder.wait(SCALE.timeout_s)
    counts = verify(
        stack,
        stream,
        scenario="worker SIGKILL",
        answers=dict(feeder.answers),
        timeout_s=SCALE.timeout_s,
    )
    assert counts.restarts == SCALE.kills
    refused = sum(n for a, n in feeder.answers.items() if a != "200")
    assert refused > 0, "no request met a dead worker: the kills missed the stream"
