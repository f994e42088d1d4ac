"""A worker pauses, in aiokafka itself, the partitions it never reads once its tables are
recovered (pipeline/runtime/faust_unread_partitions.py), and its tables still work: written,
recovered after a SIGKILL, and paused again after that recovery."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from pipeline import topics
from pipeline.events import InboundMessage
from pipeline.runtime.broker import EmbeddedBroker
from tests.agents.conftest import PARTITIONS
from tests.agents.streams import produce, read_all, wait_for
from tests.agents.world import T0, keyed
from tests.autoreply.stack import RULES_PATH
from tests.support.workers import WorkerProcess

ENV = {"WAPIPE_AUTOREPLY_RULES_PATH": str(RULES_PATH), "WAPIPE_LOG_LEVEL": "info"}


def paused_lines(log: Path, *, timeout_s: float = 90) -> list[dict[str, object]]:
    """The worker's ``consumer.unread_paused`` log records, once there is one."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [
            json.loads(line)
            for line in log.read_text(errors="replace").splitlines()
            if "consumer.unread_paused" in line and line.startswith("{")
        ]
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no consumer.unread_paused in {log}:\n{log.read_text()[-3000:]}")


def keyword(customer: str, n: int) -> InboundMessage:
    return InboundMessage(
        event_id=f"wamid.unread-{n}",
        business_number_id="106540352242922",
        customer=customer,
        text="any discount today?",
        ts_ms=T0 + n * 60_000,  # a minute apart: inside the rule's one-hour cooldown
    )


def test_own_changelog_and_leader_topic_are_paused_and_the_table_still_recovers(
    fresh_broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    bootstrap = fresh_broker.bootstrap_servers
    worker = start_worker("autoreply", env=ENV)
    changelog = f"{worker.app_id}-autoreply-cooldowns-changelog"
    leader = f"{worker.app_id}-__assignor-__leader"
    first = paused_lines(worker.log_path)[0]
    assert first["topics"] == sorted([changelog, leader])
    assert first["partitions"] == PARTITIONS + 1, "every changelog partition and the leader's"

    customer = "821077770000"
    produce(bootstrap, keyed([keyword(customer, 1)]))  # replied; the cooldown table written

    def replies() -> list[object]:
        return read_all(bootstrap, topics.COMMANDS, partitions=PARTITIONS)

    wait_for(replies, lambda got: len(got) == 1, timeout_s=60, what="the first reply")

    # SIGKILL, then the same worker again: its cooldown comes back from the changelog it
    # wrote, so a second keyword inside the cooldown gets no reply.
    worker.kill()
    again = start_worker("autoreply", app_id=worker.app_id, env=ENV)
    after_restart = paused_lines(again.log_path)[0]
    assert after_restart["topics"] == sorted([changelog, leader])
    produce(bootstrap, keyed([keyword(customer, 2), keyword("821077770001", 3)]))
    got = wait_for(
        replies,
        lambda got: any(c.customer == "821077770001" for c in got),
        timeout_s=60,
        what="the other customer's reply (both messages processed)",
    )
    assert [c.customer for c in got].count(customer) == 1, "cooldown lost across the restart"
