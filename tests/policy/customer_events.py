"""Events about one customer, and a hypothesis strategy for them, for the engagement tests."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from pipeline.events import ConsentChange, DeliveryReceipt, InboundMessage, Purchase, SendResult
from pipeline.policy.customer_state import CustomerState, apply_event
from pipeline.policy.tag_thresholds import DEFAULT_TAG_THRESHOLDS, TagThresholds

T0 = 1_750_000_000_000
TH = DEFAULT_TAG_THRESHOLDS
CUSTOMER = "821012345678"


def purchase(
    order_id: str, ts_ms: int, amount_minor: int = 50_000, currency: str = "KRW"
) -> Purchase:
    return Purchase(
        order_id=order_id,
        customer=CUSTOMER,
        amount_minor=amount_minor,
        currency=currency,
        ts_ms=ts_ms,
    )


def inbound(ts_ms: int, *, type_: str = "text", context_id: str | None = None) -> InboundMessage:
    return InboundMessage(
        event_id=f"wamid.{ts_ms}.{type_}",
        business_number_id="b1",
        customer=CUSTOMER,
        type=type_,
        context_id=context_id,
        ts_ms=ts_ms,
    )


def receipt(ts_ms: int, status: str = "read", error_code: int | None = None) -> DeliveryReceipt:
    return DeliveryReceipt(
        event_id=f"wamid.x.{status}",
        wamid="wamid.x",
        business_number_id="b1",
        customer=CUSTOMER,
        status=status,
        ts_ms=ts_ms,
        error_code=error_code,
    )


def consent(ts_ms: int, value: str, source: str = "keyword") -> ConsentChange:
    return ConsentChange(
        event_id=f"c{ts_ms}{value}{source}",
        customer=CUSTOMER,
        business_number_id="b1",
        consent=value,
        source=source,
        ts_ms=ts_ms,
    )


def fold(events: Sequence[object], thresholds: TagThresholds = TH) -> CustomerState:
    state = CustomerState()
    for event in events:
        state = apply_event(state, event, thresholds)
    return state


# --- event strategies: all within one frequency window of each other ---------------------------

offsets = st.integers(0, TH.frequency_window_ms)
event_strategy = st.one_of(
    st.builds(
        lambda oid, off, amount, cur: purchase(f"o{oid}", T0 + off, amount, cur),
        st.integers(0, 15),
        offsets,
        st.integers(1, 300_000),
        st.sampled_from(["KRW", "USD", "EUR", "BRL"]),
    ),
    st.builds(
        lambda off, t, ctx: inbound(T0 + off, type_=t, context_id=ctx),
        offsets,
        st.sampled_from(["text", "button", "interactive", "image"]),
        st.none() | st.just("wamid.ctx"),
    ),
    st.builds(
        lambda off, status, code: receipt(T0 + off, status, code),
        offsets,
        st.sampled_from(["sent", "delivered", "read", "failed"]),
        st.none() | st.just(131050) | st.just(131026),
    ),
    st.builds(
        lambda off, value, src: consent(T0 + off, value, src),
        offsets,
        st.sampled_from(["opted_out", "opted_in"]),
        st.sampled_from(["keyword", "webhook"]),
    ),
    st.builds(
        lambda off, outcome, cat, code: SendResult(
            command_id="c",
            wamid=None,
            customer=CUSTOMER,
            business_number_id="b1",
            outcome=outcome,
            category=cat,
            error_code=code,
            ts_ms=T0 + off,
        ),
        offsets,
        st.sampled_from(["accepted", "rejected", "skipped"]),
        st.sampled_from(["marketing", "service"]),
        st.none() | st.just(131050),
    ),
)


def same_order_ids_same_data(events: Sequence[object]) -> list[object]:
    """A redelivered purchase is byte-identical: keep the first version of each order id."""
    seen: dict[str, Purchase] = {}
    out = []
    for e in events:
        if isinstance(e, Purchase):
            e = seen.setdefault(e.order_id, e)
        out.append(e)
    return out
