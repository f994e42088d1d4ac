"""The events that flow through wapipe's topics, one frozen dataclass per Avro record.

Field names, order and defaults mirror ``pipeline/schemas/*.avsc`` exactly (a test checks it),
so the codec maps a record to a dict with ``dataclasses.astuple``-speed and back with ``cls(**d)``.
Times are Unix milliseconds (``*_ms``), money is integer minor units (``*_minor``) or
millionths (``*_micros``): never floats.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InboundMessage:
    event_id: str
    business_number_id: str
    customer: str
    profile_name: str | None = None
    type: str = "text"
    text: str | None = None
    payload: str | None = None
    media_id: str | None = None
    mime_type: str | None = None
    context_id: str | None = None
    raw_json: str | None = None
    ts_ms: int = 0
    ingested_ms: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    event_id: str
    wamid: str
    business_number_id: str
    customer: str
    status: str
    ts_ms: int
    conversation_id: str | None = None
    conversation_category: str | None = None
    conversation_expiration_ms: int | None = None
    pricing_billable: bool | None = None
    pricing_model: str | None = None
    pricing_type: str | None = None
    pricing_category: str | None = None
    error_code: int | None = None
    error_title: str | None = None
    error_details: str | None = None
    biz_opaque_callback_data: str | None = None
    ingested_ms: int = 0


@dataclass(frozen=True, slots=True)
class PurchaseItem:
    sku: str
    quantity: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Purchase:
    order_id: str
    customer: str
    amount_minor: int
    currency: str
    items: tuple[PurchaseItem, ...] = ()
    ts_ms: int = 0
    source: str = "api"


@dataclass(frozen=True, slots=True)
class OutboundCommand:
    command_id: str
    customer: str
    business_number_id: str
    kind: str
    body: str | None = None
    template_name: str | None = None
    template_language: str | None = None
    template_params: tuple[str, ...] = ()
    category: str = "service"
    campaign_id: str | None = None
    variant: str | None = None
    origin: str = "api"
    priority: int = 2
    customer_value_minor: int = 0
    reply_to_wamid: str | None = None
    not_before_ms: int | None = None
    expires_at_ms: int | None = None
    created_ms: int = 0


@dataclass(frozen=True, slots=True)
class SendResult:
    command_id: str
    wamid: str | None
    customer: str
    business_number_id: str
    outcome: str
    reason: str | None = None
    error_code: int | None = None
    attempts: int = 0
    category: str = "service"
    campaign_id: str | None = None
    variant: str | None = None
    template_name: str | None = None
    origin: str = "api"
    cost_micros: int = 0
    ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class TagChange:
    event_id: str
    customer: str
    tag: str
    change: str
    reason: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Alarm:
    alarm_id: str
    kind: str
    scope: str
    value: float
    threshold: float
    sample: int
    state: str
    priority: bool = False
    detail: str | None = None
    ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    event_id: str
    source: str
    reason: str
    raw: bytes
    ts_ms: int


@dataclass(frozen=True, slots=True)
class ConsentChange:
    event_id: str
    customer: str
    business_number_id: str | None
    consent: str
    source: str
    detail: str | None = None
    ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class CampaignControl:
    event_id: str
    campaign_id: str
    action: str
    spec_json: str | None = None
    reason: str | None = None
    ts_ms: int = 0


Event = (
    InboundMessage
    | DeliveryReceipt
    | Purchase
    | OutboundCommand
    | SendResult
    | TagChange
    | Alarm
    | DeadLetter
    | ConsentChange
    | CampaignControl
)

#: Avro record name → dataclass. The codec builds instances from decoded dicts with these.
RECORD_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        InboundMessage,
        DeliveryReceipt,
        Purchase,
        OutboundCommand,
        SendResult,
        TagChange,
        Alarm,
        DeadLetter,
        ConsentChange,
        CampaignControl,
    )
}
