"""The worker's edges: SQL through the running worker, and start failures as one line.

The path events → Kafka → sink → chDB is tested in tests/sinks; the whole system in
tests/e2e/test_demo.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pipeline.runtime.broker import free_port
from tests.support.workers import WorkerProcess

WAPIPE = [sys.executable, "-m", "pipeline.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAPIPE_")}
    env.update({"WAPIPE_DATA_DIR": str(tmp_path / "var"), "WAPIPE_LOG_FORMAT": "json"})
    env.update(extra)
    return env


def _tansu_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "tansu broker"], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


def test_sql_goes_through_the_running_worker_and_refuses_writes(tmp_path: Path) -> None:
    from pipeline.runtime.broker import EmbeddedBroker

    with EmbeddedBroker() as broker:
        worker = WorkerProcess(
            bootstrap=broker.bootstrap_servers,
            data_dir=tmp_path / "var",
            app_id="wapipe-sql-test",
            roles="sink,sql",
        ).start()
        try:
            env = _env(tmp_path)
            ok = subprocess.run(
                [*WAPIPE, "sql", "SELECT count() FROM inbound_messages", "--format", "csv"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert ok.returncode == 0, ok.stderr
            assert ok.stdout.split()[-1] == "0"
            refused = subprocess.run(
                [*WAPIPE, "sql", "DROP TABLE inbound_messages"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert refused.returncode == 2
            assert "read-only" in refused.stderr
            direct = httpx.post(worker.url + "/sql", content=b"INSERT INTO purchases VALUES (1)")
            assert direct.status_code == 400
            with_parameters = httpx.post(
                worker.url + "/sql",
                json={"sql": "SELECT {n:UInt8} + 1 AS two", "parameters": {"n": 1}},
            )
            assert with_parameters.json() == {"columns": ["two"], "rows": [[2]]}
            # The report's named queries run through the worker too (chDB is the worker's).
            report = subprocess.run(
                [*WAPIPE, "report"], env=env, capture_output=True, text=True, timeout=120
            )
            assert report.returncode == 0, report.stderr
            assert "Funnel per campaign" in report.stdout
        finally:
            assert worker.stop() == 0, worker.log_tail()
    # With the worker gone, the report opens chDB itself and writes the HTML file.
    html = tmp_path / "report.html"
    offline = subprocess.run(
        [*WAPIPE, "report", "--html", str(html)],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert offline.returncode == 0, offline.stderr
    assert html.read_text().lower().startswith("<!doctype html>")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WAPIPE_KAFKA_PARTITIONS": "many"}, "WAPIPE_KAFKA_PARTITIONS"),
        ({"CALF_TANSU_BIN": "/nonexistent/tansu"}, "Tansu broker binary"),
    ],
    ids=["bad-setting", "missing-broker-binary"],
)
def test_start_failures_are_one_clear_line(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    done = subprocess.run(
        [*WAPIPE, "run"], env=_env(tmp_path, **env), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("wapipe:")]
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_busy_broker_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*WAPIPE, "run"],
            env=_env(tmp_path, WAPIPE_BROKER_PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "in use by another process" in done.stderr and "WAPIPE_BROKER_PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_locked_chdb_directory_is_one_clear_line(tmp_path: Path) -> None:
    from pipeline.runtime.store import open_store
    from pipeline.settings import load_settings

    holder = open_store(load_settings(data_dir=tmp_path / "var"))
    try:
        done = subprocess.run(
            [*WAPIPE, "run"],
            env=_env(tmp_path, WAPIPE_WEB_PORT=str(free_port())),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.close()
    assert done.returncode == 2, done.stderr[-2000:]
    assert "wapipe:" in done.stderr and "clickhouse" in done.stderr.lower()
    assert "Traceback" not in done.stderr
