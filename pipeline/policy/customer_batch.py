"""A batch of one customer's events folded into :class:`CustomerState` with mutable state.

:func:`pipeline.policy.customer_state.apply_event` rebuilds the frozen state for every event
(``dataclasses.replace``, a new purchases tuple, a new totals tuple): clear, but most of the
engagement agent's time per event (issue 6's benchmark). :func:`fold_records` gives exactly
the same state (tests/policy/test_customer_batch.py checks it with hypothesis) while working
on plain mutable fields, and freezes once at the end of the batch.

Events come as *records*: ``(Avro record name, fields)``, what
:meth:`pipeline.schemas.codec.AvroEventCodec.decode_dict` returns, so a batch is decoded
without building an event dataclass per message. :func:`record_of` turns an event into one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from pipeline.policy.customer_state import (
    CLICK_TYPES,
    OPTED_OUT_ERROR,
    CurrencyTotal,
    CustomerState,
    PurchaseRecord,
)
from pipeline.policy.tag_thresholds import TagThresholds

#: ``(record name, fields)``: "Purchase", "InboundMessage", "DeliveryReceipt", "SendResult",
#: "ConsentChange"; any other name leaves the state unchanged (as ``apply_event`` does).
EventRecord = tuple[str, Mapping[str, Any]]

_OPTED_OUT_SOURCE = f"error {OPTED_OUT_ERROR}"


def record_of(event: Any) -> EventRecord:
    """An event dataclass as the record the agent decodes from Avro."""
    return type(event).__name__, {f.name: getattr(event, f.name) for f in fields(event)}


def _version(record: PurchaseRecord) -> tuple[int, int, str]:
    return (record.ts_ms, record.amount_minor, record.currency)


class _WorkingState:
    """The fields of :class:`CustomerState` as plain attributes, for one batch.

    Each ``_apply_*`` method mirrors the ``apply_*`` function of the same name in
    :mod:`pipeline.policy.customer_state`, rule for rule.
    """

    __slots__ = (
        "consent_source",
        "consent_ts_ms",
        "horizon_ms",
        "last_click_ms",
        "last_inbound_ms",
        "last_marketing_ms",
        "last_read_ms",
        "last_reply_ms",
        "max_orders",
        "opted_out",
        "origin",
        "purchases",
        "totals",
        "watermark_ms",
        "window_ms",
    )

    def __init__(self, state: CustomerState, thresholds: TagThresholds) -> None:
        self.origin = state
        # The stored tuple until a purchase or the horizon changes it (then a list): an
        # unchanged tuple is kept, not copied (one object fewer for the collector to walk).
        self.purchases: tuple[PurchaseRecord, ...] | list[PurchaseRecord] = state.purchases
        # currency → [orders, amount]; None while no purchase touched the totals.
        self.totals: dict[str, list[int]] | None = None
        self.horizon_ms = state.horizon_ms
        self.watermark_ms = state.watermark_ms
        self.last_inbound_ms = state.last_inbound_ms
        self.last_read_ms = state.last_read_ms
        self.last_reply_ms = state.last_reply_ms
        self.last_click_ms = state.last_click_ms
        self.last_marketing_ms = state.last_marketing_ms
        self.opted_out = state.opted_out
        self.consent_ts_ms = state.consent_ts_ms
        self.consent_source = state.consent_source
        self.window_ms = thresholds.frequency_window_ms
        self.max_orders = thresholds.max_tracked_orders

    def frozen(self) -> CustomerState:
        totals = self.origin.totals
        if self.totals is not None:
            totals = tuple(
                CurrencyTotal(currency=c, orders=t[0], amount_minor=t[1])
                for c, t in sorted(self.totals.items())
            )
        purchases = self.purchases
        return CustomerState(
            purchases=purchases if type(purchases) is tuple else tuple(purchases),
            totals=totals,
            horizon_ms=self.horizon_ms,
            watermark_ms=self.watermark_ms,
            last_inbound_ms=self.last_inbound_ms,
            last_read_ms=self.last_read_ms,
            last_reply_ms=self.last_reply_ms,
            last_click_ms=self.last_click_ms,
            last_marketing_ms=self.last_marketing_ms,
            opted_out=self.opted_out,
            consent_ts_ms=self.consent_ts_ms,
            consent_source=self.consent_source,
        )

    # --- the shared step: watermark, horizon, purchases behind it ------------------------

    def _effective_horizon(self, ts_ms: int) -> int:
        wm = self.watermark_ms
        horizon = (ts_ms if wm is None or ts_ms > wm else wm) - self.window_ms
        old = self.horizon_ms
        return horizon if old is None or horizon > old else old

    def _advance(self, ts_ms: int) -> None:
        horizon = self._effective_horizon(ts_ms)
        kept = self.purchases
        # Purchases stay sorted by (ts, order id), so the first one is the oldest.
        if kept and kept[0].ts_ms < horizon:
            kept = [p for p in kept if p.ts_ms >= horizon]
        overflow = len(kept) - self.max_orders
        if overflow > 0:
            # As customer_state._advance: forget the oldest ids, move the horizon past them.
            horizon = max(horizon, kept[overflow - 1].ts_ms + 1)
            kept = kept[overflow:]
        self.purchases = kept
        wm = self.watermark_ms
        self.watermark_ms = ts_ms if wm is None or ts_ms > wm else wm
        self.horizon_ms = horizon

    def _consent(self, *, opted_out: bool, ts_ms: int, source: str) -> None:
        if self.consent_ts_ms is not None:
            old_key = (self.consent_ts_ms, self.opted_out, self.consent_source or "")
            if (ts_ms, opted_out, source) <= old_key:
                return
        self.opted_out, self.consent_ts_ms, self.consent_source = opted_out, ts_ms, source

    # --- one method per record type ----------------------------------------------------

    def _apply_purchase(self, r: Mapping[str, Any]) -> None:
        ts = r["ts_ms"]
        if ts < self._effective_horizon(ts):
            return  # too old to tell a replay from a new order
        record = PurchaseRecord(
            ts_ms=ts, amount_minor=r["amount_minor"], currency=r["currency"], order_id=r["order_id"]
        )
        if self.totals is None:
            self.totals = {t.currency: [t.orders, t.amount_minor] for t in self.origin.totals}
        totals = self.totals
        existing = next((p for p in self.purchases if p.order_id == record.order_id), None)
        if existing is not None:
            if _version(record) >= _version(existing):
                return
            self.purchases = [p for p in self.purchases if p is not existing]
            old = totals[existing.currency]
            old[0] -= 1
            old[1] -= existing.amount_minor
            if old[0] <= 0:
                del totals[existing.currency]
        purchases = [*self.purchases, record]
        purchases.sort(key=lambda p: (p.ts_ms, p.order_id))
        self.purchases = purchases
        total = totals.setdefault(record.currency, [0, 0])
        total[0] += 1
        total[1] += record.amount_minor
        self._advance(ts)

    def _apply_inbound(self, r: Mapping[str, Any]) -> None:
        ts = r["ts_ms"]
        if self.last_inbound_ms is None or ts > self.last_inbound_ms:
            self.last_inbound_ms = ts
        if r.get("context_id") and (self.last_reply_ms is None or ts > self.last_reply_ms):
            self.last_reply_ms = ts
        if r.get("type") in CLICK_TYPES and (self.last_click_ms is None or ts > self.last_click_ms):
            self.last_click_ms = ts
        self._advance(ts)

    def _apply_receipt(self, r: Mapping[str, Any]) -> None:
        ts = r["ts_ms"]
        status = r["status"]
        if status == "read":
            if self.last_read_ms is None or ts > self.last_read_ms:
                self.last_read_ms = ts
        elif status == "failed" and r.get("error_code") == OPTED_OUT_ERROR:
            self._consent(opted_out=True, ts_ms=ts, source=_OPTED_OUT_SOURCE)
        self._advance(ts)

    def _apply_send_result(self, r: Mapping[str, Any]) -> None:
        ts = r["ts_ms"]
        outcome = r["outcome"]
        if outcome == "accepted" and r.get("category") == "marketing":
            if self.last_marketing_ms is None or ts > self.last_marketing_ms:
                self.last_marketing_ms = ts
        elif outcome == "rejected" and r.get("error_code") == OPTED_OUT_ERROR:
            self._consent(opted_out=True, ts_ms=ts, source=_OPTED_OUT_SOURCE)
        self._advance(ts)

    def _apply_consent(self, r: Mapping[str, Any]) -> None:
        consent = r["consent"]
        if consent not in ("opted_out", "opted_in"):
            return
        ts = r["ts_ms"]
        self._consent(opted_out=consent == "opted_out", ts_ms=ts, source=r["source"])
        self._advance(ts)


#: The fields each ``_apply_*`` method reads: a batch is decoded to these only
#: (:class:`pipeline.schemas.codec.Projection`). A property test folds projected and full
#: records and compares the states, so a field read here but missing below fails it.
FOLDED_FIELDS: dict[str, tuple[str, ...]] = {
    "Purchase": ("ts_ms", "amount_minor", "currency", "order_id"),
    "InboundMessage": ("ts_ms", "context_id", "type"),
    "DeliveryReceipt": ("ts_ms", "status", "error_code"),
    "SendResult": ("ts_ms", "outcome", "category", "error_code"),
    "ConsentChange": ("ts_ms", "consent", "source"),
}

_APPLY = {
    "Purchase": _WorkingState._apply_purchase,
    "InboundMessage": _WorkingState._apply_inbound,
    "DeliveryReceipt": _WorkingState._apply_receipt,
    "SendResult": _WorkingState._apply_send_result,
    "ConsentChange": _WorkingState._apply_consent,
}


def fold_records(
    state: CustomerState, records: Iterable[EventRecord], thresholds: TagThresholds
) -> tuple[CustomerState, int | None]:
    """Fold one customer's records in order: ``(new state, latest event time or None)``.

    The state equals folding the same events one by one with ``apply_event``.
    """
    working = _WorkingState(state, thresholds)
    latest: int | None = None
    for name, record in records:
        apply = _APPLY.get(name)
        if apply is not None:
            apply(working, record)
        ts = record.get("ts_ms")
        if isinstance(ts, int) and (latest is None or ts > latest):
            latest = ts
    return working.frozen(), latest


__all__ = ["FOLDED_FIELDS", "EventRecord", "fold_records", "record_of"]
