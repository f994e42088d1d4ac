"""The life of one command in the sender, from its event to its one SendResult.

    ledger says done ─────────────────────────────► drop the copy (its result exists)
    ledger says in_flight (a crash cut a send) ───► status names it? accepted : rejected
    ledger says finishing (a crash cut a result) ─► result on its topic? done : gate again
    gate: skip / expired ─────────────────────────► SendResult skipped / expired
    gate: defer beyond inline_wait_max_ms ────────► DeferralBook, offset released
    lane turn (priority, pair rate, token bucket)
    gate again (an opt-out or pause may have come) ► SendResult skipped
    in_flight mark, acknowledged by the broker
    HTTP send ── accepted ────────────────────────► SendResult accepted (wamid, cost)
              └─ error: classify ── retry ────────► back to the lane at the back-off time
                                 └─ stop ─────────► SendResult rejected (+ opt-out on 131050)

The SendResult, then the done mark, are produced and awaited before the command's offset is
acknowledged; a crash between the two is settled at restart from the results topic, so every
command ends in exactly one result (docs/sender.md).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from pipeline.clock import Clock
from pipeline.events import ConsentChange, OutboundCommand, SendResult
from pipeline.policy import (
    DEFAULT_PRICE_TABLE,
    TEMPLATE_KIND,
    CustomerFacts,
    ErrorAction,
    GatePolicy,
    TokenBucket,
    classify,
    gate,
    next_attempt_ms,
    region_for,
)
from pipeline.sinks.cloud_api import CloudApiClient, SendAttempt
from pipeline.sinks.command_ledger import (
    DEFERRED,
    DONE,
    FINISHING,
    IN_FLIGHT,
    WAITING,
    CommandLedger,
    DeferralBook,
    command_to_json,
    done_mark,
)
from pipeline.sinks.published_results import PublishedResults
from pipeline.sinks.replicated_views import CampaignPauses, ConsentView
from pipeline.sinks.send_evidence import SendEvidence
from pipeline.sinks.send_lanes import Lanes
from pipeline.sinks.sender_config import SenderConfig

log = structlog.get_logger(__name__)

#: The sender knows opt-outs and pauses, not the customer's last message (design.md §3a).
SENDER_GATE = GatePolicy(check_service_window=False)

IN_FLIGHT_AT_CRASH = "in-flight-at-crash"
CONFIRMED_AFTER_CRASH = "confirmed-by-status-after-crash"


class Publisher(Protocol):
    """Where the sender's output goes; each call returns the broker's ack to await."""

    async def result(self, result: SendResult) -> Awaitable[Any]: ...
    async def consent(self, change: ConsentChange) -> Awaitable[Any]: ...
    async def command(self, command: OutboundCommand, *, partition: int) -> Awaitable[Any]: ...


@dataclass
class SenderStats:
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0
    expired: int = 0
    retries: int = 0
    duplicates: int = 0
    deferred: int = 0
    crash_resolved: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


Ack = Callable[[], Awaitable[Any]]


class Sender:
    def __init__(
        self,
        *,
        config: SenderConfig,
        client: CloudApiClient,
        ledger: CommandLedger,
        deferrals: DeferralBook,
        consent: ConsentView,
        pauses: CampaignPauses,
        evidence: SendEvidence,
        publisher: Publisher,
        clock: Clock,
        rng: random.Random | None = None,
        results: PublishedResults | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.ledger = ledger
        self.deferrals = deferrals
        self.consent = consent
        self.pauses = pauses
        self.evidence = evidence
        self.publisher = publisher
        self.clock = clock
        self.rng = rng or random.Random()
        self.results = results
        self.lanes = Lanes(
            bucket=TokenBucket(profile=config.profile),
            pair_rate=config.pair_rate,
            clock_ms=clock.now_ms,
            connections=client.request_slots,
            real_seconds=clock.real_seconds,
        )
        self.stats = SenderStats()
        self._active: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None
        self._released: set[str] = set()

    # --- called by the agent -----------------------------------------------------------------
    async def admit(self, command: OutboundCommand, *, partition: int, ack: Ack) -> None:
        """Start handling ``command``; returns as soon as it has a slot (back-pressure)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.max_pending)
        await self._slots.acquire()
        task = asyncio.create_task(self._handle(command, partition=partition, ack=ack))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.lanes.close()
        await self.client.aclose()

    async def _handle(self, command: OutboundCommand, *, partition: int, ack: Ack) -> None:
        try:
            await self._resolve(command, partition)
        except asyncio.CancelledError:
            raise  # shutting down: the offset stays unacknowledged and the command returns
        except Exception as exc:
            log.exception("sender.failed", command_id=command.command_id)
            await self._finish(
                command, partition, outcome="rejected", reason=f"sender error: {exc!r}"[:200]
            )
        finally:
            if self._slots is not None:
                self._slots.release()
        await ack()

    async def _resolve(self, command: OutboundCommand, partition: int) -> None:
        command_id = command.command_id
        if command_id in self._active:
            self.stats.duplicates += 1  # a second copy while the first is being handled here
            return
        self._active.add(command_id)
        try:
            state = self.ledger.state(command_id)
            attempts = self.ledger.attempts(command_id)
            if state == DONE:
                self.stats.duplicates += 1
                return
            if state == IN_FLIGHT:
                await self._after_crash(command, partition, attempts)
                return
            if state == FINISHING and await self._result_published(command):
                # Nothing was sent; its result made it and its done mark did not.
                await self._mark_done_after_crash(command, partition)
                return
            if state == DEFERRED:
                parked = self.deferrals.get(command_id)
                if parked is not None and int(parked["due_ms"]) > self.clock.now_ms():
                    return  # an early copy: the deferral timer brings the command back
                if parked is not None:
                    await self.deferrals.delete(command_id, partition=partition)
            await self._deliver(command, partition, attempts)
        finally:
            self._active.discard(command_id)

    # --- the send loop -----------------------------------------------------------------------
    def _gate(self, command: OutboundCommand, now_ms: int) -> Any:
        facts = CustomerFacts(opted_out=self.consent.opted_out(command.customer))
        return gate(
            command,
            customer=facts,
            now_ms=now_ms,
            policy=SENDER_GATE,
            campaign_paused=self.pauses.paused(command.campaign_id),
        )

    async def _deliver(self, command: OutboundCommand, partition: int, attempts: int) -> None:
        lane = self.lanes.for_number(command.business_number_id)
        retry_at_ms = 0
        while True:
            now_ms = self.clock.now_ms()
            decision = self._gate(command, now_ms)
            if decision.action == "skip":
                await self._finish(
                    command,
                    partition,
                    outcome=decision.outcome,
                    reason=decision.reason.value,
                    attempts=attempts,
                )
                return
            until_ms = max(decision.until_ms or now_ms, retry_at_ms)
            expires = command.expires_at_ms
            if expires is not None and until_ms >= expires:
                await self._finish(
                    command, partition, outcome="expired", reason="expired", attempts=attempts
                )
                return
            if until_ms - now_ms > self.config.inline_wait_max_ms:
                await self._park(command, partition, due_ms=until_ms, attempts=attempts)
                return
            if until_ms > now_ms:
                # Short: wait here (real seconds: the clock may be simulated), then re-gate.
                await asyncio.sleep(self.clock.real_seconds(until_ms - now_ms))
                continue
            pair_at_ms = lane.pair_allowed_at_ms(command.customer, now_ms)
            if pair_at_ms > now_ms:
                await asyncio.sleep(self.clock.real_seconds(pair_at_ms - now_ms))
                continue
            async with lane.departure_slot(command):
                attempts += 1
                # Durable before the turn, so nothing awaits between the token and the
                # request: the rate holds for departures, not for grants (docs/sender.md).
                await (
                    await self.ledger.put(
                        command.command_id,
                        {"state": IN_FLIGHT, "attempts": attempts, "at_ms": self.clock.now_ms()},
                        partition=partition,
                    )
                )
                # The slot bounds the commands marked in flight that wait for a turn; once
                # granted, the request leaves at once and the slot passes on (held through
                # the answer, it capped a number at slots / round trip: 37/s of 50/s here).
                release = await lane.turn(command)
            try:
                decision = self._gate(command, self.clock.now_ms())
                if decision.action == "send":
                    attempt = await self.client.send(command)
            finally:
                release()  # the HTTP connection, for the next turn of any number
            if decision.action != "send":
                # An opt-out or pause came while it queued; nothing was sent.
                await self._finish(
                    command,
                    partition,
                    outcome=decision.outcome,
                    reason=decision.reason.value if decision.reason else None,
                    attempts=attempts - 1,
                )
                return
            if attempt.accepted:
                await self._finish(
                    command, partition, outcome="accepted", wamid=attempt.wamid, attempts=attempts
                )
                return
            retry_at_ms = await self._after_error(command, partition, attempt, attempts, lane)
            if retry_at_ms < 0:
                return

    async def _after_error(
        self,
        command: OutboundCommand,
        partition: int,
        attempt: SendAttempt,
        attempts: int,
        lane: Any,
    ) -> int:
        """The retry time, or -1 once the command is finished."""
        if attempt.timed_out:
            # A timed-out request may still have reached Meta, whose "sent" status follows
            # within a second or two: wait for it as after a crash, or a retry would message
            # the customer twice (tests/faults/test_sandbox_late_answers.py).
            wamid = await self.evidence.wait_for(
                command.command_id, timeout_s=self.config.crash_evidence_wait_ms / 1000
            )
            if wamid is not None:
                await self._finish(
                    command, partition, outcome="accepted", wamid=wamid, attempts=attempts
                )
                return -1
        error = classify(
            attempt.error_code, http_status=attempt.http_status, timed_out=attempt.timed_out
        )
        now_ms = self.clock.now_ms()
        if error.action is ErrorAction.MARK_OPTED_OUT:
            await self._opted_out(command, now_ms)
        retry_at = next_attempt_ms(
            error, attempts=attempts, now_ms=now_ms, rng=self.rng, policy=self.config.retry
        )
        if retry_at is None:
            reason = error.meaning if not error.retryable else "retries exhausted: " + error.meaning
            await self._finish(
                command,
                partition,
                outcome="rejected",
                reason=reason,
                error_code=attempt.error_code,
                attempts=attempts,
            )
            return -1
        if error.slow_number:
            lane.hold(retry_at)
        self.stats.retries += 1
        # Ack not awaited: losing it leaves in_flight, which a restart resolves conservatively.
        await self.ledger.put(
            command.command_id, {"state": WAITING, "attempts": attempts}, partition=partition
        )
        log.info(
            "sender.retry",
            command_id=command.command_id,
            code=attempt.error_code,
            attempts=attempts,
            wait_ms=retry_at - now_ms,
        )
        return retry_at

    async def _after_crash(self, command: OutboundCommand, partition: int, attempts: int) -> None:
        """A send was under way when the worker died: never resend, settle it from evidence."""
        if await self._result_published(command):
            # Its SendResult reached the broker and its done mark did not (published_results.py).
            await self._mark_done_after_crash(command, partition)
            return
        self.stats.crash_resolved += 1
        wamid = await self.evidence.wait_for(
            command.command_id, timeout_s=self.config.crash_evidence_wait_ms / 1000
        )
        if wamid is not None:
            await self._finish(
                command,
                partition,
                outcome="accepted",
                wamid=wamid,
                reason=CONFIRMED_AFTER_CRASH,
                attempts=attempts,
            )
        else:
            await self._finish(
                command,
                partition,
                outcome="rejected",
                reason=IN_FLIGHT_AT_CRASH,
                attempts=attempts,
            )

    async def _result_published(self, command: OutboundCommand) -> bool:
        """Whether the results topic has this command's SendResult (asked after a crash only:
        the ledger entry's ``at_ms`` bounds how far back to read)."""
        if self.results is None:
            return False
        entry = self.ledger.get(command.command_id) or {}
        return await self.results.published(command.command_id, since_ms=int(entry.get("at_ms", 0)))

    async def _mark_done_after_crash(self, command: OutboundCommand, partition: int) -> None:
        self.stats.duplicates += 1
        done = done_mark(
            "published-before-crash", wamid=None, partition=partition, now_ms=self.clock.now_ms()
        )
        await (await self.ledger.put(command.command_id, done, partition=partition))

    async def _opted_out(self, command: OutboundCommand, now_ms: int) -> None:
        change = ConsentChange(
            event_id=f"error-131050-{command.command_id}",
            customer=command.customer,
            business_number_id=command.business_number_id,
            consent="opted_out",
            source="error_131050",
            detail=command.command_id,
            ts_ms=now_ms,
        )
        self.consent.apply(change)  # at once here; other senders learn it from the topic
        await (await self.publisher.consent(change))

    async def _park(
        self, command: OutboundCommand, partition: int, *, due_ms: int, attempts: int
    ) -> None:
        self.stats.deferred += 1
        parked = {"due_ms": due_ms, "partition": partition, "command": command_to_json(command)}
        await asyncio.gather(
            await self.deferrals.put(command.command_id, parked, partition=partition),
            await self.ledger.put(
                command.command_id, {"state": DEFERRED, "attempts": attempts}, partition=partition
            ),
        )

    async def release_due(self, partitions: Collection[int] | None = None) -> int:
        """Re-produce every deferred command that is due; the timer calls this with the
        partitions this worker owns (a standby copy of the book is not its to release)."""
        released = 0
        for command_id, partition, command in self.deferrals.due(self.clock.now_ms()):
            if partitions is not None and partition not in partitions:
                continue
            if command_id in self._released:
                continue
            self._released.add(command_id)
            try:
                await (await self.publisher.command(command, partition=partition))
                await (await self.deferrals.delete(command_id, partition=partition))
                released += 1
            finally:
                self._released.discard(command_id)
        return released

    async def forget_done(self, partitions: Collection[int]) -> int:
        """Forget the done marks older than the retention in ``partitions``: a tombstone for
        each, awaited together. Returns how many."""
        retention_ms = self.config.ledger_retention_ms
        if not retention_ms:
            return 0
        old = self.ledger.forgettable(
            self.clock.now_ms(), retention_ms=retention_ms, partitions=partitions
        )
        acks = [await self.ledger.delete(key, partition=partition) for key, partition in old]
        await asyncio.gather(*acks)
        return len(old)

    async def _finish(
        self,
        command: OutboundCommand,
        partition: int,
        *,
        outcome: str | None,
        reason: str | None = None,
        wamid: str | None = None,
        error_code: int | None = None,
        attempts: int = 0,
    ) -> None:
        outcome = outcome or "skipped"
        cost = 0
        if outcome == "accepted" and command.kind == TEMPLATE_KIND:
            cost = DEFAULT_PRICE_TABLE.list_price_micros(
                category=command.category,
                country=region_for(command.customer),
                service_window_open=False,
            )
        result = SendResult(
            command_id=command.command_id,
            wamid=wamid,
            customer=command.customer,
            business_number_id=command.business_number_id,
            outcome=outcome,
            reason=reason,
            error_code=error_code,
            attempts=attempts,
            category=command.category,
            campaign_id=command.campaign_id,
            variant=command.variant,
            template_name=command.template_name,
            origin=command.origin,
            cost_micros=cost,
            ts_ms=self.clock.now_ms(),
        )
        done = done_mark(outcome, wamid=wamid, partition=partition, now_ms=self.clock.now_ms())
        # The result first, durable, then the done mark: a crash between them leaves a result
        # and an in-flight mark, which the restart settles by finding the result on its topic
        # (published_results.py). Sent together, a crash could also keep the done mark and
        # lose the result: a command without its SendResult.
        if self.ledger.state(command.command_id) != IN_FLIGHT:
            # No in-flight mark (a skip, an expiry, a rejection before any request): without
            # this one a crash before the done mark would gate the command again and publish
            # a second result. Not on the path of a send, which is in flight here already.
            finishing = {"state": FINISHING, "attempts": attempts, "at_ms": self.clock.now_ms()}
            await (await self.ledger.put(command.command_id, finishing, partition=partition))
        await (await self.publisher.result(result))
        await (await self.ledger.put(command.command_id, done, partition=partition))
        self.stats.count(outcome)
