"""One customer's engagement state, folded from events idempotently (issue 6).

The engagement agent folds every event for a customer into a :class:`CustomerState` with
:func:`apply_event`; :mod:`pipeline.policy.tags` reads tags off it. Event time only (design.md
§4): nothing here reads a clock, so replaying the topics gives the same state.

Idempotence under redelivery (issue 6: a naive counter over-counted after a restart):

* "last seen" times are maxima, consent is last-writer-wins on ``(ts, opt-out, source)``:
  applying an event twice, or in another order, changes nothing.
* Purchases are kept with their order ids while they are in the frequency window; the lifetime
  counters only move when an order id is new. Once a purchase falls behind the horizon
  (latest event time − window, or the oldest dropped by the ``max_tracked_orders`` bound) its
  id is forgotten, so any purchase older than the horizon is ignored, replayed or not. Hence:
  duplicates never count twice, and any order of events whose times lie within one window of
  each other gives the same state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from pipeline.events import ConsentChange, DeliveryReceipt, InboundMessage, Purchase, SendResult
from pipeline.policy.frozen_init import fast_init
from pipeline.policy.tag_thresholds import DEFAULT_TAG_THRESHOLDS, TagThresholds

#: Inbound message types that are a tap on something we sent (quick reply, list, button).
CLICK_TYPES = frozenset({"button", "interactive"})
#: Error code meaning the customer stopped marketing messages (whatsapp-cloud-api.md).
OPTED_OUT_ERROR = 131050


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseRecord:
    ts_ms: int
    amount_minor: int
    currency: str
    order_id: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CurrencyTotal:
    """Lifetime orders and value in one currency."""

    currency: str
    orders: int
    amount_minor: int

    @property
    def average_minor(self) -> int:
        return self.amount_minor // self.orders if self.orders else 0


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerState:
    """Everything the tag rules need to know about one customer."""

    purchases: tuple[PurchaseRecord, ...] = ()  # inside the horizon, by (ts, order id)
    totals: tuple[CurrencyTotal, ...] = ()  # lifetime, by currency
    horizon_ms: int | None = None  # purchases before this are ignored (ids forgotten)
    watermark_ms: int | None = None  # latest event time applied
    last_inbound_ms: int | None = None
    last_read_ms: int | None = None
    last_reply_ms: int | None = None
    last_click_ms: int | None = None
    last_marketing_ms: int | None = None  # last accepted marketing message (marketing cap)
    opted_out: bool = False
    consent_ts_ms: int | None = None
    consent_source: str | None = None

    @property
    def lifetime_orders(self) -> int:
        return sum(t.orders for t in self.totals)

    @property
    def last_interaction_ms(self) -> int | None:
        # Read several times per judgement (the engagement agent's hot path): no list, no max.
        last = self.last_inbound_ms
        for t in (self.last_read_ms, self.last_reply_ms, self.last_click_ms):
            if t is not None and (last is None or t > last):
                last = t
        return last

    def last_interaction_kind(self) -> str | None:
        last = self.last_interaction_ms
        for kind, ts in (
            ("reply", self.last_reply_ms),
            ("click", self.last_click_ms),
            ("message", self.last_inbound_ms),
            ("read", self.last_read_ms),
        ):
            if ts is not None and ts == last:
                return kind
        return None


TagEvent = InboundMessage | DeliveryReceipt | Purchase | SendResult | ConsentChange


def _later(current: int | None, ts: int) -> int:
    return ts if current is None or ts > current else current


def _effective_horizon(state: CustomerState, ts_ms: int, thresholds: TagThresholds) -> int:
    """The horizon once an event at ``ts_ms`` is applied."""
    horizon = _later(state.watermark_ms, ts_ms) - thresholds.frequency_window_ms
    return horizon if state.horizon_ms is None else max(horizon, state.horizon_ms)


def _advance(
    state: CustomerState,
    ts_ms: int,
    thresholds: TagThresholds,
    changes: Mapping[str, object] | None = None,
    *,
    purchases: tuple[PurchaseRecord, ...] | None = None,
) -> CustomerState:
    """Apply field ``changes``, move the watermark and horizon, forget purchases behind it."""
    horizon = _effective_horizon(state, ts_ms, thresholds)
    kept = tuple(
        p for p in (state.purchases if purchases is None else purchases) if p.ts_ms >= horizon
    )
    overflow = len(kept) - thresholds.max_tracked_orders
    if overflow > 0:
        # Forget the oldest ids and move the horizon past them, so their replays are ignored
        # instead of counted again.
        horizon = max(horizon, kept[overflow - 1].ts_ms + 1)
        kept = kept[overflow:]
    return replace(
        state,
        watermark_ms=_later(state.watermark_ms, ts_ms),
        horizon_ms=horizon,
        purchases=kept,
        **(changes or {}),  # type: ignore[arg-type]
    )


def apply_purchase(
    state: CustomerState, purchase: Purchase, thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS
) -> CustomerState:
    ts = purchase.ts_ms
    if ts < _effective_horizon(state, ts, thresholds):
        return state  # too old to tell a replay from a new order: never double count
    record = PurchaseRecord(
        ts_ms=ts,
        amount_minor=purchase.amount_minor,
        currency=purchase.currency,
        order_id=purchase.order_id,
    )
    existing = next((p for p in state.purchases if p.order_id == purchase.order_id), None)
    if existing is not None:
        if _version(record) >= _version(existing):
            return state  # redelivered, or a conflicting copy that loses the tie-break
        # Two different bodies for one order_id (a shop resent a corrected order): keep one
        # deterministic version, whatever order they arrive in, so replays agree.
        state = _without(state, existing)
    purchases = tuple(sorted((*state.purchases, record), key=lambda p: (p.ts_ms, p.order_id)))
    totals = {t.currency: t for t in state.totals}
    old = totals.get(purchase.currency)
    totals[purchase.currency] = CurrencyTotal(
        currency=purchase.currency,
        orders=(old.orders if old else 0) + 1,
        amount_minor=(old.amount_minor if old else 0) + purchase.amount_minor,
    )
    return _advance(
        state,
        ts,
        thresholds,
        {"totals": tuple(totals[c] for c in sorted(totals))},
        purchases=purchases,
    )


def _version(record: PurchaseRecord) -> tuple[int, int, str]:
    return (record.ts_ms, record.amount_minor, record.currency)


def _without(state: CustomerState, record: PurchaseRecord) -> CustomerState:
    """``state`` as if ``record`` had never been applied (its window entry and its totals)."""
    totals = []
    for total in state.totals:
        if total.currency == record.currency:
            total = CurrencyTotal(
                currency=total.currency,
                orders=total.orders - 1,
                amount_minor=total.amount_minor - record.amount_minor,
            )
            if total.orders <= 0:
                continue
        totals.append(total)
    return replace(
        state,
        purchases=tuple(p for p in state.purchases if p is not record),
        totals=tuple(totals),
    )


def apply_inbound(
    state: CustomerState,
    message: InboundMessage,
    thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS,
) -> CustomerState:
    ts = message.ts_ms
    changes: dict[str, object] = {"last_inbound_ms": _later(state.last_inbound_ms, ts)}
    if message.context_id:
        changes["last_reply_ms"] = _later(state.last_reply_ms, ts)
    if message.type in CLICK_TYPES:
        changes["last_click_ms"] = _later(state.last_click_ms, ts)
    return _advance(state, ts, thresholds, changes)


def _consent(
    state: CustomerState, *, opted_out: bool, ts_ms: int, source: str
) -> dict[str, object]:
    """Last writer wins on (ts, opt-out beats opt-in, source): independent of arrival order."""
    new_key = (ts_ms, opted_out, source)
    if state.consent_ts_ms is not None:
        old_key = (state.consent_ts_ms, state.opted_out, state.consent_source or "")
        if new_key <= old_key:
            return {}
    return {"opted_out": opted_out, "consent_ts_ms": ts_ms, "consent_source": source}


def apply_receipt(
    state: CustomerState,
    receipt: DeliveryReceipt,
    thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS,
) -> CustomerState:
    ts = receipt.ts_ms
    changes: dict[str, object] = {}
    if receipt.status == "read":
        changes["last_read_ms"] = _later(state.last_read_ms, ts)
    elif receipt.status == "failed" and receipt.error_code == OPTED_OUT_ERROR:
        changes = _consent(state, opted_out=True, ts_ms=ts, source=f"error {OPTED_OUT_ERROR}")
    return _advance(state, ts, thresholds, changes)


def apply_send_result(
    state: CustomerState, result: SendResult, thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS
) -> CustomerState:
    ts = result.ts_ms
    changes: dict[str, object] = {}
    if result.outcome == "accepted" and result.category == "marketing":
        changes["last_marketing_ms"] = _later(state.last_marketing_ms, ts)
    elif result.outcome == "rejected" and result.error_code == OPTED_OUT_ERROR:
        changes = _consent(state, opted_out=True, ts_ms=ts, source=f"error {OPTED_OUT_ERROR}")
    return _advance(state, ts, thresholds, changes)


def apply_consent(
    state: CustomerState, change: ConsentChange, thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS
) -> CustomerState:
    if change.consent not in ("opted_out", "opted_in"):
        return state
    changes = _consent(
        state, opted_out=change.consent == "opted_out", ts_ms=change.ts_ms, source=change.source
    )
    return _advance(state, change.ts_ms, thresholds, changes)


def apply_event(
    state: CustomerState, event: object, thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS
) -> CustomerState:
    """Fold one event into the state; events that do not concern tags leave it unchanged."""
    if isinstance(event, Purchase):
        return apply_purchase(state, event, thresholds)
    if isinstance(event, InboundMessage):
        return apply_inbound(state, event, thresholds)
    if isinstance(event, DeliveryReceipt):
        return apply_receipt(state, event, thresholds)
    if isinstance(event, SendResult):
        return apply_send_result(state, event, thresholds)
    if isinstance(event, ConsentChange):
        return apply_consent(state, event, thresholds)
    return state


__all__ = [
    "CLICK_TYPES",
    "OPTED_OUT_ERROR",
    "CurrencyTotal",
    "CustomerState",
    "PurchaseRecord",
    "TagEvent",
    "apply_consent",
    "apply_event",
    "apply_inbound",
    "apply_purchase",
    "apply_receipt",
    "apply_send_result",
]
