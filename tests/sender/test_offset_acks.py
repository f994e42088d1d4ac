"""Acknowledgements leave in offset order, so Faust's commit never passes a command in hand."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP, Message
from hypothesis import given
from hypothesis import strategies as st
from intervaltree import IntervalTree

from pipeline.app import faust_app
from pipeline.runtime.faust_owned_acks import OwnedAcksConsumer, committable_offset
from pipeline.settings import Settings
from pipeline.sinks.offset_acks import InOrderAcks
from pipeline.topics import COMMANDS


def faust_commit_offset(committed: int | None, acked: list[int]) -> int | None:
    """What Faust's consumer would commit for one partition (its own code, no broker)."""
    consumer = SimpleNamespace(
        _acked={"tp": list(acked)},
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {"tp": committed}),
        _acked_index=defaultdict(set),
    )
    return Consumer._new_offset(consumer, "tp")  # type: ignore[arg-type]


def test_faust_commits_past_a_single_unacknowledged_offset() -> None:
    # Why InOrderAcks exists: offset 101 is the next to commit and still in hand, 102 and 103
    # are acknowledged, and Faust commits 104. A worker killed now never sees 101 again.
    assert faust_commit_offset(101, [102, 103]) == 104
    # Before a partition's first commit it checks no gap at all.
    assert faust_commit_offset(None, [5, 6, 7]) == 8
    # A gap of two it does see.
    assert faust_commit_offset(101, [103]) is None


@given(
    order=st.permutations(range(12)),
    partitions=st.lists(st.integers(0, 2), min_size=12, max_size=12),
)
async def test_acks_leave_in_offset_order_per_partition(
    order: list[int], partitions: list[int]
) -> None:
    acks = InOrderAcks()
    released: list[tuple[int, int]] = []
    offsets: dict[int, int] = defaultdict(int)
    ended = []
    for partition in partitions:
        offset = 40 + offsets[partition]
        offsets[partition] += 1

        async def ack(p: int = partition, o: int = offset) -> None:
            released.append((p, o))

        ended.append((partition, offset, acks.expect(partition, offset, ack)))
    finished: set[tuple[int, int]] = set()
    for index in order:
        partition, offset, end = ended[index]
        await end()
        finished.add((partition, offset))
        for p in set(partitions):
            mine = [o for q, o in released if q == p]
            assert mine == sorted(mine), "released out of offset order"
            # Released: exactly the run of ended offsets from the partition's first.
            run = []
            for o in range(40, 40 + offsets[p]):
                if (p, o) not in finished:
                    break
                run.append(o)
            assert mine == run
    assert sorted(released) == sorted((p, o) for p, o, _ in ended)
    assert all(acks.outstanding(p) == 0 for p in set(partitions))


async def test_a_second_copy_of_an_offset_holds_it_until_both_end() -> None:
    acks = InOrderAcks()
    released: list[str] = []

    async def first() -> None:
        released.append("first")

    async def second() -> None:
        released.append("second")

    end_first = acks.expect(0, 7, first)
    end_second = acks.expect(0, 7, second)  # redelivered while the first is in hand
    await end_second()
    assert released == []
    await end_first()
    assert released == ["first", "second"]


async def test_an_ack_that_ends_another_offset_while_releasing_keeps_the_order() -> None:
    acks = InOrderAcks()
    released: list[int] = []
    ends = {}

    async def ack_0() -> None:
        released.append(0)
        await ends[2]()  # a later offset ends while offset 0's ack is being released

    async def ack_1() -> None:
        released.append(1)

    async def ack_2() -> None:
        released.append(2)

    ends[0] = acks.expect(3, 0, ack_0)
    ends[1] = acks.expect(3, 1, ack_1)
    ends[2] = acks.expect(3, 2, ack_2)
    await ends[1]()
    await ends[0]()
    assert released == [0, 1, 2]


# --- owned topics: only the agent's own acks count (pipeline/runtime/faust_owned_acks.py) ----


@given(committed=st.integers(0, 50), acked=st.sets(st.integers(0, 80), max_size=40))
def test_an_owned_commit_is_the_run_of_acks_from_the_committed_offset(
    committed: int, acked: set[int]
) -> None:
    offset, left = committable_offset(committed, list(acked))
    run_end = committed
    while run_end in acked:
        run_end += 1
    assert offset == (run_end if run_end > committed else None)
    # Nothing un-acknowledged at or above the committed offset is ever passed.
    assert all(o in acked for o in range(committed, offset or committed))
    assert set(left) == {o for o in acked if o >= (offset or committed)}
    assert committable_offset(None, list(acked)) == (None, list(acked))


def _message(offset: int, topic: str = COMMANDS.name) -> Message:
    return Message(topic, 3, offset, 0.0, 0, None, None, None, None)


async def test_a_skipped_event_acked_by_faust_does_not_let_the_commit_pass_a_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = faust_app(Settings(data_dir=tmp_path), bootstrap="127.0.0.1:9")
    consumer = app.consumer
    assert isinstance(consumer, OwnedAcksConsumer)  # the worker's transport builds this one
    monkeypatch.setattr(app.topics, "acks_enabled_for", lambda topic: True)
    consumer.own([COMMANDS.name])
    tp = TP(COMMANDS.name, 3)
    consumer._committed_offset[tp] = 101  # 101 is in hand
    # A stream skipped 102 in a rebalance and acked it: Faust alone would commit 104 now.
    assert not consumer.ack(_message(102))
    assert consumer.ack_owned(_message(103))
    assert consumer._new_offset(tp) is None
    assert consumer.ack_owned(_message(101))
    assert consumer._new_offset(tp) == 102  # 101 is done, 102 has no owner's ack yet
    consumer._committed_offset[tp] = 102  # as Faust records a commit
    assert consumer._new_offset(tp) is None
    assert consumer.ack_owned(_message(102))
    assert consumer._new_offset(tp) == 104
    # Topics nobody owns keep Faust's behaviour, gap test included.
    other = TP("other", 3)
    consumer._committed_offset[other] = 101
    assert consumer.ack(_message(102, topic="other"))
    assert consumer._new_offset(other) == 103


async def test_a_batch_fetched_before_a_seek_leaves_the_read_offset_at_the_seek(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SIGKILL test's lost command: the restarted worker's agent consumed during table
    recovery; Faust's seek to the committed offset (490) landed while a batch was delivered,
    the rest of the batch moved the read offset past 508, and the fetch from 490 skipped 508."""
    app = faust_app(Settings(data_dir=tmp_path), bootstrap="127.0.0.1:9")
    consumer = app.consumer
    assert isinstance(consumer, OwnedAcksConsumer)
    consumer.own([COMMANDS.name])
    tp = TP(COMMANDS.name, 3)
    monkeypatch.setattr(consumer, "assignment", lambda: {tp})

    async def fetched_before_the_seek(self: Consumer, timeout: float) -> AsyncIterator[Any]:
        for offset in range(505, 512):
            yield tp, _message(offset)

    async def seek_to_committed(self: Consumer) -> None:
        self._read_offset[tp] = 490
        self._committed_offset[tp] = 490

    async def fetched_after_the_seek(self: Consumer, timeout: float) -> AsyncIterator[Any]:
        await consumer.perform_seek()  # while Faust waited for these records
        for offset in range(490, 495):
            yield tp, _message(offset)

    monkeypatch.setattr(Consumer, "perform_seek", seek_to_committed)
    monkeypatch.setattr(Consumer, "getmany", fetched_before_the_seek)
    delivered = []
    async for _, message in consumer.getmany(1.0):  # as Faust's fetch loop does
        delivered.append(message.offset)
        if message.offset == 508:
            await consumer.perform_seek()  # recovery ends while 508 is being delivered
        consumer._read_offset[tp] = message.offset
    assert delivered == [505, 506, 507, 508]
    assert consumer._read_offset[tp] == 490  # the fetch from 490 delivers 508 again

    monkeypatch.setattr(Consumer, "getmany", fetched_after_the_seek)
    refetched = [message.offset async for _, message in consumer.getmany(1.0)]
    assert refetched == [490, 491, 492, 493, 494]  # a batch fetched after a seek is whole
