"""Agents fed whole fetches (pipeline/runtime/faust_fetch_batches.py), on the real broker.

Real worker processes (tests/broker/faust_batch_app.py): a FetchBatchTopic agent gets every
record in batches no larger than its bound and the group commits only what it acknowledged;
a partition also read record by record is committed only as far as both agents finished; a
batch agent held at a full queue does not hold up the per-record agent beside it; a worker
SIGKILLed mid-stream loses nothing once another takes over.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import FAUST_PARTITIONS, BrokerUnderTest
from tests.broker.faust_batch_app import GATE
from tests.broker.faust_worker import CounterWorker
from tests.broker.kafka_io import Record, committed, create_topic, produce
from tests.broker.test_faust_worker import expected_counts, produce_counts, wait_committed

PARTITIONS = FAUST_PARTITIONS
RECOVER_LIMIT_S = 60.0


def start(
    made: list[CounterWorker],
    kafka: BrokerUnderTest,
    source: str,
    app_id: str,
    tmp: Path,
    *,
    per_record: bool | str,
    closed: bool = False,
) -> CounterWorker:
    data_dir = tmp / f"worker{len(made)}"
    data_dir.mkdir(parents=True)
    if closed:
        (data_dir / GATE).touch()
    worker = CounterWorker(
        bootstrap=kafka.bootstrap,
        topic=source,
        app_id=app_id,
        data_dir=data_dir,
        partitions=PARTITIONS,
        module="tests.broker.faust_batch_app",
        extra_args=(per_record if isinstance(per_record, str) else "1" if per_record else "0",),
    )
    made.append(worker)
    worker.start().wait_recovered(limit_s=RECOVER_LIMIT_S)
    return worker


def offsets_of(sent: list[Record]) -> set[str]:
    return {f"{r.partition}:{r.offset}" for r in sent}


def assert_all_seen_and_committed(
    worker: CounterWorker, kafka: BrokerUnderTest, source: str, app_id: str, sent: list[Record]
) -> dict[str, Any]:
    """Every record sent reached the batch agent, and the group committed them all."""
    status = wait_seen(worker, len(sent), limit_s=RECOVER_LIMIT_S)
    assert set(status["seen"]) == offsets_of(sent)
    wait_committed(kafka, source, app_id, sent, limit_s=15)
    return status


def wait_seen(worker: CounterWorker, wanted: int, *, limit_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = worker.status() or status  # type: ignore[assignment]
        if len(status.get("seen", ())) >= wanted:
            return status
        time.sleep(0.2)
    raise AssertionError(f"batch agent saw {len(status.get('seen', ()))} of {wanted} records")


@pytest.mark.slow
def test_batch_agent_gets_every_record_in_bounded_batches_and_commits_them(
    kafka: BrokerUnderTest, source: str, unique: str, workers: list[CounterWorker], tmp_path: Path
) -> None:
    app_id = f"conf-batches-all-{unique}"
    worker = start(workers, kafka, source, app_id, tmp_path, per_record=False)
    sent = produce_counts(kafka, source, keys=40, rounds=10)
    status = assert_all_seen_and_committed(worker, kafka, source, app_id, sent)
    assert status["batches"] < len(sent) / 4, "records should arrive many to a batch"
    assert status["largest"] <= 100, "a batch is split at the topic's max_records"


@pytest.mark.slow
def test_a_partition_read_by_both_kinds_is_committed_only_as_far_as_both_finished(
    kafka: BrokerUnderTest, source: str, unique: str, workers: list[CounterWorker], tmp_path: Path
) -> None:
    app_id = f"conf-batches-shared-{unique}"
    worker = start(
        workers, kafka, source, app_id, tmp_path, per_record=True, closed=True
    )  # the batch agent waits at its first batch
    sent = produce_counts(kafka, source, keys=20, rounds=10)
    expected = expected_counts(sent)
    assert worker.wait_counts(expected, limit_s=30) == expected, "per-record agent miscounted"
    time.sleep(6.5)  # two of Faust's commit intervals (2.8 s)
    stored = committed(kafka.bootstrap, source, PARTITIONS, group=app_id)
    assert all(offset <= 0 for offset in stored.values()), (
        f"committed {stored} while the batch agent had finished nothing"
    )
    (worker.data_dir / GATE).unlink()
    assert_all_seen_and_committed(worker, kafka, source, app_id, sent)


@pytest.mark.slow
def test_a_held_batch_agent_does_not_hold_up_the_per_record_agent_beside_it(
    kafka: BrokerUnderTest, source: str, unique: str, workers: list[CounterWorker], tmp_path: Path
) -> None:
    """The batch agent (production queue bound) waits at its first batch while its topic's
    records fill its queue; the per-record agent of the same worker must still count every
    record of its own topic. Before, the fetch loop waited for room in the batch agent's
    queue, and with it every agent of the worker (an auto-reply waited for a batch fold)."""
    app_id = f"conf-batches-beside-{unique}"
    beside = f"{source}-beside"
    assert create_topic(kafka.bootstrap, beside, partitions=PARTITIONS) is None
    worker = start(workers, kafka, source, app_id, tmp_path, per_record="beside", closed=True)
    held = produce_counts(kafka, source, keys=40, rounds=50)  # 20+ batches of at most 100
    sent = produce_counts(kafka, beside, keys=20, rounds=10)
    expected = expected_counts(sent)
    assert worker.wait_counts(expected, limit_s=30) == expected, "the per-record agent waited"
    release_and_check_bounded(worker, kafka, source, app_id, held)


@pytest.mark.slow
def test_shared_records_join_the_batch_queued_past_the_bound_up_to_max_records(
    kafka: BrokerUnderTest, source: str, unique: str, workers: list[CounterWorker], tmp_path: Path
) -> None:
    """Both agents read one topic; the batch agent (production queue bound) is held. Its
    share of records that keep coming joins the one batch queued past the bound, so the
    per-record agent goes on until that batch holds max_records (100): 10 records a fetch,
    the agent's batch, the queued one and 100 joined = 120 of 150 counted while held (the
    consumer waited at the third fetch before: 20). Then every record reaches the batch
    agent once, in batches no larger than the bound."""
    app_id = f"conf-batches-join-{unique}"
    worker = start(workers, kafka, source, app_id, tmp_path, per_record="shared", closed=True)
    sent: list[Record] = []
    for trickle in range(15):  # one fetch each
        sent += produce(
            kafka.bootstrap, source, [(f"k{trickle}-{i}".encode(), b"1") for i in range(10)]
        )
        time.sleep(0.3)
    counted = 0
    deadline = time.monotonic() + 20
    while counted < 100 and time.monotonic() < deadline:
        status = worker.status() or {}
        counted = sum(dict(status.get("counts", {})).values())  # type: ignore[call-overload]
        time.sleep(0.2)
    assert counted >= 100, f"the per-record agent counted {counted} of 150 while held"
    release_and_check_bounded(worker, kafka, source, app_id, sent)


def release_and_check_bounded(
    worker: CounterWorker, kafka: BrokerUnderTest, source: str, app_id: str, sent: list[Record]
) -> None:
    """The batch agent was held until now; open its gate: every record reaches it once and
    is committed, and no batch queued past the bound grew beyond max_records (100)."""
    assert (worker.status() or {})["batches"] == 0, "the batch agent was not held"
    (worker.data_dir / GATE).unlink()
    status = assert_all_seen_and_committed(worker, kafka, source, app_id, sent)
    assert status["largest"] <= 100, "a batch queued past the bound grew beyond max_records"


@pytest.mark.slow
def test_sigkill_mid_stream_then_restart_loses_no_record(
    kafka: BrokerUnderTest, source: str, unique: str, workers: list[CounterWorker], tmp_path: Path
) -> None:
    app_id = f"conf-batches-kill-{unique}"
    first = start(workers, kafka, source, app_id, tmp_path, per_record=False, closed=True)
    sent = produce(
        kafka.bootstrap,
        source,
        [(f"cust-{k:03d}".encode(), b"%d" % r) for r in range(5) for k in range(200)],
    )
    (first.data_dir / GATE).write_text("3")  # three batches, then it waits: mid-stream
    done = len(wait_seen(first, 1, limit_s=30)["seen"])
    time.sleep(3.5)  # a commit interval: what it finished is committed
    assert 0 < done <= 300 < len(sent)
    first.kill()

    second = start(workers, kafka, source, app_id, tmp_path, per_record=False)
    assert_all_seen_and_committed(second, kafka, source, app_id, sent)
