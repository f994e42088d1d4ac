"""Sink: every event topic into its ClickHouse table, in batches, offsets committed after insert.

One Faust agent per topic. ``take_events`` hands over up to ``sink_batch_size`` events or
whatever arrived within ``sink_batch_seconds``; Faust acks them (and so may commit their
offsets) only when the loop body returns, and the body returns only after the insert
succeeded: a failing ClickHouse is retried with back-off, never skipped. Rows deduplicate on
event id in the tables, so the redelivery that follows a crash adds nothing visible.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any

import structlog

from pipeline import topics
from pipeline.app import WapipeApp
from pipeline.deadletter import dead_letter
from pipeline.errors import StoreError
from pipeline.runtime.store import TABLE_FOR_RECORD, Store, events_to_arrow
from pipeline.topics import TopicSpec

log = structlog.get_logger(__name__)

SUNK_TOPICS: tuple[TopicSpec, ...] = (
    topics.INBOUND,
    topics.STATUS,
    topics.PURCHASES,
    topics.RESULTS,
    topics.TAGS,
    topics.CONSENT,
    topics.ALARMS,
    topics.DEADLETTER,
)

MAX_BACKOFF_S = 30.0


class SinkStats:
    """Counters the /metrics view and tests read."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.batches = 0
        self.insert_failures = 0

    def add(self, table: str, rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows
        self.batches += 1


async def insert_with_retry(
    store: Store,
    table: str,
    events: Sequence[Any],
    stats: SinkStats,
    *,
    rng: random.Random | None = None,
) -> None:
    """Insert ``events`` into ``table``; on failure back off (full jitter) and retry forever."""
    rng = rng or random.Random()
    batch = events_to_arrow(events)
    attempt = 0
    loop = asyncio.get_running_loop()
    while True:
        try:
            started = time.perf_counter()
            # chDB blocks while it inserts: keep the event loop free for other partitions.
            await loop.run_in_executor(None, store.insert_arrow, table, batch)
            stats.add(table, len(events))
            log.debug(
                "sink.inserted",
                table=table,
                rows=len(events),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return
        except StoreError as exc:
            attempt += 1
            stats.insert_failures += 1
            delay = rng.uniform(0, min(MAX_BACKOFF_S, 0.1 * 2**attempt))
            log.warning("sink.insert_failed", table=table, attempt=attempt, error=str(exc))
            await asyncio.sleep(delay)


def register(wapp: WapipeApp) -> None:
    store = wapp.store
    if store is None:
        return  # this worker does not own the store (e.g. a sender-only process)
    stats = SinkStats()
    wapp.extras["sink_stats"] = stats
    size, within = wapp.settings.sink_batch_size, wapp.settings.sink_batch_seconds
    for spec in SUNK_TOPICS:
        table = TABLE_FOR_RECORD[spec.record.__name__]
        _register_topic_sink(wapp, spec, table, store, stats, size, within)


def _register_topic_sink(
    wapp: WapipeApp,
    spec: TopicSpec,
    table: str,
    store: Store,
    stats: SinkStats,
    size: int,
    within: float,
) -> None:
    async def sink(stream: Any) -> None:
        async for batch in stream.take_events(size, within=within):
            good = []
            for event in batch:
                if isinstance(event.value, spec.record):
                    good.append(event.value)
                else:
                    await dead_letter(
                        wapp,
                        source=f"sink:{table}",
                        reason=f"expected {spec.record.__name__}, got {type(event.value).__name__}",
                        raw=event.message.value or b"",
                    )
            if good:
                await insert_with_retry(store, table, good, stats)

    sink.__name__ = f"sink_{table}"
    sink.__qualname__ = sink.__name__
    wapp.app.agent(wapp.topic(spec), name=f"sink.{table}")(sink)
