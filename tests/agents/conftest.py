from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.runtime.broker import EmbeddedBroker
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.topics import ALL_TOPICS
from tests.support.workers import WorkerProcess

PARTITIONS = 4
#: Long enough that the worker's own sweep timer never fires: tests send ticks themselves.
NO_TIMER = {"WAPIPE_ENGAGEMENT_SWEEP_S": "3600"}


@pytest.fixture
def fresh_broker() -> Iterator[EmbeddedBroker]:
    """A broker per test: the pipeline's topic names are fixed, so tests must not share them."""
    with EmbeddedBroker() as b:
        # Created before anything is produced: auto-created topics get the broker's default
        # partition count, and co-partitioning needs PARTITIONS everywhere.
        ensure_topics(b.bootstrap_servers, ALL_TOPICS, partitions=PARTITIONS, replication=1)
        yield b


@pytest.fixture
def start_worker(
    fresh_broker: EmbeddedBroker, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    made: list[WorkerProcess] = []

    def start(
        roles: str,
        *,
        app_id: str | None = None,
        env: dict[str, str] | None = None,
        module: str = "pipeline.cli",
    ) -> WorkerProcess:
        worker = WorkerProcess(
            bootstrap=fresh_broker.bootstrap_servers,
            data_dir=tmp_path / f"w{len(made)}",
            app_id=app_id or f"agents-{uuid.uuid4().hex[:8]}",
            roles=roles,
            env={**NO_TIMER, "WAPIPE_LOG_LEVEL": "warning", **(env or {})},
            partitions=PARTITIONS,
            module=module,
        )
        made.append(worker)
        return worker.start()

    yield start
    for worker in made:
        worker.kill()
