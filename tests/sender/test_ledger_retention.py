"""The sender forgets finished commands after WAPIPE_SENDER_LEDGER_RETENTION_HOURS.

Without it the ledger kept one done mark per command ever sent: a worker's memory and its
recovery time grew with every message (docs/reliability.md). A done mark now carries its time
and partition; a timer writes a tombstone for each one past the retention, in the partitions
the worker owns. A copy of a command redelivered after that is sent again: the retention must
outlast any redelivery (the commands topic's retention).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import faust
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.runtime.broker import EmbeddedBroker
from pipeline.sandbox import SandboxConfig
from pipeline.sinks.command_ledger import (
    DONE,
    FINISHING,
    IN_FLIGHT,
    WAITING,
    CommandLedger,
    done_mark,
)
from pipeline.sinks.whatsapp import ledger_prune_interval_s
from pipeline.topics import COMMANDS, RESULTS
from tests.sender.conftest import start_worker
from tests.sender.crash_history import LEDGER_TABLE, read_topic
from tests.sender.harness import (
    SandboxProcess,
    TopicReader,
    command,
    produce_commands,
    worker_env,
)
from tests.support.workers import WorkerProcess

APP = faust.App("ledger-retention-unit", broker="kafka://127.0.0.1:1", autodiscover=False)
LEDGER = CommandLedger(APP, partitions=4)

entries = st.dictionaries(
    st.text("abc", min_size=1, max_size=4),
    st.fixed_dictionaries(
        {
            "state": st.sampled_from([DONE, IN_FLIGHT, WAITING, FINISHING]),
            "done_ms": st.none() | st.integers(0, 1_000),
            "partition": st.none() | st.integers(0, 3),
        }
    ),
)


@given(
    table=entries,
    now_ms=st.integers(0, 2_000),
    retention_ms=st.integers(0, 1_000),
    owned=st.sets(st.integers(0, 3)),
)
def test_forgets_exactly_the_old_done_marks_it_owns(
    table: dict[str, dict[str, object]], now_ms: int, retention_ms: int, owned: set[int]
) -> None:
    LEDGER.table.data.clear()
    for key, entry in table.items():
        LEDGER.table.data[key] = {k: v for k, v in entry.items() if v is not None}
    expected = {
        (key, e["partition"])
        for key, e in table.items()
        if e["state"] == DONE
        and e["done_ms"] is not None
        and e["done_ms"] <= now_ms - retention_ms  # type: ignore[operator]
        and e["partition"] in owned
    }
    found = LEDGER.forgettable(now_ms, retention_ms=retention_ms, partitions=owned)
    assert set(found) == expected
    assert len(found) == len(expected)


def test_done_entry_carries_what_forgetting_needs() -> None:
    entry = done_mark("accepted", wamid="wamid.1", partition=2, now_ms=7)
    assert entry == {
        "state": DONE,
        "outcome": "accepted",
        "wamid": "wamid.1",
        "done_ms": 7,
        "partition": 2,
    }


def test_prune_interval_is_a_tenth_of_the_retention_within_bounds() -> None:
    assert ledger_prune_interval_s(192) == 3600.0
    assert ledger_prune_interval_s(1) == 360.0
    assert ledger_prune_interval_s(0.0001) == 1.0


@pytest.fixture(scope="module")
def sandbox() -> SandboxProcess:
    box = SandboxProcess(SandboxConfig(throughput_per_s=50))
    yield box
    box.stop()


def _ledger_history(bootstrap: str, app_id: str) -> dict[str, list[dict[str, object] | None]]:
    history: dict[str, list[dict[str, object] | None]] = {}
    for message in read_topic(bootstrap, f"{app_id}-{LEDGER_TABLE}-changelog", idle_s=1.0):
        value = message.value()
        history.setdefault(json.loads(message.key()), []).append(
            None if value is None else json.loads(value)
        )
    return history


@pytest.mark.broker
def test_done_marks_are_forgotten_after_the_retention(
    broker: EmbeddedBroker,
    sandbox: SandboxProcess,
    tmp_path: Path,
    app_id: str,
    workers: list[WorkerProcess],
) -> None:
    bootstrap = broker.bootstrap_servers
    retention_s = 2.0
    workers.append(
        start_worker(
            broker,
            tmp_path,
            app_id,
            worker_env(
                sandbox.base_url,
                WAPIPE_SENDER_LEDGER_RETENTION_HOURS=f"{retention_s / 3600:.8f}",
            ),
            "sender",
        )
    )
    sent = [command(f"8210{i:08d}", command_id=f"keep-{i}") for i in range(3)]
    before = len(sandbox.requests())
    produce_commands(bootstrap, sent)
    results = TopicReader(bootstrap, RESULTS)
    try:
        ids = {c.command_id for c in sent}
        results.wait_for(lambda ev: ids <= {r.command_id for r in ev}, timeout_s=30)
        done_at = time.time()

        # Each command's history ends in a done mark (with its time and the partition of
        # the command), then, a retention later, a tombstone.
        deadline = time.monotonic() + 30
        while True:
            history = _ledger_history(bootstrap, app_id)
            if all(history.get(i, [])[-1:] == [None] for i in ids):
                break
            assert time.monotonic() < deadline, f"no tombstones: {history}"
            time.sleep(0.5)
        assert time.time() - done_at >= retention_s - 0.5  # not before the retention
        partitions = {m.partition() for m in read_topic(bootstrap, COMMANDS.name, idle_s=1.0)}
        for command_id in ids:
            *_, done, tombstone = history[command_id]
            assert tombstone is None
            assert done is not None and done["state"] == DONE
            assert isinstance(done["done_ms"], int) and done["partition"] in partitions

        # Forgotten means forgotten: a copy redelivered now is a new command to the sender.
        produce_commands(bootstrap, sent[:1])
        deadline = time.monotonic() + 30
        while len(results.events) < 4:
            assert time.monotonic() < deadline, "the copy got no result"
            results.poll()
        assert [r.command_id for r in results.events].count("keep-0") == 2
        requests = sandbox.requests()[before:]
        assert [r.biz_opaque_callback_data for r in requests].count("keep-0") == 2
    finally:
        results.close()
