"""Acknowledgements leave in offset order, so Faust's commit never passes a command in hand."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from faust.transport.consumer import Consumer
from hypothesis import given
from hypothesis import strategies as st
from intervaltree import IntervalTree

from pipeline.sinks.offset_acks import InOrderAcks


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
