"""One lane per business number: priority order, pair-rate spacing and the token bucket.

A lane grants *turns*: ``release = await lane.turn(command, ready_at_ms=…)`` returns when
``command`` may be sent now, after recording the send in the number's :class:`TokenBucket` and
pair-rate map. Each lane has its own runner task, so a number waiting for tokens (or a warm-up
number sending one message every 2 s) never holds up another number's messages.

Every lane of a sender shares its :class:`Connections`: a turn is granted only with a free
HTTP connection in hand (``release()`` gives it back after the answer). A granted request
therefore leaves at once instead of queueing in the HTTP client's pool, whose bookkeeping grows
with the queue (httpcore scans every queued request on each change: with hundreds queued it
cost more than the sends) and whose queue would let departures bunch beyond the rate.

Inside a lane the next turn goes to the best ready command by :func:`command_priority`
(service replies before utility before marketing; richer customers first; then FIFO). A
command whose customer was messaged less than the pair gap ago waits aside until the gap has
passed, without blocking the commands behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator, Callable

from pipeline.events import OutboundCommand
from pipeline.policy import BucketState, PairRate, PriorityKey, TokenBucket, command_priority

ClockMs = Callable[[], int]
#: Real seconds for a span of the clock's milliseconds to pass (a simulated clock runs faster).
RealSeconds = Callable[[float], float]
Release = Callable[[], None]
_PRUNE_EVERY = 1024


def _no_release() -> None:
    return None


def _wall_seconds(ms: float) -> float:
    return ms / 1000


class Connections:
    """The sender's HTTP connections, shared by its lanes (FIFO among waiting lanes)."""

    def __init__(self, *, count: int | None) -> None:
        self._slots = asyncio.Semaphore(count) if count is not None else None

    async def acquire(self) -> Release:
        if self._slots is None:
            return _no_release
        await self._slots.acquire()
        return self._slots.release


class _Ticket:
    __slots__ = ("command", "future", "key")

    def __init__(self, command: OutboundCommand, future: asyncio.Future[Release]) -> None:
        self.command = command
        self.future = future
        self.key: PriorityKey = command_priority(command)


class NumberLane:
    """The send schedule of one business number."""

    def __init__(
        self,
        *,
        bucket: TokenBucket,
        pair_rate: PairRate,
        clock_ms: ClockMs,
        connections: Connections | None = None,
        real_seconds: RealSeconds = _wall_seconds,
    ) -> None:
        self._bucket = bucket
        self._pair_rate = pair_rate
        self._clock_ms = clock_ms
        self._real_seconds = real_seconds
        self._connections = connections or Connections(count=None)
        self._state = BucketState()
        self._last_sent_ms: dict[str, int] = {}
        self._ready: list[tuple[PriorityKey, int, _Ticket]] = []
        self._waiting: list[tuple[int, int, _Ticket]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._grants = 0
        self._slots: asyncio.Semaphore | None = None
        # Commands marked in flight and waiting for their token, at most a quarter second's
        # worth: after a crash these are settled as "in flight" without being resent.
        self._slot_count = max(2, bucket.profile.max_messages // 4)

    @property
    def queued(self) -> int:
        return len(self._ready) + len(self._waiting)

    async def turn(self, command: OutboundCommand, *, ready_at_ms: int | None = None) -> Release:
        """Wait until ``command`` may be sent; the send is counted when this returns. Call the
        returned ``release`` once the request is answered (it frees the connection)."""
        future: asyncio.Future[Release] = asyncio.get_running_loop().create_future()
        ticket = _Ticket(command, future)
        if ready_at_ms is not None and ready_at_ms > self._clock_ms():
            heapq.heappush(self._waiting, (ready_at_ms, next(self._seq), ticket))
        else:
            heapq.heappush(self._ready, (ticket.key, next(self._seq), ticket))
        self._wake.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="sender-lane")
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                future.result()()  # granted as it was cancelled: give the connection back
            raise

    def pair_allowed_at_ms(self, customer: str, now_ms: int) -> int:
        return self._pair_rate.allowed_at_ms(self._last_sent_ms.get(customer), now_ms)

    @contextlib.asynccontextmanager
    async def departure_slot(self, command: OutboundCommand) -> AsyncIterator[None]:
        """Bound the commands between their in-flight mark and their request. Service
        replies (rank 0) skip the queue: a backlog of marketing never delays an answer."""
        if command_priority(command).rank == 0:
            yield
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._slot_count)
        async with self._slots:
            yield

    def hold(self, until_ms: int) -> None:
        """Send nothing before ``until_ms`` (the number hit Meta's throughput limit)."""
        self._state = self._bucket.hold(self._state, until_ms)
        self._wake.set()

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    async def _run(self) -> None:
        while True:
            if not self.queued:
                return  # empty: the next turn() starts a new runner
            # The connection first: a token taken while no connection is free would let the
            # request wait, and waiting requests leave together (bunched beyond the rate).
            release = await self._connections.acquire()
            wait_s = self._grant_one(release)
            if wait_s is None:
                release()
                return
            if wait_s > 0:
                release()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._wake.wait(), timeout=self._real_seconds(wait_s * 1000)
                    )
            else:
                await asyncio.sleep(0)  # let the granted sender start before the next grant

    def _grant_one(self, release: Release) -> float | None:
        """Grant the best ready turn, handing it ``release``; return 0 after a grant, else the
        seconds to wait, or None (nothing queued); without a grant the caller keeps
        ``release``."""
        now_ms = self._clock_ms()
        while self._waiting and self._waiting[0][0] <= now_ms:
            _, seq, ticket = heapq.heappop(self._waiting)
            heapq.heappush(self._ready, (ticket.key, seq, ticket))
        while self._ready:
            _, seq, ticket = self._ready[0]
            if ticket.future.done():  # its task was cancelled
                heapq.heappop(self._ready)
                continue
            customer = ticket.command.customer
            allowed_ms = self._pair_rate.allowed_at_ms(self._last_sent_ms.get(customer), now_ms)
            if allowed_ms > now_ms:
                heapq.heappop(self._ready)
                heapq.heappush(self._waiting, (allowed_ms, seq, ticket))
                continue
            state, wait_s = self._bucket.take(self._state, now_ms)
            if wait_s > 0:
                return wait_s
            self._state = state
            heapq.heappop(self._ready)
            self._last_sent_ms[customer] = now_ms
            ticket.future.set_result(release)
            self._grants += 1
            if self._grants % _PRUNE_EVERY == 0:
                self._last_sent_ms = self._pair_rate.prune(self._last_sent_ms, now_ms)
            return 0.0
        if self._waiting:
            return max(0.001, (self._waiting[0][0] - now_ms) / 1000)
        return None


class Lanes:
    """The lanes of every business number this sender has seen."""

    def __init__(
        self,
        *,
        bucket: TokenBucket,
        pair_rate: PairRate,
        clock_ms: ClockMs,
        connections: int | None = None,
        real_seconds: RealSeconds = _wall_seconds,
    ) -> None:
        self._bucket = bucket
        self._pair_rate = pair_rate
        self._clock_ms = clock_ms
        self._real_seconds = real_seconds
        self._connections = Connections(count=connections)
        self._lanes: dict[str, NumberLane] = {}

    def for_number(self, business_number_id: str) -> NumberLane:
        lane = self._lanes.get(business_number_id)
        if lane is None:
            lane = NumberLane(
                bucket=self._bucket,
                pair_rate=self._pair_rate,
                clock_ms=self._clock_ms,
                connections=self._connections,
                real_seconds=self._real_seconds,
            )
            self._lanes[business_number_id] = lane
        return lane

    async def close(self) -> None:
        for lane in self._lanes.values():
            await lane.close()
