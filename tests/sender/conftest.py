from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.runtime.broker import EmbeddedBroker
from tests.support.workers import WorkerProcess


def start_worker(
    broker: EmbeddedBroker, tmp_path: Path, app_id: str, env: dict[str, str], roles: str
) -> WorkerProcess:
    return WorkerProcess(
        bootstrap=broker.bootstrap_servers, data_dir=tmp_path, app_id=app_id, roles=roles, env=env
    ).start()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
