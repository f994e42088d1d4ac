"""The simulated world behind the API: numbers, customers, limits, and what happens next.

``handle_send`` is the whole send path without HTTP: check, decide, answer, and plan the
customer's reaction as scheduled actions. It does a constant amount of work per request
(a few dict look-ups, a handful of random draws, heap pushes), so the sandbox never limits
the pipeline's benchmarks; all webhook I/O happens later, in background tasks.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import structlog

from pipeline.sandbox.behaviour import inbound_text, plan_reaction
from pipeline.sandbox.clock import SandboxClock
from pipeline.sandbox.config import BusinessNumber, SandboxConfig
from pipeline.sandbox.customers import Customer, Population, derived_rng, make_purchase
from pipeline.sandbox.delivery import Poster, WebhookBatcher
from pipeline.sandbox.meta_errors import (
    INVALID_PARAMETER,
    UNDELIVERABLE,
    MetaError,
    unknown_object,
)
from pipeline.sandbox.record import EmittedRecord, PostRecord, RequestRecord, SandboxRecord
from pipeline.sandbox.rules import SendRules, check_bearer
from pipeline.sandbox.scheduler import SimScheduler
from pipeline.sandbox.send_request import SendRequest, parse_send_request
from pipeline.sandbox.templates import TemplateRegistry
from pipeline.sandbox.webhooks import (
    Update,
    contact,
    inbound_text_item,
    preference_item,
    status_item,
)

log = structlog.get_logger(__name__)

#: Orders per POST when the history is published.
HISTORY_CHUNK = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundMessage:
    wamid: str
    phone_number_id: str
    wa_id: str
    category: str
    biz_opaque_callback_data: str | None


class SandboxWorld:
    def __init__(
        self,
        config: SandboxConfig,
        *,
        clock: SandboxClock | None = None,
        templates: TemplateRegistry | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SandboxClock(start_s=config.clock_start_s, speed=config.clock_speed)
        self.templates = templates or TemplateRegistry()
        self.record = SandboxRecord(max_requests=config.record_max_requests)
        self.population = Population(config.population, seed=config.seed, now_s=self.clock.now_s())
        self.numbers: dict[str, BusinessNumber] = {
            n.phone_number_id: n for n in config.business_numbers
        }
        self.rules = SendRules(config)
        self.scheduler = SimScheduler(self.clock)
        self.callback_url = config.callback_url
        self.purchases_url = config.purchases_url
        self.poster = Poster(config.delivery, self.record)
        self.batcher = WebhookBatcher(
            spec=config.delivery,
            poster=self.poster,
            callback_url=lambda: self.callback_url,
            app_secret=config.app_secret,
            numbers=self.numbers,
        )
        self._seq = itertools.count(1)
        self._sent_count: dict[tuple[str, str], int] = {}
        self._admin_inbound = itertools.count(1)
        self._spontaneous_rng = derived_rng(config.seed, "spontaneous")

    # --- life-cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await self.poster.start()
        self.scheduler.start()
        self._schedule_spontaneous(self.clock.now_s())

    async def stop(self) -> None:
        await self.scheduler.stop()
        self.batcher.flush()
        await self.poster.stop()

    async def settle(self) -> None:
        """Run what is due, post what is pending, wait for the callback to answer."""
        self.scheduler.run_due()
        self.batcher.flush()
        await self.poster.drain()

    # --- the send path -----------------------------------------------------------------------
    def handle_send(
        self,
        phone_number_id: str,
        authorization: str | None,
        raw_body: bytes,
        *,
        received_unix_s: float | None = None,
    ) -> tuple[int, dict[str, Any]]:
        now_s = self.clock.now_s()
        seq = next(self._seq)
        trace = self._fbtrace_id(seq)
        entry = RequestRecord(
            seq=seq,
            at_s=now_s,
            received_unix_s=time.time() if received_unix_s is None else received_unix_s,
            phone_number_id=phone_number_id,
            http_status=200,
            fbtrace_id=trace,
        )
        error = check_bearer(authorization, self.config.access_token)
        number = self._number(phone_number_id) if error is None else None
        if error is None and number is None:
            error = unknown_object(phone_number_id)
        if error is None:
            error = self.rules.check_throughput(phone_number_id, now_s)
        request: SendRequest | MetaError = error or self._parse(raw_body)
        if isinstance(request, MetaError):
            if error is not None:
                # Refused before the body counted: still record whom and which command it was
                # about, so a test can count a command's attempts (130429 included).
                _note_body(entry, raw_body)
            return self._refuse(entry, request)
        entry.wa_id, entry.to, entry.type = request.wa_id, request.to_input, request.type
        entry.template = request.template.name if request.template else None
        entry.category = request.category
        entry.biz_opaque_callback_data = request.biz_opaque_callback_data
        customer = self.population.get_or_adopt(request.wa_id)
        error = self.rules.check_recipient(phone_number_id, request, customer, now_s)
        if error is not None and not (
            self.config.async_delivery_errors and error.kind.deliverable_later
        ):
            return self._refuse(entry, error)
        wamid = self._accept(phone_number_id, request, customer, now_s, later_error=error)
        entry.wamid = wamid
        self.record.add_request(entry)
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": request.to_input, "wa_id": request.wa_id}],
            "messages": [{"id": wamid, "message_status": "accepted"}],
        }

    def _refuse(self, entry: RequestRecord, error: MetaError) -> tuple[int, dict[str, Any]]:
        entry.http_status = error.kind.http_status
        entry.error_code = error.code
        self.record.add_request(entry)
        return error.kind.http_status, error.response_body(entry.fbtrace_id or "")

    def _parse(self, raw_body: bytes) -> SendRequest | MetaError:
        try:
            body = json.loads(raw_body)
        except ValueError:
            return MetaError(INVALID_PARAMETER, details="The request body is not valid JSON.")
        return parse_send_request(body, self.templates)

    def _number(self, phone_number_id: str) -> BusinessNumber | None:
        number = self.numbers.get(phone_number_id)
        if number is None and self.config.auto_register_numbers and phone_number_id.isdigit():
            first = self.config.business_numbers[0]
            number = BusinessNumber(
                phone_number_id=phone_number_id,
                display_phone_number="1555" + phone_number_id[-7:],
                waba_id=first.waba_id,
            )
            self.numbers[phone_number_id] = number
        return number

    def _accept(
        self,
        phone_number_id: str,
        request: SendRequest,
        customer: Customer,
        now_s: float,
        *,
        later_error: MetaError | None,
    ) -> str:
        key = (phone_number_id, request.wa_id)
        n = self._sent_count.get(key, 0)
        self._sent_count[key] = n + 1
        wamid = self._wamid("out", phone_number_id, request.wa_id, n)
        message = OutboundMessage(
            wamid=wamid,
            phone_number_id=phone_number_id,
            wa_id=request.wa_id,
            category=request.category,
            biz_opaque_callback_data=request.biz_opaque_callback_data,
        )
        rng = derived_rng(self.config.seed, "reaction", phone_number_id, request.wa_id, n)
        if later_error is not None:
            # Meta accepted, then reports the failure as a status webhook.
            self.scheduler.at(
                now_s + rng.uniform(0.2, 1.5),
                lambda due: self._status(message, "failed", due, later_error),
            )
            return wamid
        plan = plan_reaction(
            self.config.behaviour,
            customer,
            category=request.category,
            has_media=request.has_media,
            accepted_at_s=now_s,
            rng=rng,
        )
        at = self.scheduler.at
        at(now_s + plan.sent_after_s, lambda due: self._status(message, "sent", due))
        if plan.failed_after_s is not None:
            at(
                now_s + plan.failed_after_s,
                lambda due: self._status(message, "failed", due, MetaError(UNDELIVERABLE)),
            )
        if plan.delivered_after_s is not None:
            at(now_s + plan.delivered_after_s, lambda due: self._status(message, "delivered", due))
        if plan.read_after_s is not None:
            at(now_s + plan.read_after_s, lambda due: self._status(message, "read", due))
        if plan.reply is not None and plan.reply_after_s is not None:
            text = plan.reply.text
            at(now_s + plan.reply_after_s, lambda due: self._reply(message, customer, text, due))
        if plan.purchase_after_s is not None:
            at(now_s + plan.purchase_after_s, lambda due: self._purchase(message, customer, due))
        if plan.marketing_stop_after_s is not None:
            at(
                now_s + plan.marketing_stop_after_s,
                lambda due: self.set_marketing(
                    customer.wa_id, stopped=True, at_s=due, number_id=phone_number_id
                ),
            )
        return wamid

    # --- what customers do -------------------------------------------------------------------
    def _status(
        self, message: OutboundMessage, status: str, due_s: float, error: MetaError | None = None
    ) -> None:
        item = status_item(
            wamid=message.wamid,
            status=status,
            ts_s=due_s,
            wa_id=message.wa_id,
            category=message.category,
            biz_opaque_callback_data=message.biz_opaque_callback_data,
            error=error,
        )
        self._emit(
            Update(message.phone_number_id, "messages", "statuses", item),
            kind="status",
            wamid=message.wamid,
            at_s=due_s,
        )

    def _reply(self, message: OutboundMessage, customer: Customer, text: str, due_s: float) -> None:
        number = self.numbers[message.phone_number_id]
        wamid = self._wamid("reply", message.wamid)
        self._inbound(
            number,
            customer,
            text,
            due_s,
            wamid=wamid,
            context=(number.display_phone_number, message.wamid),
        )

    def _inbound(
        self,
        number: BusinessNumber,
        customer: Customer,
        text: str,
        at_s: float,
        *,
        wamid: str,
        context: tuple[str, str] | None = None,
    ) -> str:
        self.rules.windows.customer_wrote(number.phone_number_id, customer.wa_id, at_s)
        item = inbound_text_item(
            wamid=wamid, customer=customer, text=text, ts_s=at_s, context=context
        )
        update = Update(number.phone_number_id, "messages", "messages", item, contact(customer))
        self._emit(update, kind="message", wamid=context[1] if context else None, at_s=at_s)
        return wamid

    def _purchase(self, message: OutboundMessage, customer: Customer, due_s: float) -> None:
        rng = derived_rng(self.config.seed, "purchase", message.wamid)
        order_id = "S-" + hashlib.blake2b(message.wamid.encode(), digest_size=6).hexdigest()
        self.post_purchase(make_purchase(customer, rng, ts_s=due_s, order_id=order_id).payload())

    def _emit(self, update: Update, *, kind: str, wamid: str | None, at_s: float) -> None:
        emitted = EmittedRecord(kind=kind, wamid=wamid, at_s=at_s, item=update.item)
        self.record.add_emitted(emitted)
        self.batcher.add(update, emitted)

    def _schedule_spontaneous(self, from_s: float) -> None:
        per_day = self.config.behaviour.inbound_per_customer_day * len(self.population)
        if per_day <= 0:
            return
        gap_s = self._spontaneous_rng.expovariate(per_day / 86400.0)
        self.scheduler.at(from_s + gap_s, self._spontaneous)

    def _spontaneous(self, due_s: float) -> None:
        rng = self._spontaneous_rng
        wa_ids = self.population.wa_ids()
        customer = self.population.get_or_adopt(wa_ids[rng.randrange(len(wa_ids))])
        text, _ = inbound_text(self.config.behaviour, customer, rng, marketing=False)
        number = self.config.business_numbers[0]
        if customer.reachable:
            self._inbound(
                number,
                customer,
                text,
                due_s,
                wamid=self._wamid("spontaneous", customer.wa_id, due_s),
            )
        self._schedule_spontaneous(due_s)

    # --- admin -------------------------------------------------------------------------------
    def inject_inbound(self, phone_number_id: str, wa_id: str, text: str) -> str:
        """A customer writes now: opens the 24 h window and posts the inbound webhook."""
        number = self._number(phone_number_id)
        if number is None:
            raise KeyError(phone_number_id)
        customer = self.population.get_or_adopt(wa_id)
        n = next(self._admin_inbound)
        return self._inbound(
            number, customer, text, self.clock.now_s(), wamid=self._wamid("admin", wa_id, n)
        )

    def set_reachable(self, wa_id: str, reachable: bool) -> None:
        self.population.get_or_adopt(wa_id).reachable = reachable

    def set_marketing(
        self, wa_id: str, *, stopped: bool, at_s: float | None = None, number_id: str | None = None
    ) -> None:
        """The customer turns marketing off (or on) in WhatsApp; Meta tells the business."""
        customer = self.population.get_or_adopt(wa_id)
        customer.marketing_stopped = stopped
        when = self.clock.now_s() if at_s is None else at_s
        item = preference_item(wa_id=wa_id, value="stop" if stopped else "resume", ts_s=when)
        number_id = number_id or self.config.business_numbers[0].phone_number_id
        update = Update(number_id, "user_preferences", "user_preferences", item, contact(customer))
        self._emit(update, kind="user_preferences", wamid=None, at_s=when)

    def post_purchase(self, payload: dict[str, Any]) -> None:
        self.post_purchases([payload], as_list=False)

    def post_purchases(self, payloads: list[dict[str, Any]], *, as_list: bool = True) -> None:
        for payload in payloads:
            self.record.add_purchase(payload)
        body = json.dumps(payloads if as_list else payloads[0], ensure_ascii=False).encode()
        post = PostRecord(
            post_id=self.poster.next_post_id(),
            target="purchases",
            url=self.purchases_url,
            item_count=len(payloads),
            body_bytes=len(body),
        )
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.config.purchases_api_key}",
        }
        self.poster.submit(post, body, headers)

    def publish_history(self) -> int:
        """Post every customer's past orders to the purchases URL (seeds segmentation)."""
        orders = self.population.histories()
        # A shop backfilling its history sends lists: one POST per chunk, not per order.
        for start in range(0, len(orders), HISTORY_CHUNK):
            self.post_purchases(
                [order.payload() for order in orders[start : start + HISTORY_CHUNK]]
            )
        return len(orders)

    # --- identifiers -------------------------------------------------------------------------
    def _wamid(self, *parts: object) -> str:
        digest = hashlib.blake2b(repr((self.config.seed, *parts)).encode(), digest_size=27)
        return "wamid." + base64.urlsafe_b64encode(digest.digest()).decode()

    def _fbtrace_id(self, seq: int) -> str:
        digest = hashlib.blake2b(repr((self.config.seed, "trace", seq)).encode(), digest_size=9)
        return base64.urlsafe_b64encode(digest.digest()).decode()


def _note_body(entry: RequestRecord, raw_body: bytes) -> None:
    try:
        body = json.loads(raw_body)
    except ValueError:
        return
    if isinstance(body, dict):
        to, callback = body.get("to"), body.get("biz_opaque_callback_data")
        entry.to = to if isinstance(to, str) else None
        entry.biz_opaque_callback_data = callback if isinstance(callback, str) else None
