"""The broker stops answering for a while (SIGSTOP: a hung broker, not an empty new one)
during a mixed stream: webhooks answer 503, Meta-style retries succeed once it is back,
and every event lands once."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.feeder import Feeder, wait_until
from tests.faults.mixed_stream import build_stream
from tests.faults.scale import fault_scale
from tests.faults.stack import FaultStack, verify

pytestmark = [pytest.mark.slow]

SCALE = fault_scale()
PAUSE_S = 8.0 if SCALE.name == "small" else 30.0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[FaultStack]:
    s = FaultStack(tmp_path, env={"WAPIPE_WHATSAPP_RATE_PER_S": "5"})
    yield s
    s.close()


def test_hung_broker_gets_503s_and_the_retries_land_once(stack: FaultStack) -> None:
    stream = build_stream(
        events=SCALE.events, sends=SCALE.sends, events_per_post=SCALE.events_per_post
    )
    stack.start()
    stack.send(stream)
    # Paced, so posts are still arriving while the broker hangs: unpaced, the faster ingest
    # had accepted the whole small stream before the pause began.
    feeder = Feeder(stack.url, stream.posts, rate_per_s=len(stream.posts) / SCALE.stream_s).start()
    wait_until(
        lambda: feeder.accepted >= 0.3 * len(stream.posts),
        timeout_s=SCALE.stream_s,
        what="30% accepted",
    )
    pid = stack.broker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(PAUSE_S)
    finally:
        os.kill(pid, signal.SIGCONT)
    feeder.wait(SCALE.timeout_s)
    verify(
        stack,
        stream,
        scenario=f"broker hung {PAUSE_S:.0f} s",
        answers=dict(feeder.answers),
        timeout_s=SCALE.timeout_s,
    )
    assert feeder.answers["503"] > 0, f"no 503 while the broker hung: {dict(feeder.answers)}"
