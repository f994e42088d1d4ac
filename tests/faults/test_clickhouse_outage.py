"""ClickHouse refusing every insert for a while under a mixed stream: the sink retries with
back-off and commits nothing it has not stored, so every event lands once when it is back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.runtime.store import Store, apply_migrations, open_store
from pipeline.settings import Settings
from pipeline.sinks.clickhouse import BatchSink, SinkConfig
from tests.faults.feeder import Feeder, wait_until
from tests.faults.mixed_stream import build_stream
from tests.faults.scale import fault_scale
from tests.faults.stack import FaultStack, verify
from tests.sinks.test_clickhouse_sink import FlakyStore

pytestmark = [pytest.mark.slow]

SCALE = fault_scale()
OUTAGE_S = 6.0 if SCALE.name == "small" else 60.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(Settings(data_dir=tmp_path / "sink"))
    apply_migrations(s)
    yield s
    s.close()


def test_clickhouse_outage_delays_but_never_loses_or_doubles(tmp_path: Path, store: Store) -> None:
    def query(sql: str) -> list[list[Any]]:
        return [list(row) for row in store.query(sql).rows]

    # The worker ingests, tags and sends; the sink runs here, over a store we can break.
    stack = FaultStack(tmp_path, roles="ingest,engagement,sender", query=query)
    down = FlakyStore(store, failures=10**9)  # ClickHouse is down from the start
    sink = BatchSink(
        down,  # type: ignore[arg-type]  # the Store protocol, duck-typed
        SinkConfig(
            bootstrap=stack.bootstrap, group_id="faults-sink", batch_size=500, batch_seconds=0.2
        ),
    )
    thread = threading.Thread(target=sink.run, daemon=True)
    try:
        thread.start()
        stream = build_stream(
            events=SCALE.events, sends=SCALE.sends, events_per_post=SCALE.events_per_post
        )
        stack.start()
        stack.send(stream)
        feeder = Feeder(stack.url, stream.posts).start()
        wait_until(lambda: down.attempts >= 3, timeout_s=60, what="inserts failing")
        time.sleep(OUTAGE_S)
        failed_during_outage = sink.stats.insert_failures
        assert sink.stats.commits == 0, "offsets committed while nothing could be stored"
        down.failures = 0  # ClickHouse is back
        feeder.wait(SCALE.timeout_s)
        verify(
            stack,
            stream,
            scenario=f"ClickHouse down {OUTAGE_S:.0f} s ({failed_during_outage} failed inserts)",
            answers=dict(feeder.answers),
            timeout_s=SCALE.timeout_s,
        )
        assert failed_during_outage >= 3
    finally:
        sink.stopping.set()
        thread.join(30)
        stack.close()
