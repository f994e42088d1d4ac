"""The embedded Tansu process: it stops promptly and never outlives the process that started it.

``make run`` must end with no broker left behind, even when wapipe is SIGKILLed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.runtime.broker import EmbeddedBroker
from tests.broker.kafka_io import consumer, create_topic, drain, produce

REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie waiting for its reaper is already dead


def test_stop_is_prompt_while_clients_are_still_connected(tansu_only: None) -> None:
    # Tansu 0.6.0 waits 5 s on SIGTERM for connected clients; EmbeddedBroker.stop sends SIGINT.
    broker = EmbeddedBroker()
    broker.start()
    client = consumer(broker.bootstrap_servers, group="g.lifecycle")
    try:
        assert create_topic(broker.bootstrap_servers, "conf.lifecycle", partitions=1) is None
        produce(broker.bootstrap_servers, "conf.lifecycle", [(b"k", b"v")])
        client.subscribe(["conf.lifecycle"])
        drain(client, idle_s=0.2, limit_s=2)  # a live connection, mid-join
        pid = broker.pid
        assert pid is not None
        started = time.monotonic()
        broker.stop()
        took_s = time.monotonic() - started
    finally:
        broker.stop()
        client.close()
    assert not alive(pid), f"broker {pid} still running after stop()"
    assert took_s < 2.0, f"stop() took {took_s:.1f}s with a client connected (SIGTERM drain?)"


PARENT = """
import sys, time
from pipeline.runtime.broker import EmbeddedBroker
broker = EmbeddedBroker()
broker.start()
print("BROKER_PID", broker.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_broker_dies_when_its_parent_is_sigkilled(tansu_only: None) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        lines = iter(parent.stdout.readline, "")
        broker_pid = int(next(line for line in lines if line.startswith("BROKER_PID")).split()[1])
        assert alive(broker_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 8  # PDEATHSIG → SIGTERM; Tansu may drain up to 5 s
        while alive(broker_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        orphan = alive(broker_pid)
    finally:
        if parent.poll() is None:
            parent.kill()
    if orphan:
        os.kill(broker_pid, signal.SIGKILL)
    assert not orphan, f"broker {broker_pid} outlived its SIGKILLed parent (PDEATHSIG lost?)"
