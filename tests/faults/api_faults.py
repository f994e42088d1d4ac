"""The Cloud API misbehaving in front of a running stack: a fault proxy between the sender
and the sandbox, and the scenario both API fault tests run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.fault_proxy import FaultProxy
from tests.faults.feeder import Feeder, wait_until
from tests.faults.mixed_stream import build_stream
from tests.faults.scale import fault_scale
from tests.faults.stack import Counts, FaultStack, verify

SCALE = fault_scale()
SEND_TIMEOUT_S = 1.0
SENDS = SCALE.sends * 2
# Slow enough that the sends span several fault windows, under the sandbox's 80/s.
RATE_PER_S = min(60, max(8, SENDS // 20))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[FaultStack, FaultProxy]]:
    proxy: FaultProxy | None = None

    def through_proxy(sandbox_url: str) -> str:
        nonlocal proxy
        proxy = FaultProxy(sandbox_url, hold_s=SEND_TIMEOUT_S * 1.5)
        return proxy.base_url

    s = FaultStack(
        tmp_path,
        api_base_url_for=through_proxy,
        status_webhooks=True,  # Meta's statuses are the sender's evidence after a timeout
        env={
            "WAPIPE_WHATSAPP_SEND_TIMEOUT_S": str(SEND_TIMEOUT_S),
            "WAPIPE_WHATSAPP_RATE_PER_S": str(RATE_PER_S),
        },
    )
    assert proxy is not None
    yield s, proxy
    s.close()
    proxy.close()


def run_through_faults(
    fault_stack: FaultStack,
    proxy: FaultProxy,
    cycle: tuple[tuple[str, float], ...],
    name: str,
    *,
    sends: int,
) -> Counts:
    # A few events for the ingest path beside the sends: the API's faults are the subject.
    stream = build_stream(events=60, sends=sends, events_per_post=SCALE.events_per_post)
    fault_stack.start()
    fault_stack.send(stream)
    feeder = Feeder(fault_stack.url, stream.posts).start()
    wait_until(lambda: proxy.answers["pass"] > 0, timeout_s=60, what="the first send")
    deadline = time.monotonic() + SCALE.timeout_s
    while len(fault_stack.sandbox.requests(accepted=True)) < 0.9 * sends:
        assert time.monotonic() < deadline, f"sends stalled: {dict(proxy.answers)}"
        for mode, seconds in cycle:
            proxy.set_mode(mode)
            time.sleep(seconds)
    proxy.set_mode("pass")
    feeder.wait(SCALE.timeout_s)
    counts = verify(
        fault_stack, stream, scenario=name, answers=dict(proxy.answers), timeout_s=SCALE.timeout_s
    )
    assert all(proxy.answers[mode] > 0 for mode, _s in cycle), proxy.answers
    # Every fault here is temporary, so every command is finally accepted.
    assert counts.outcomes == {"accepted": len(stream.commands)}, counts.outcomes
    return counts
