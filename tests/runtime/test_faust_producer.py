"""The bulk producer buffer keeps per-key order while sending different keys concurrently."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.runtime.faust_producer import BulkProducerBuffer


@dataclass
class Message:
    channel: str
    key: bytes
    seq: int


@dataclass
class Future:
    message: Message


def buffer_recording(sent: list[Message], rng: random.Random) -> BulkProducerBuffer:
    buffer = BulkProducerBuffer()

    async def send_pending(fut: Any) -> None:
        # A real send yields to the loop a varying number of times before it is queued.
        for _ in range(rng.randrange(4)):
            await asyncio.sleep(0)
        sent.append(fut.message)

    buffer._send_pending = send_pending  # type: ignore[method-assign]
    return buffer


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["t1", "t2"]), st.integers(0, 5)), min_size=1, max_size=60),
    st.integers(0, 2**32),
)
def test_per_key_order_is_kept_and_nothing_is_lost(
    queued: list[tuple[str, int]], seed: int
) -> None:
    async def scenario() -> list[Message]:
        sent: list[Message] = []
        buffer = buffer_recording(sent, random.Random(seed))
        for seq, (channel, key) in enumerate(queued):
            buffer.pending.put_nowait(Future(Message(channel, b"k%d" % key, seq)))
        drained = 0
        while drained < len(queued):
            drained += await buffer.drain_once()
        return sent

    sent = asyncio.run(scenario())
    assert sorted(m.seq for m in sent) == list(range(len(queued)))
    by_key: dict[tuple[str, bytes], list[int]] = {}
    for m in sent:
        by_key.setdefault((m.channel, m.key), []).append(m.seq)
    for seqs in by_key.values():
        assert seqs == sorted(seqs), "messages of one key left out of order"


def test_a_drain_takes_everything_queued_at_once() -> None:
    async def scenario() -> int:
        buffer = buffer_recording([], random.Random(1))
        for seq in range(500):
            buffer.pending.put_nowait(Future(Message("t", b"k%d" % (seq % 50), seq)))
        return await buffer.drain_once()

    assert asyncio.run(scenario()) == 500
