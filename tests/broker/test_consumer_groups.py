"""Consumer groups with the timing of wapipe's Faust workers: join, commit and resume, split,
and take over from a member that was SIGKILLed.

Measured on Tansu 0.6.0: every JoinGroup round completes after half the session timeout
(5 s with wapipe's 10 s), so with librdkafka's default 45 s a first join takes 23 s.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer

from tests.broker.conftest import BrokerUnderTest
from tests.broker.kafka_io import (
    GroupTiming,
    committed,
    consumer,
    create_topic,
    drain,
    produce,
    wapipe_group_timing,
)

PARTITIONS = 4


@pytest.fixture(scope="module")
def timing() -> GroupTiming:
    return wapipe_group_timing()


def group_member(kafka: BrokerUnderTest, group: str, timing: GroupTiming) -> Consumer:
    return consumer(kafka.bootstrap, group=group, **timing.confluent_config())


def wait_for_assignment(
    members: list[Consumer], *, partitions: int, limit_s: float
) -> dict[int, list[int]]:
    """Poll every member until their assignments cover ``partitions`` without overlap."""
    deadline = time.monotonic() + limit_s
    while True:
        for member in members:
            member.poll(0.1)
        owned = {i: sorted(tp.partition for tp in m.assignment()) for i, m in enumerate(members)}
        flat = [p for ps in owned.values() for p in ps]
        if sorted(flat) == list(range(partitions)) and all(owned.values()):
            return owned
        if time.monotonic() > deadline:
            raise AssertionError(f"no complete assignment after {limit_s}s: {owned}")


@pytest.fixture
def topic(kafka: BrokerUnderTest, unique: str) -> Iterator[str]:
    name = f"conf.group.{unique}"
    assert create_topic(kafka.bootstrap, name, partitions=PARTITIONS) is None
    yield name


def test_first_join_completes_within_the_session_timeout(
    kafka: BrokerUnderTest, topic: str, unique: str, timing: GroupTiming
) -> None:
    member = group_member(kafka, f"g.join.{unique}", timing)
    started = time.monotonic()
    try:
        member.subscribe([topic])
        wait_for_assignment([member], partitions=PARTITIONS, limit_s=timing.session_timeout_s * 3)
        took_s = time.monotonic() - started
    finally:
        member.close()
    assert took_s < timing.session_timeout_s, (
        f"a lone consumer needed {took_s:.1f}s to join (session timeout "
        f"{timing.session_timeout_s}s): worker start-up and every rebalance pay this"
    )


@pytest.mark.slow
def test_a_new_member_resumes_after_the_committed_offset(
    kafka: BrokerUnderTest, topic: str, unique: str, timing: GroupTiming
) -> None:
    group = f"g.resume.{unique}"
    first = produce(kafka.bootstrap, topic, [(b"c%d" % n, b"first") for n in range(40)])
    reader = group_member(kafka, group, timing)
    try:
        reader.subscribe([topic])
        read = drain(reader, at_least=len(first))
        reader.commit(asynchronous=False)
    finally:
        reader.close()
    assert len(read) == len(first)
    ends = {
        p: 1 + max(r.offset for r in first if r.partition == p)
        for p in {r.partition for r in first}
    }
    stored = committed(kafka.bootstrap, topic, PARTITIONS, group=group)
    assert all(stored[p] == end for p, end in ends.items()), (
        f"committed offsets {stored}, expected the next offset per partition {ends}"
    )

    second = produce(kafka.bootstrap, topic, [(b"c%d" % n, b"second") for n in range(40)])
    successor = group_member(kafka, group, timing)
    try:
        successor.subscribe([topic])
        resumed = drain(successor, at_least=len(second))
    finally:
        successor.close()
    values = sorted(r.value for r in resumed)
    assert values == [b"second"] * len(second), (
        f"the new member read {values.count(b'first')} already-committed records again and "
        f"{values.count(b'second')} of {len(second)} new ones"
    )


@pytest.mark.slow
def test_two_members_split_the_partitions_and_each_record_is_read_once(
    kafka: BrokerUnderTest, topic: str, unique: str, timing: GroupTiming
) -> None:
    group = f"g.split.{unique}"
    members = [group_member(kafka, group, timing) for _ in range(2)]
    try:
        for member in members:
            member.subscribe([topic])
        limit_s = timing.session_timeout_s + timing.rebalance_timeout_s
        owned = wait_for_assignment(members, partitions=PARTITIONS, limit_s=limit_s)
        assert len(owned[0]) == len(owned[1]) == PARTITIONS // 2, f"uneven split {owned}"
        sent = produce(kafka.bootstrap, topic, [(b"c%d" % n, b"%d" % n) for n in range(60)])
        read = [r for member in members for r in drain(member, idle_s=1.0)]
        for index, member in enumerate(members):
            foreign = {r.partition for r in drain(member, idle_s=0.1)} - set(owned[index])
            assert not foreign, f"member {index} read partitions {foreign} it does not own"
    finally:
        for member in members:
            member.close()
    assert sorted(r.value for r in read) == sorted(r.value for r in sent), (
        f"{len(sent)} records sent, {len(read)} read by the two members together"
    )


CHILD_MEMBER = """
import sys
from confluent_kafka import Consumer
bootstrap, group, topic, session_ms, heartbeat_ms, poll_ms = sys.argv[1:]
member = Consumer({
    "bootstrap.servers": bootstrap, "group.id": group, "log_level": 0,
    "session.timeout.ms": int(session_ms), "heartbeat.interval.ms": int(heartbeat_ms),
    "max.poll.interval.ms": int(poll_ms), "enable.auto.commit": False,
})
member.subscribe([topic], on_assign=lambda c, tps: print(len(tps), flush=True))
while True:
    member.poll(0.2)
"""


@pytest.mark.slow
def test_partitions_of_a_sigkilled_member_move_to_the_survivor(
    kafka: BrokerUnderTest, topic: str, unique: str, timing: GroupTiming
) -> None:
    group = f"g.kill.{unique}"
    config = timing.confluent_config()
    args = [kafka.bootstrap, group, topic]
    args += [
        str(config[k])
        for k in ("session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms")
    ]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_MEMBER, *args], stdout=subprocess.PIPE, text=True
    )
    survivor = group_member(kafka, group, timing)
    try:
        assert child.stdout is not None
        child.stdout.readline()  # the child owns the group before the survivor arrives
        survivor.subscribe([topic])
        limit_s = timing.session_timeout_s + timing.rebalance_timeout_s
        deadline = time.monotonic() + limit_s
        while len(survivor.assignment()) != PARTITIONS // 2:
            survivor.poll(0.1)
            assert time.monotonic() < deadline, f"no split after {limit_s}s"
        child.kill()
        child.wait(10)
        killed_at = time.monotonic()
        owned = wait_for_assignment([survivor], partitions=PARTITIONS, limit_s=limit_s)
        took_s = time.monotonic() - killed_at
        sent = produce(kafka.bootstrap, topic, [(b"c%d" % n, b"after") for n in range(20)])
        read = drain(survivor, at_least=len(sent))
    finally:
        survivor.close()
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert owned == {0: list(range(PARTITIONS))}
    assert len(read) == len(sent), f"survivor read {len(read)} of {len(sent)} new records"
    # Kafka needs the session timeout to notice the death, then one rebalance round.
    print(f"partitions moved {took_s:.1f}s after SIGKILL")
    assert took_s < limit_s
