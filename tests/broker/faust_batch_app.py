"""A Faust app for the fetch-batch tests: a FetchBatchTopic agent beside a per-record one.

The batch agent writes one table entry per record it received (``"partition:offset"``, through
:class:`~pipeline.agents.batch_output.BatchOutput`, as the engagement agent writes) and
acknowledges each batch with ``ack_fetched`` once that is flushed. With ``per_record`` set to
``1``, the counter agent of :mod:`tests.broker.faust_counter_app` reads the same topic record
by record; set to ``beside``, it reads ``<TOPIC>-beside`` instead, and set to ``shared`` it reads
the same topic; with both of these the batch agent has the production queue bound
(``FETCH_BATCH_QUEUE``), so a test can hold the batch agent and watch the counter go on.
While the file ``batches-closed`` exists in the data directory the batch agent waits before
each batch, once it has done as many batches as the file says (empty: none), so a test can
hold it back. Run it as a worker process::

    python -m tests.broker.faust_batch_app BOOTSTRAP TOPIC APP_ID WEB_PORT DATA_DIR PARTITIONS \
        PER_RECORD   # 0, 1, beside or shared

``GET /counts`` answers ``{"recovered", "rebalancing", "counts": {key: n}, "seen": [...],
"batches": n, "largest": n}``.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from pathlib import Path

import faust

from pipeline.agents.batch_output import BatchOutput
from pipeline.agents.state_codec import register_state_codec, use_state_codec
from pipeline.app import faust_app
from pipeline.runtime.faust_fetch_batches import (
    FETCH_BATCH_QUEUE,
    FetchBatchTopic,
    FetchedBatch,
    ack_fetched,
)
from pipeline.settings import Settings
from tests.broker.faust_counter_app import count_records, run_app, serve_counts

GATE = "batches-closed"


def batch_app(
    *,
    bootstrap: str,
    topic: str,
    app_id: str,
    web_port: int,
    data_dir: Path,
    partitions: int,
    per_record: str,
) -> faust.App:
    settings = Settings(
        app_id=app_id, web_port=web_port, data_dir=data_dir, kafka_partitions=partitions
    )
    app = faust_app(settings, bootstrap=bootstrap)
    seen = app.Table("seen", default=None, partitions=partitions, use_partitioner=True)
    register_state_codec()
    use_state_codec(seen)  # UTF-8 changelog keys, as BatchOutput writes them (the engagement way)
    output = BatchOutput(app, partitions=partitions)
    stats = {"batches": 0, "largest": 0}
    gate = data_dir / GATE

    # Room for every batch of a test while the gate holds the agent, when both agents read
    # one topic: its records are the per-record agent's too, and past the queue's bound the
    # fetch waits for the batch agent (pipeline/runtime/faust_fetch_batches.py), so "the
    # per-record agent counts everything meanwhile" would race.
    maxsize = FETCH_BATCH_QUEUE if per_record in ("beside", "shared") else 1000

    @app.agent(FetchBatchTopic(app, topics=[topic], max_records=100, maxsize=maxsize))
    async def collect(stream: faust.StreamT[FetchedBatch]) -> None:
        async for batch in stream:
            while gate.exists() and stats["batches"] >= int(gate.read_text() or 0):
                await asyncio.sleep(0.1)
            stats["batches"] += 1
            stats["largest"] = max(stats["largest"], len(batch))
            for tp, records in batch.parts:
                for record in records:
                    output.put(seen, f"{tp.partition}:{record.offset}", 1, partition=tp.partition)
            await output.flush()
            ack_fetched(app, batch)

    counted = f"{topic}-beside" if per_record == "beside" else topic
    counts = count_records(app, counted, partitions) if per_record != "0" else None
    serve_counts(app, counts, lambda: {"seen": sorted(key for key, _ in seen.items()), **stats})
    return app


def main(argv: list[str]) -> None:
    *common, per_record = argv
    run_app(functools.partial(batch_app, per_record=per_record), common)


if __name__ == "__main__":
    main(sys.argv[1:])
