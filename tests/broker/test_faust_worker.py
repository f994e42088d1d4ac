"""Faust on the broker: real worker processes running wapipe's Faust settings.

The counter app (faust_counter_app.py) counts records per key into a Table whose changelog
lives on the broker, and reports the table on a web page. A worker is SIGKILLed and another
started with the same app id: it must rejoin the group and rebuild the table from the
changelog exactly. Issue 2 measured that with Faust's default timeouts such a restart hung
after JoinGroup on Tansu; wapipe's broker_session_timeout=10 / broker_rebalance_timeout=15 /
broker_heartbeat_interval=1 (pipeline/app.py) fix it, and this file pins that.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.broker.conftest import FAUST_PARTITIONS, BrokerUnderTest
from tests.broker.faust_counter_app import changelog_topic
from tests.broker.faust_worker import CounterWorker
from tests.broker.kafka_io import (
    Record,
    committed,
    fetch_high_watermark,
    list_offsets_end,
    produce,
)

PARTITIONS = FAUST_PARTITIONS
REJOIN_LIMIT_S = 30.0  # issue 2: a restarted worker must be back within ~30 s


def new_worker(
    made: list[CounterWorker], kafka: BrokerUnderTest, source: str, app_id: str, tmp: Path
) -> CounterWorker:
    worker = CounterWorker(
        bootstrap=kafka.bootstrap,
        topic=source,
        app_id=app_id,
        data_dir=tmp / f"worker{len(made)}",
        partitions=PARTITIONS,
    )
    made.append(worker)
    return worker.start()


def produce_counts(kafka: BrokerUnderTest, topic: str, *, keys: int, rounds: int) -> list[Record]:
    """``rounds`` records per key, fast enough that batches hold many records."""
    return produce(
        kafka.bootstrap,
        topic,
        [(f"cust-{k:03d}".encode(), b"%d" % r) for r in range(rounds) for k in range(keys)],
    )


def expected_counts(*batches: list[Record]) -> dict[str, int]:
    return dict(Counter(r.key.decode() for batch in batches for r in batch if r.key))


def wait_committed(
    kafka: BrokerUnderTest, topic: str, group: str, sent: list[Record], *, limit_s: float
) -> dict[int, int]:
    ends = {
        p: 1 + max(r.offset for r in sent if r.partition == p) for p in {r.partition for r in sent}
    }
    deadline = time.monotonic() + limit_s
    while True:
        stored = committed(kafka.bootstrap, topic, PARTITIONS, group=group)
        if all(stored.get(p) == end for p, end in ends.items()):
            return stored
        if time.monotonic() > deadline:
            raise AssertionError(f"group {group} committed {stored}, expected {ends}")
        time.sleep(0.5)


@pytest.mark.slow
def test_faust_agent_counts_every_record_and_commits_its_offsets(
    kafka: BrokerUnderTest, source: str, unique: str, workers: list[CounterWorker], tmp_path: Path
) -> None:
    app_id = f"conf-faust-count-{unique}"
    worker = new_worker(workers, kafka, source, app_id, tmp_path)
    worker.wait_recovered(limit_s=REJOIN_LIMIT_S)
    sent = produce_counts(kafka, source, keys=20, rounds=10)
    expected = expected_counts(sent)
    counts = worker.wait_counts(expected, limit_s=20)
    assert counts == expected, f"table after one pass: {counts}, expected {expected}"
    # Faust commits every broker_commit_interval (2.8 s): the group's offsets reach the end.
    wait_committed(kafka, source, app_id, sent, limit_s=15)


@pytest.mark.slow
def test_sigkilled_faust_worker_rejoins_and_recovers_its_table_exactly(
    kafka: BrokerUnderTest, source: str, unique: str, workers: list[CounterWorker], tmp_path: Path
) -> None:
    app_id = f"conf-faust-recover-{unique}"
    first = new_worker(workers, kafka, source, app_id, tmp_path)
    first.wait_recovered(limit_s=REJOIN_LIMIT_S)
    before = produce_counts(kafka, source, keys=30, rounds=20)
    expected = expected_counts(before)
    assert first.wait_counts(expected, limit_s=30) == expected, "first worker miscounted"
    # Only once every offset is committed is an exact recovery the right expectation; records
    # processed but not committed would be counted twice (at-least-once), by design.
    wait_committed(kafka, source, app_id, before, limit_s=15)

    changelog = changelog_topic(app_id)
    ends = {
        p: (
            list_offsets_end(kafka.bootstrap, changelog, p),
            fetch_high_watermark(kafka.bootstrap, changelog, p),
        )
        for p in range(PARTITIONS)
    }
    first.kill()

    second = new_worker(workers, kafka, source, app_id, tmp_path)
    took_s = second.wait_recovered(limit_s=REJOIN_LIMIT_S * 2)
    assert took_s < REJOIN_LIMIT_S, (
        f"the restarted worker needed {took_s:.1f}s to rejoin and recover (limit "
        f"{REJOIN_LIMIT_S}s): check broker_session_timeout/rebalance_timeout in pipeline/app.py"
    )
    recovered = second.wait_counts(expected, limit_s=5)
    assert recovered == expected, (
        f"table after recovery differs from the {len(before)} records counted: "
        f"{ {k: (recovered.get(k), v) for k, v in expected.items() if recovered.get(k) != v} } "
        f"(changelog ListOffsets/Fetch ends per partition: {ends})"
    )

    after = produce_counts(kafka, source, keys=30, rounds=5)
    total = expected_counts(before, after)
    counts = second.wait_counts(total, limit_s=20)
    assert counts == total, (
        f"after recovery, new records were counted wrong (double count or loss): "
        f"{ {k: (counts.get(k), v) for k, v in total.items() if counts.get(k) != v} }"
    )
    print(f"rejoined and recovered in {took_s:.1f}s; changelog ends (ListOffsets, Fetch) {ends}")
