"""The worker's attribution refresher: runs on its interval and survives failed runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from pipeline.errors import StoreError
from pipeline.runtime.store_api import QueryResult
from pipeline.sinks.attribution_refresh import AttributionRefresher


class _DownStore:
    """A store whose every statement fails: ClickHouse down."""

    read_only = False

    def __init__(self) -> None:
        self.calls = 0

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        self.calls += 1
        raise StoreError("connection refused")

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        self.query(sql, parameters)

    def insert_arrow(self, table: str, batch: Any) -> int:
        raise AssertionError("the refresher never inserts Arrow batches")

    def close(self) -> None:
        pass


def test_failed_runs_are_counted_and_the_refresher_keeps_going() -> None:
    store = _DownStore()
    refresher = AttributionRefresher(store, interval_s=0.01)
    thread = threading.Thread(target=refresher.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while refresher.failures < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    refresher.stopping.set()
    thread.join(10)
    assert not thread.is_alive(), "stopping ends the loop"
    assert refresher.failures >= 3 and refresher.runs == 0
    assert store.calls >= 3
