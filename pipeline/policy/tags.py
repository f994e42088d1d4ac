"""Engagement tags (design.md §5) as pure functions over one customer's state.

The engagement agent folds every event for a customer into a :class:`CustomerState` with
:func:`apply_event`, recomputes :func:`compute_tags` and publishes :func:`diff_tags` as
TagChange events; a periodic sweep asks :func:`next_tag_change_ms` when time alone will change
a tag (hot → warm → cold → dormant, purchases leaving the 90-day window).

Event time only (design.md §4): nothing here reads a clock, so replaying the topics gives the
same state and tags.

Idempotence under redelivery (issue 6: a naive counter over-counted after a restart):

* "last seen" times are maxima, consent is last-writer-wins on ``(ts, opt-out, source)``:
  applying an event twice, or in another order, changes nothing.
* Purchases are kept with their order ids while they are in the frequency window; the lifetime
  counters only move when an order id is new. Once a purchase falls behind the horizon
  (latest event time − window, or the oldest dropped by the ``max_tracked_orders`` bound) its
  id is forgotten, so any purchase older than the horizon is ignored, replayed or not. Hence:
  duplicates never count twice, and any order of events whose times lie within one window of
  each other gives the same state.

"Within N days" is inclusive everywhere: an interaction exactly 7 days old is still hot, a
purchase exactly 90 days old still counts; one millisecond later it does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from pipeline.events import ConsentChange, DeliveryReceipt, InboundMessage, Purchase, SendResult
from pipeline.policy.durations import DAY_MS, HOUR_MS

FREQ_MONTHLY = "freq:monthly"
FREQ_QUARTERLY = "freq:quarterly"
FREQ_LAPSED = "freq:lapsed"
FREQ_NONE = "freq:none"
VALUE_HIGH = "value:high"
VALUE_MID = "value:mid"
VALUE_LOW = "value:low"
HEAT_HOT = "heat:hot"
HEAT_WARM = "heat:warm"
HEAT_COLD = "heat:cold"
DORMANT = "dormant"
VIP = "vip"
OPTED_OUT = "opted-out"

#: Inbound message types that are a tap on something we sent (quick reply, list, button).
CLICK_TYPES = frozenset({"button", "interactive"})
#: Error code meaning the customer stopped marketing messages (whatsapp-cloud-api.md).
OPTED_OUT_ERROR = 131050


# --- thresholds ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ValueThresholds:
    """Average order value bands in the currency's minor unit: ≥ high, ≥ mid, else low."""

    high_minor: int
    mid_minor: int

    def __post_init__(self) -> None:
        if not 0 <= self.mid_minor <= self.high_minor:
            raise ValueError(
                f"need 0 ≤ mid_minor ≤ high_minor, got mid {self.mid_minor}, high {self.high_minor}"
            )


DEFAULT_VALUE_THRESHOLDS: tuple[tuple[str, ValueThresholds], ...] = (
    ("KRW", ValueThresholds(high_minor=100_000, mid_minor=30_000)),  # won (no minor unit)
    ("USD", ValueThresholds(high_minor=10_000, mid_minor=3_000)),  # cents: $100 / $30
    ("EUR", ValueThresholds(high_minor=10_000, mid_minor=3_000)),  # cents: €100 / €30
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TagThresholds:
    """Every number the tag rules use (design.md §5 defaults)."""

    hot_within_ms: int = 7 * DAY_MS
    warm_within_ms: int = 30 * DAY_MS
    dormant_after_ms: int = 90 * DAY_MS
    frequency_window_ms: int = 90 * DAY_MS
    monthly_min_purchases: int = 3
    value_by_currency: tuple[tuple[str, ValueThresholds], ...] = DEFAULT_VALUE_THRESHOLDS
    #: For currencies not listed; amounts are compared in that currency's minor unit as is.
    value_fallback: ValueThresholds = field(
        default_factory=lambda: ValueThresholds(high_minor=10_000, mid_minor=3_000)
    )
    #: Bound on the order ids kept per customer; older ones move the horizon forward.
    max_tracked_orders: int = 500

    def __post_init__(self) -> None:
        if not 0 <= self.hot_within_ms <= self.warm_within_ms:
            raise ValueError("need 0 ≤ hot_within_ms ≤ warm_within_ms")
        if self.dormant_after_ms < 0 or self.frequency_window_ms < 0:
            raise ValueError("dormant_after_ms and frequency_window_ms must be ≥ 0")
        if self.monthly_min_purchases < 2:
            raise ValueError("monthly_min_purchases must be ≥ 2 (1 purchase is quarterly)")
        if self.max_tracked_orders < self.monthly_min_purchases:
            raise ValueError("max_tracked_orders must be ≥ monthly_min_purchases")

    def value_for(self, currency: str) -> ValueThresholds:
        for code, bands in self.value_by_currency:
            if code == currency:
                return bands
        return self.value_fallback


DEFAULT_TAG_THRESHOLDS = TagThresholds()


# --- state -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseRecord:
    ts_ms: int
    amount_minor: int
    currency: str
    order_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrencyTotal:
    """Lifetime orders and value in one currency."""

    currency: str
    orders: int
    amount_minor: int

    @property
    def average_minor(self) -> int:
        return self.amount_minor // self.orders if self.orders else 0


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
        stamps = [
            t
            for t in (
                self.last_inbound_ms,
                self.last_read_ms,
                self.last_reply_ms,
                self.last_click_ms,
            )
            if t is not None
        ]
        return max(stamps) if stamps else None

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


# --- applying events -------------------------------------------------------------------------

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
    if any(p.order_id == purchase.order_id for p in state.purchases):
        return state  # redelivered
    record = PurchaseRecord(
        ts_ms=ts,
        amount_minor=purchase.amount_minor,
        currency=purchase.currency,
        order_id=purchase.order_id,
    )
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


# --- tags ------------------------------------------------------------------------------------


def purchases_in_window(state: CustomerState, now_ms: int, thresholds: TagThresholds) -> int:
    since = now_ms - thresholds.frequency_window_ms
    return sum(1 for p in state.purchases if p.ts_ms >= since)


def _main_currency(state: CustomerState) -> CurrencyTotal | None:
    """The currency with the most orders (ties: alphabetical), whose average sets value:*."""
    best: CurrencyTotal | None = None
    for total in state.totals:  # sorted by currency, so the first of equals wins
        if total.orders and (best is None or total.orders > best.orders):
            best = total
    return best


def _frequency(state: CustomerState, now_ms: int, th: TagThresholds) -> tuple[str, str]:
    recent = purchases_in_window(state, now_ms, th)
    days = _days(th.frequency_window_ms)
    if recent >= th.monthly_min_purchases:
        return FREQ_MONTHLY, (
            f"{recent} purchases in the last {days} (monthly needs ≥{th.monthly_min_purchases})"
        )
    if recent:
        noun = "purchase" if recent == 1 else "purchases"
        return FREQ_QUARTERLY, f"{recent} {noun} in the last {days}"
    lifetime = state.lifetime_orders
    if lifetime:
        return FREQ_LAPSED, f"no purchase in the last {days} ({lifetime} before)"
    return FREQ_NONE, "no purchases yet"


def _value(state: CustomerState, th: TagThresholds) -> tuple[str, str] | None:
    main = _main_currency(state)
    if main is None:
        return None
    bands = th.value_for(main.currency)
    average = main.average_minor
    money = _money(average, main.currency)
    orders = f"over {main.orders} order{'s' if main.orders != 1 else ''}"
    if average >= bands.high_minor:
        rule = f"high ≥ {_money(bands.high_minor, main.currency)}"
        return VALUE_HIGH, f"average order {money} {orders}; {rule}"
    if average >= bands.mid_minor:
        rule = f"mid ≥ {_money(bands.mid_minor, main.currency)}"
        return VALUE_MID, f"average order {money} {orders}; {rule}"
    rule = f"low < {_money(bands.mid_minor, main.currency)}"
    return VALUE_LOW, f"average order {money} {orders}; {rule}"


def _heat(state: CustomerState, now_ms: int, th: TagThresholds) -> tuple[str, str] | None:
    last = state.last_interaction_ms
    if last is None:
        return None
    age = now_ms - last
    seen = f"last {state.last_interaction_kind()} {_age(age)} ago"
    if age <= th.hot_within_ms:
        return HEAT_HOT, f"{seen}; hot = within {_days(th.hot_within_ms)}"
    if age <= th.warm_within_ms:
        return HEAT_WARM, f"{seen}; warm = within {_days(th.warm_within_ms)}"
    return HEAT_COLD, f"{seen}; cold = over {_days(th.warm_within_ms)}"


def _dormancy(state: CustomerState, now_ms: int, th: TagThresholds) -> tuple[bool, str]:
    last = state.last_interaction_ms
    if last is None:
        # Never interacted: unknown rather than dormant (a new buyer is not a lost one).
        return False, "no interaction yet"
    age = now_ms - last
    if age > th.dormant_after_ms:
        return True, f"no interaction for over {_days(th.dormant_after_ms)} (last {_age(age)} ago)"
    return False, f"interaction {_age(age)} ago, within {_days(th.dormant_after_ms)}"


def tag_report(
    state: CustomerState, now_ms: int, thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS
) -> tuple[frozenset[str], dict[str, str]]:
    """The tags at ``now_ms`` and, per family (freq, value, heat, dormant, vip, opted-out),
    a sentence saying why the customer is where they are."""
    tags: set[str] = set()
    reasons: dict[str, str] = {}
    freq, reasons["freq"] = _frequency(state, now_ms, thresholds)
    tags.add(freq)
    value = _value(state, thresholds)
    if value:
        tags.add(value[0])
        reasons["value"] = value[1]
    else:
        reasons["value"] = "no purchases yet"
    heat = _heat(state, now_ms, thresholds)
    if heat:
        tags.add(heat[0])
        reasons["heat"] = heat[1]
    else:
        reasons["heat"] = "no interaction yet"
    dormant, reasons[DORMANT] = _dormancy(state, now_ms, thresholds)
    if dormant:
        tags.add(DORMANT)
    is_vip = VALUE_HIGH in tags and HEAT_HOT in tags
    if is_vip:
        tags.add(VIP)
        reasons[VIP] = "value:high and heat:hot"
    else:
        now = ", ".join(sorted(t for t in tags if t.startswith(("value:", "heat:")))) or "neither"
        reasons[VIP] = f"needs value:high and heat:hot (now {now})"
    if state.opted_out:
        tags.add(OPTED_OUT)
    source = state.consent_source or "default"
    reasons[OPTED_OUT] = f"opted {'out' if state.opted_out else 'in'} via {source}"
    return frozenset(tags), reasons


def compute_tags(
    state: CustomerState, now_ms: int, thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS
) -> frozenset[str]:
    """The customer's tags at ``now_ms``."""
    return tag_report(state, now_ms, thresholds)[0]


def tag_family(tag: str) -> str:
    """``"heat:hot"`` → ``"heat"``; tags without a prefix are their own family."""
    return tag.split(":", 1)[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class TagDelta:
    tag: str
    change: Literal["added", "removed"]
    reason: str


def diff_tags(
    old: frozenset[str], new: frozenset[str], reasons: Mapping[str, str] | None = None
) -> list[TagDelta]:
    """One delta per tag that appeared or disappeared, removals first, each with its reason.

    ``reasons`` is the per-family mapping from :func:`tag_report` for the new state.
    """
    reasons = reasons or {}
    deltas = [
        TagDelta(tag=tag, change="removed", reason=reasons.get(tag_family(tag), "rule changed"))
        for tag in sorted(old - new)
    ]
    deltas += [
        TagDelta(tag=tag, change="added", reason=reasons.get(tag_family(tag), "rule changed"))
        for tag in sorted(new - old)
    ]
    return deltas


def next_tag_change_ms(
    state: CustomerState, now_ms: int, thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS
) -> int | None:
    """The first instant after ``now_ms`` at which time alone changes the tags; None if never.

    Time only moves heat, dormant, vip (through heat) and frequency (purchases leaving the
    window), so the candidates are a handful of boundary instants.
    """
    th = thresholds
    candidates: set[int] = set()
    last = state.last_interaction_ms
    if last is not None:
        for within_ms in (th.hot_within_ms, th.warm_within_ms, th.dormant_after_ms):
            candidates.add(last + within_ms + 1)
    window_ts = sorted(p.ts_ms for p in state.purchases)
    if window_ts:
        # The count only matters at "≥ monthly" → fewer, and 1 → 0: these purchases' exits.
        candidates.add(window_ts[-1] + th.frequency_window_ms + 1)
        for ts in window_ts:
            candidates.add(ts + th.frequency_window_ms + 1)
    current = compute_tags(state, now_ms, th)
    for at in sorted(c for c in candidates if c > now_ms):
        if compute_tags(state, at, th) != current:
            return at
    return None


# --- wording ---------------------------------------------------------------------------------

_ZERO_DECIMAL_CURRENCIES = frozenset({"KRW", "JPY", "VND", "CLP", "ISK", "IDR"})


def _money(minor: int, currency: str) -> str:
    if currency in _ZERO_DECIMAL_CURRENCIES:
        return f"{minor:,} {currency}"
    return f"{minor / 100:,.2f} {currency}"


def _days(ms: int) -> str:
    days, rest = divmod(ms, DAY_MS)
    if rest:
        return f"{ms / HOUR_MS:g} hours"
    return f"{days} day" if days == 1 else f"{days} days"


def _age(ms: int) -> str:
    if ms < 0:
        return "0 d 0 h"
    days, rest = divmod(ms, DAY_MS)
    return f"{days} d {rest // HOUR_MS} h"


__all__ = [
    "CLICK_TYPES",
    "DEFAULT_TAG_THRESHOLDS",
    "DEFAULT_VALUE_THRESHOLDS",
    "DORMANT",
    "FREQ_LAPSED",
    "FREQ_MONTHLY",
    "FREQ_NONE",
    "FREQ_QUARTERLY",
    "HEAT_COLD",
    "HEAT_HOT",
    "HEAT_WARM",
    "OPTED_OUT",
    "VALUE_HIGH",
    "VALUE_LOW",
    "VALUE_MID",
    "VIP",
    "CurrencyTotal",
    "CustomerState",
    "PurchaseRecord",
    "TagDelta",
    "TagEvent",
    "TagThresholds",
    "ValueThresholds",
    "apply_consent",
    "apply_event",
    "apply_inbound",
    "apply_purchase",
    "apply_receipt",
    "apply_send_result",
    "compute_tags",
    "diff_tags",
    "next_tag_change_ms",
    "purchases_in_window",
    "tag_family",
    "tag_report",
]
