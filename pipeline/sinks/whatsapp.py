"""Role ``sender``: commands → policy gate → per-number throttle → Cloud API → SendResults.

    wa.outbound.commands.v1 ──► send_commands (manual acks) ──► Sender (one task per command)
    wa.status.v1 ─────────────► collect_evidence (command ids echoed by Meta's statuses)
    customer.consent.v1 ──────► ConsentView   (every partition, every sender)
    campaigns.control.v1 ─────► CampaignPauses (every partition, every sender)
    timer, 1 s ───────────────► re-produce deferred commands that are due
    timer, ≤ 1 h ─────────────► forget done marks older than the ledger's retention

Why manual acks: an agent that awaits each send holds its stream while a number waits for
tokens, so one throttled number would stop every other (one actor processes a merged
stream). Here the agent hands each command to a task and moves on; the task acknowledges the
event only once the command's one SendResult is produced, and acknowledgements are released in
offset order (Faust's own gap check is off by one: offset_acks.py), so a commit never passes a
command without its result: a crash redelivers whatever had no result yet and the ledger
decides what to do with each copy. The commands topic is owned by this agent
(runtime/faust_owned_acks.py): Faust can otherwise lose an event at a seek and acknowledges
events a stream skips. Design and guarantees: docs/sender.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from functools import partial
from typing import Any

import faust
import mode
import structlog

from pipeline import topics
from pipeline.app import WapipeApp
from pipeline.events import ConsentChange, DeliveryReceipt, OutboundCommand, SendResult
from pipeline.runtime.encoded_produce import EncodedProducer
from pipeline.runtime.faust_owned_acks import OwnedAcksConsumer
from pipeline.sinks.cloud_api import CloudApiClient
from pipeline.sinks.command_ledger import CommandLedger, DeferralBook
from pipeline.sinks.offset_acks import InOrderAcks
from pipeline.sinks.published_results import PublishedResults
from pipeline.sinks.replicated_views import (
    CampaignPauses,
    ConsentView,
    sender_replica,
)
from pipeline.sinks.send_evidence import SendEvidence
from pipeline.sinks.sender import Sender
from pipeline.sinks.sender_config import SenderConfig

log = structlog.get_logger(__name__)

DEFERRAL_TICK_S = 1.0


def ledger_prune_interval_s(retention_hours: float) -> float:
    """How often done marks are looked at: a tenth of the retention, between 1 s and 1 h
    (a mark lives at most that much past its retention)."""
    return min(3600.0, max(1.0, retention_hours * 360.0))


def owned_command_partitions(app: faust.App) -> set[int]:
    """The commands topic's partitions this worker is active for (not its standbys)."""
    return {
        tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topics.COMMANDS.name
    }


class KafkaPublisher:
    """The sender's records, encoded here and produced directly (runtime/encoded_produce.py)."""

    def __init__(self, wapp: WapipeApp) -> None:
        self._producer = EncodedProducer(wapp.app)

    async def result(self, result: SendResult) -> Awaitable[Any]:
        return await self._producer.send_event(topics.RESULTS.name, result.customer, result)

    async def consent(self, change: ConsentChange) -> Awaitable[Any]:
        return await self._producer.send_event(topics.CONSENT.name, change.customer, change)

    async def command(self, command: OutboundCommand, *, partition: int) -> Awaitable[Any]:
        # The partition it came from: its ledger entry lives in that changelog partition.
        return await self._producer.send_event(
            topics.COMMANDS.name, command.business_number_id, command, partition=partition
        )


class SenderService(mode.Service):
    """Closes the HTTP pool and the lanes when the worker stops."""

    def __init__(self, sender: Sender, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sender = sender

    async def on_stop(self) -> None:
        await self.sender.close()


def register(wapp: WapipeApp) -> None:
    settings = wapp.settings
    app = wapp.app
    config = SenderConfig.from_settings(settings)
    consent, pauses, evidence = ConsentView(), CampaignPauses(), SendEvidence()
    sender = Sender(
        config=config,
        client=CloudApiClient(config),
        ledger=CommandLedger(app, partitions=settings.kafka_partitions),
        deferrals=DeferralBook(app, partitions=settings.kafka_partitions),
        consent=consent,
        pauses=pauses,
        evidence=evidence,
        publisher=KafkaPublisher(wapp),
        clock=wapp.clock,
        results=PublishedResults(bootstrap=wapp.bootstrap),
    )
    wapp.extras["sender"] = sender
    app.service(sender_replica(wapp.bootstrap, consent, pauses))  # type: ignore[arg-type]
    app.service(SenderService(sender))  # type: ignore[arg-type]

    @app.agent(wapp.topic(topics.COMMANDS), name="sender-commands")
    async def send_commands(stream: faust.StreamT[OutboundCommand]) -> AsyncIterator[None]:
        manual = stream.noack()  # type: ignore[attr-defined]  # Stream has it, StreamT not
        in_order = InOrderAcks()  # Faust's commit skips a one-offset gap: offset_acks.py
        consumer = app.consumer
        owner = consumer if isinstance(consumer, OwnedAcksConsumer) else None
        if owner is not None:
            # Only this agent's acks count: Faust acks events it skips in a rebalance
            # (runtime/faust_owned_acks.py).
            owner.own([topics.COMMANDS.name])

        async def release(event: faust.EventT) -> None:
            if owner is not None:
                owner.ack_owned(event.message)
            await manual.ack(event)

        async for event in manual.events():
            message = event.message
            ack = in_order.expect(message.partition, message.offset, partial(release, event))
            await sender.admit(event.value, partition=message.partition, ack=ack)
            yield None

    @app.agent(wapp.topic(topics.STATUS), name="sender-evidence")
    async def collect_evidence(stream: faust.StreamT[DeliveryReceipt]) -> AsyncIterator[None]:
        async for receipt in stream:
            if receipt.biz_opaque_callback_data:
                evidence.saw(receipt.biz_opaque_callback_data, receipt.wamid)
            yield None

    @app.timer(DEFERRAL_TICK_S)
    async def release_deferred() -> None:
        if app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]
            await sender.release_due(owned_command_partitions(app))

    if config.ledger_retention_ms:

        @app.timer(ledger_prune_interval_s(settings.sender_ledger_retention_hours))
        async def forget_done_commands() -> None:
            if app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]
                forgotten = await sender.forget_done(owned_command_partitions(app))
                if forgotten:
                    log.info("sender.ledger_forgot", commands=forgotten)
