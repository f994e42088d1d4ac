"""Only the roles that use the store open it: a sender or agent worker starts without chDB
(no session, no migrations, no background threads), a sink worker with it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipeline.runtime.store import chdb_path
from pipeline.runtime.store_chdb import LOCK_FILE_NAME
from pipeline.settings import Settings
from tests.support.workers import WorkerProcess


def chdb_dir_of(worker: WorkerProcess) -> Path:
    return chdb_path(Settings(data_dir=worker.data_dir))


def threads_of(worker: WorkerProcess) -> int:
    assert worker.proc is not None
    return len(list(Path(f"/proc/{worker.proc.pid}/task").iterdir()))


def test_only_the_sink_and_sql_roles_open_the_store(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    agents = start_worker("sender,autoreply,engagement")
    assert not (chdb_dir_of(agents) / LOCK_FILE_NAME).exists(), "no chDB for these roles"
    sink = start_worker("sink")
    assert (chdb_dir_of(sink) / LOCK_FILE_NAME).exists(), "the sink opens its store"
    # chDB's pools are most of a worker's threads: the agents' worker has few.
    assert threads_of(agents) < threads_of(sink)
