"""`wapipe alarms` (from ClickHouse) and `wapipe campaign pause/resume` (onto the broker)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline import topics
from pipeline.runtime.broker import EmbeddedBroker
from tests.agents.conftest import PARTITIONS
from tests.agents.streams import read_all

WAPIPE = [sys.executable, "-m", "pipeline.cli"]


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WAPIPE_")}
    return subprocess.run(
        [*WAPIPE, *args],
        env={**clean, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def alarm_row(alarm_id: str, state: str, ts_ms: int, *, priority: bool = False) -> str:
    kind, scope = alarm_id.split(":", 1)
    return (
        f"('{alarm_id}', '{kind}', '{scope}', 0.02, 0.05, 120, '{state}', "
        f"{'true' if priority else 'false'}, 'd', {ts_ms})"
    )


def test_alarms_lists_firing_first_then_priority_then_newest(tmp_path: Path) -> None:
    from pipeline.runtime.store import apply_migrations, open_store
    from pipeline.settings import Settings

    settings = Settings(data_dir=tmp_path / "var")
    store = open_store(settings)
    try:
        apply_migrations(store)
        rows = [
            alarm_row("reply_rate:campaign:old", "firing", 1_000),
            alarm_row("reply_rate:campaign:old", "resolved", 2_000),
            alarm_row("sla_unanswered:821000000001", "firing", 3_000),
            alarm_row("sla_unanswered:821000000002", "firing", 1_500, priority=True),
            alarm_row("delivery_rate:number:155", "firing", 4_000),
        ]
        store.command("INSERT INTO alarms VALUES " + ", ".join(rows))
    finally:
        store.close()

    done = run_cli("alarms", WAPIPE_DATA_DIR=str(tmp_path / "var"))
    assert done.returncode == 0, done.stderr
    listed = [line for line in done.stdout.splitlines() if "firing" in line or "resolved" in line]
    scopes = [next(s for s in ("0002", "0001", "155", "old") if s in line) for line in listed]
    assert scopes == ["0002", "155", "0001"], done.stdout  # priority, then newest; no resolved

    everything = run_cli("alarms", "--resolved", WAPIPE_DATA_DIR=str(tmp_path / "var"))
    assert "resolved" in everything.stdout and "old" in everything.stdout


def test_campaign_pause_and_resume_reach_the_control_topic(fresh_broker: EmbeddedBroker) -> None:
    bootstrap = fresh_broker.bootstrap_servers
    for action in ("pause", "resume"):
        done = run_cli(
            "campaign",
            action,
            "spring",
            "--reason",
            f"{action} by test",
            WAPIPE_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        )
        assert done.returncode == 0, done.stderr
    controls = read_all(bootstrap, topics.CAMPAIGNS, partitions=PARTITIONS)
    assert [(c.campaign_id, c.action, c.reason) for c in controls] == [
        ("spring", "pause", "pause by test"),
        ("spring", "resume", "resume by test"),
    ]


def test_campaign_pause_without_a_broker_says_what_to_set() -> None:
    done = run_cli("campaign", "pause", "spring")
    assert done.returncode == 2
    assert "WAPIPE_KAFKA_BOOTSTRAP_SERVERS" in done.stderr
