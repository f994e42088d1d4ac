"""Role ``autoreply``: keyword replies to inbound messages, and the opt-out/opt-in keywords.

    wa.inbound.v1 ─► rules (RuleSource, re-read on change) ─► cooldown (table, per customer)
        ├─ opt-out / opt-in keyword ─► customer.consent.v1 first (it takes effect at once)
        └─ reply ───────────────────► wa.outbound.commands.v1 (priority 0, service)

The reply's command id is derived from the inbound wamid, so a redelivered message yields the
same command and the sender's ledger sends it once. Cooldowns use the message's event time
(design.md §4), so replaying the topic gives the same replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import faust
import structlog

from pipeline import topics
from pipeline.agents.autoreply_rules import RuleBook, Verdict, load_rules
from pipeline.agents.state_codec import use_utf8_keys
from pipeline.app import WapipeApp
from pipeline.errors import ConfigError
from pipeline.events import ConsentChange, InboundMessage, OutboundCommand
from pipeline.policy import CATEGORY_RANK, HOUR_MS
from pipeline.runtime.encoded_produce import EncodedProducer

log = structlog.get_logger(__name__)

#: An answer later than this is no answer: the sender expires it instead.
REPLY_EXPIRES_MS = HOUR_MS
RELOAD_CHECK_S = 1.0


class RuleSource:
    """The current rules; re-read when the file's mtime changes (checked ≤ once a second)
    or when :meth:`request_reload` is called (SIGHUP). A broken file keeps the old rules."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._book = RuleBook()
        self._mtime_ns: int | None = None
        self._checked_s = 0.0
        self._forced = False
        self.reload()

    def request_reload(self) -> None:
        self._forced = True

    def reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
            self._book = load_rules(self.path)
        except (OSError, ConfigError) as exc:
            log.error("autoreply.rules_not_loaded", path=str(self.path), error=str(exc))
            return
        self._mtime_ns = mtime
        log.info("autoreply.rules_loaded", path=str(self.path), rules=len(self._book.rules))

    def current(self) -> RuleBook:
        now_s = time.monotonic()
        if self._forced or now_s - self._checked_s >= RELOAD_CHECK_S:
            self._checked_s = now_s
            forced, self._forced = self._forced, False
            try:
                mtime = self.path.stat().st_mtime_ns
            except OSError:
                mtime = None
            if forced or (mtime is not None and mtime != self._mtime_ns):
                self.reload()
        return self._book


def reply_command(message: InboundMessage, verdict: Verdict, *, now_ms: int) -> OutboundCommand:
    reply = verdict.reply
    return OutboundCommand(
        command_id=f"autoreply-{message.event_id}",
        customer=message.customer,
        business_number_id=message.business_number_id,
        kind="text" if reply.text is not None else "template",
        body=reply.text,
        template_name=reply.template_name,
        template_language=reply.template_language,
        template_params=reply.template_params,
        category=reply.category,
        origin="autoreply",
        priority=CATEGORY_RANK["service"],
        reply_to_wamid=message.event_id,
        expires_at_ms=now_ms + REPLY_EXPIRES_MS,
        created_ms=now_ms,
    )


def consent_change(message: InboundMessage, verdict: Verdict) -> ConsentChange:
    return ConsentChange(
        event_id=f"keyword-{message.event_id}",
        customer=message.customer,
        business_number_id=message.business_number_id,
        consent=verdict.consent or "",
        source="keyword",
        detail=verdict.rule_id,
        ts_ms=message.ts_ms,
    )


def register(wapp: WapipeApp) -> None:
    app = wapp.app
    source = RuleSource(wapp.settings.autoreply_rules_path)
    wapp.extras["autoreply_rules"] = source
    cooldowns = app.Table(
        "autoreply-cooldowns",
        partitions=wapp.settings.kafka_partitions,
        schema=faust.Schema(key_type=str, key_serializer="utf8", value_serializer="json"),
    )
    use_utf8_keys(cooldowns)
    produce = EncodedProducer(app)  # the reply is on the latency path: no Topic.send

    @app.task
    async def reload_on_sighup() -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, source.request_reload)

    @app.agent(wapp.topic(topics.INBOUND), name="autoreply")
    async def autoreply(stream: faust.StreamT[InboundMessage]) -> AsyncIterator[None]:
        async for message in stream:
            last: dict[str, int] = cooldowns.get(message.customer) or {}
            verdict = source.current().decide(
                message.text or message.payload, last_reply_ms=last, now_ms=message.ts_ms
            )
            if verdict is not None and not verdict.cooling_down:
                if verdict.consent is not None:
                    change = consent_change(message, verdict)
                    await produce.send_event(topics.CONSENT.name, message.customer, change)
                command = reply_command(message, verdict, now_ms=wapp.clock.now_ms())
                await produce.send_event(topics.COMMANDS.name, command.business_number_id, command)
                cooldowns[message.customer] = {**last, verdict.rule_id: message.ts_ms}
            yield None
