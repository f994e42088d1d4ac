"""`wapipe demo` at a small size: every phase runs, and the report agrees with raw SQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from pipeline.runtime.broker import free_port
from pipeline.runtime.store import open_store
from pipeline.settings import Settings


def _children_named(word: str) -> set[int]:
    out = subprocess.run(["pgrep", "-f", word], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


@pytest.mark.slow
def test_small_demo_reports_what_flowed_through_kafka(tmp_path: Path) -> None:
    before = _children_named("tansu broker") | _children_named("pipeline.cli sandbox")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAPIPE_")}
    env.update({"WAPIPE_DATA_DIR": str(tmp_path / "var"), "WAPIPE_WEB_PORT": str(free_port())})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "demo",
            "--customers",
            "150",
            "--days",
            "2.6",
            "--speed",
            "14400",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Funnel per campaign" in done.stdout and "Segment efficiency" in done.stdout
    after = _children_named("tansu broker") | _children_named("pipeline.cli sandbox")
    assert after - before == set(), "the demo left a broker or sandbox running"

    report = json.loads((tmp_path / "var" / "report.json").read_text())
    assert (tmp_path / "var" / "report.html").read_text().lower().startswith("<!doctype html>")
    funnel = {row["key"]: row for row in report["funnel_by_campaign"]}
    assert {"demo-everyone", "demo-high-value"} <= set(funnel)

    # Independently of the named queries: count from the raw tables.
    store = open_store(Settings(data_dir=tmp_path / "var" / "demo"), read_only=True)
    try:
        sent: dict[str, set[str]] = defaultdict(set)
        for campaign, wamid in store.query(
            "SELECT campaign_id, wamid FROM outbound_messages FINAL "
            "WHERE outcome = 'accepted' AND wamid IS NOT NULL"
        ).rows:
            sent[campaign or ""].add(wamid)
        statuses: dict[str, set[str]] = defaultdict(set)
        for wamid, status in store.query("SELECT wamid, status FROM message_status").rows:
            statuses[wamid].add(status)
        purchases = store.query("SELECT uniqExact(order_id) FROM purchases").scalar()
    finally:
        store.close()
    for campaign in ("demo-everyone", "demo-high-value"):
        wamids = sent[campaign]
        delivered = {w for w in wamids if statuses[w] & {"delivered", "read"}}
        read = {w for w in wamids if "read" in statuses[w]}
        row = funnel[campaign]
        assert (int(row["sent"]), int(row["delivered"]), int(row["read"])) == (
            len(wamids),
            len(delivered),
            len(read),
        ), f"report and raw tables disagree for {campaign}: {row}"
        assert len(wamids) > 0, f"{campaign} sent nothing"
    assert purchases >= report["counts"]["history_orders"] * 0.99
