"""One webhook item → one event. Pure functions; each raises PayloadError on a bad item.

Shapes follow Meta's webhooks reference (../shared/whatsapp-cloud-api.md): ``messages[]``,
``statuses[]``, ``errors[]`` and ``user_preferences[]`` inside a change's ``value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.errors import PayloadError
from pipeline.events import Alarm, ConsentChange, DeliveryReceipt, InboundMessage
from pipeline.ingest.payload_fields import (
    compact_json,
    optional_object,
    optional_str,
    required_str,
    unix_seconds_to_ms,
    wa_digits,
)

MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
RECEIPT_STATUSES = frozenset({"sent", "delivered", "read", "failed", "played"})
#: user_preferences value → ConsentChange.consent
CONSENT_FOR_PREFERENCE = {"stop": "opted_out", "resume": "opted_in"}


@dataclass(frozen=True, slots=True)
class ChangeContext:
    """What every item of one change shares: the business number and who the contacts are."""

    business_number_id: str
    profile_names: Mapping[str, str]  # wa_id digits → profile.name
    received_ms: int


def profile_names(contacts: Any) -> dict[str, str]:
    """``contacts[]`` → {wa_id: profile name}; malformed contacts are skipped, never fatal."""
    names: dict[str, str] = {}
    if not isinstance(contacts, list):
        return names
    for contact in contacts:
        if not isinstance(contact, dict):
            continue
        profile = contact.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        wa_id = contact.get("wa_id")
        if isinstance(name, str) and isinstance(wa_id, str):
            try:
                names[wa_digits(wa_id, what="contact.wa_id")] = name.encode("utf-8").decode()
            except (PayloadError, UnicodeEncodeError):
                continue
    return names


def _profile_name(ctx: ChangeContext, customer: str) -> str | None:
    name = ctx.profile_names.get(customer)
    if name is None and len(ctx.profile_names) == 1:
        # wa_id may differ from `from` in rare cases (Meta docs); one contact is the sender.
        name = next(iter(ctx.profile_names.values()))
    return name


def message_event(item: Any, ctx: ChangeContext) -> InboundMessage:
    """An inbound ``messages[]`` item. Unknown types are kept with their raw JSON."""
    if not isinstance(item, dict):
        raise PayloadError("message is not a JSON object")
    what = "message"
    wamid = required_str(item, "id", what=what)
    customer = wa_digits(item.get("from"), what=f"{what}.from")
    kind = required_str(item, "type", what=what)
    ts_ms = unix_seconds_to_ms(item.get("timestamp"), what=f"{what}.timestamp")
    context_id = optional_str(optional_object(item, "context", what=what), "id", what="context")
    text: str | None = None
    payload: str | None = None
    media_id: str | None = None
    mime_type: str | None = None
    raw_json: str | None = None
    nested = item.get(kind)
    body: Mapping[str, Any] = nested if isinstance(nested, dict) else {}
    if kind == "text":
        text = required_str(optional_object(item, "text", what=what), "body", what="text")
    elif kind == "button":  # template quick-reply button
        payload = optional_str(body, "payload", what="button")
        text = optional_str(body, "text", what="button")
    elif kind == "interactive":
        reply_type = required_str(
            optional_object(item, "interactive", what=what), "type", what="interactive"
        )
        reply = optional_object(body, reply_type, what="interactive")
        if reply_type in ("button_reply", "list_reply"):
            payload = required_str(reply, "id", what=reply_type)
            text = optional_str(reply, "title", what=reply_type)
        else:  # nfm_reply (flows) and types to come: kept whole
            raw_json = compact_json(item)
    elif kind in MEDIA_TYPES:
        media = optional_object(item, kind, what=what)
        media_id = required_str(media, "id", what=kind)
        mime_type = optional_str(media, "mime_type", what=kind)
        text = optional_str(media, "caption", what=kind)
        if kind == "document":
            raw_json = compact_json(item)  # keeps the filename
    elif kind == "reaction":
        reaction = optional_object(item, "reaction", what=what)
        text = optional_str(reaction, "emoji", what="reaction")  # absent = reaction removed
        context_id = context_id or optional_str(reaction, "message_id", what="reaction")
    else:  # location, contacts, order, unsupported, system and types not yet known
        order = body if kind == "order" else {}
        text = optional_str(order, "text", what="order")
        raw_json = compact_json(item)
    return InboundMessage(
        event_id=wamid,
        business_number_id=ctx.business_number_id,
        customer=customer,
        profile_name=_profile_name(ctx, customer),
        type=kind,
        text=text,
        payload=payload,
        media_id=media_id,
        mime_type=mime_type,
        context_id=context_id,
        raw_json=raw_json,
        ts_ms=ts_ms,
        ingested_ms=ctx.received_ms,
    )


def _optional_bool(obj: Mapping[str, Any], key: str, *, what: str) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise PayloadError(f"{what}.{key} must be true or false, got {value!r:.40}")


def error_code(value: Any, *, what: str) -> int | None:
    """Meta error codes are small integers (131049, 130429): anything else is malformed."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise PayloadError(f"{what} must be an integer error code, got {value!r:.40}")
    return value


def receipt_event(item: Any, ctx: ChangeContext) -> DeliveryReceipt:
    """A ``statuses[]`` item. pricing and conversation are optional (absent from API v24)."""
    if not isinstance(item, dict):
        raise PayloadError("status is not a JSON object")
    what = "status"
    wamid = required_str(item, "id", what=what)
    status = required_str(item, "status", what=what)
    if status not in RECEIPT_STATUSES:
        raise PayloadError(f"status.status {status!r:.40} is not one of {sorted(RECEIPT_STATUSES)}")
    customer = wa_digits(item.get("recipient_id"), what=f"{what}.recipient_id")
    ts_ms = unix_seconds_to_ms(item.get("timestamp"), what=f"{what}.timestamp")
    conversation = optional_object(item, "conversation", what=what)
    origin = optional_object(conversation, "origin", what="conversation")
    expiration = conversation.get("expiration_timestamp")
    pricing = optional_object(item, "pricing", what=what)
    errors = item.get("errors")
    error: Mapping[str, Any] = {}
    if errors is not None:
        if not isinstance(errors, list):
            raise PayloadError("status.errors must be a JSON array")
        if errors:
            error = errors[0] if isinstance(errors[0], dict) else {}
    code = error_code(error.get("code"), what="status.errors[0].code")
    details = optional_object(error, "error_data", what="error")
    return DeliveryReceipt(
        event_id=f"{wamid}:{status}",
        wamid=wamid,
        business_number_id=ctx.business_number_id,
        customer=customer,
        status=status,
        ts_ms=ts_ms,
        conversation_id=optional_str(conversation, "id", what="conversation"),
        conversation_category=optional_str(origin, "type", what="conversation.origin"),
        conversation_expiration_ms=(
            None
            if expiration is None
            else unix_seconds_to_ms(expiration, what="conversation.expiration_timestamp")
        ),
        pricing_billable=_optional_bool(pricing, "billable", what="pricing"),
        pricing_model=optional_str(pricing, "pricing_model", what="pricing"),
        pricing_type=optional_str(pricing, "type", what="pricing"),
        pricing_category=optional_str(pricing, "category", what="pricing"),
        error_code=code,
        error_title=optional_str(error, "title", what="error"),
        error_details=optional_str(details, "details", what="error.error_data")
        or optional_str(error, "message", what="error"),
        biz_opaque_callback_data=optional_str(item, "biz_opaque_callback_data", what=what),
        ingested_ms=ctx.received_ms,
    )


def consent_event(item: Any, ctx: ChangeContext) -> ConsentChange:
    """A ``user_preferences[]`` item: the customer stopped or resumed marketing in WhatsApp."""
    if not isinstance(item, dict):
        raise PayloadError("user_preferences item is not a JSON object")
    what = "user_preferences"
    customer = wa_digits(item.get("wa_id"), what=f"{what}.wa_id")
    category = required_str(item, "category", what=what)
    if category != "marketing_messages":
        raise PayloadError(f"user_preferences.category {category!r:.40} is not handled")
    value = required_str(item, "value", what=what)
    consent = CONSENT_FOR_PREFERENCE.get(value)
    if consent is None:
        raise PayloadError(f"user_preferences.value {value!r:.40} is not stop or resume")
    ts_ms = unix_seconds_to_ms(item.get("timestamp"), what=f"{what}.timestamp")
    return ConsentChange(
        # Stable, so Meta's duplicate deliveries deduplicate downstream.
        event_id=f"user_preferences:{customer}:{value}:{ts_ms}",
        customer=customer,
        business_number_id=ctx.business_number_id or None,
        consent=consent,
        source="user_preferences",
        detail=optional_str(item, "detail", what=what),
        ts_ms=ts_ms,
    )


def account_alarm(item: Any, ctx: ChangeContext) -> Alarm:
    """An account-level ``errors[]`` item: nobody's message, but someone must look at it."""
    if not isinstance(item, dict):
        raise PayloadError("errors item is not a JSON object")
    code = error_code(item.get("code"), what="errors[].code")
    if code is None:
        raise PayloadError("errors[].code is missing")
    details = optional_object(item, "error_data", what="error")
    parts = [
        optional_str(item, "title", what="error"),
        optional_str(item, "message", what="error"),
        optional_str(details, "details", what="error.error_data"),
    ]
    scope = f"number:{ctx.business_number_id}"
    return Alarm(
        alarm_id=f"account_error:{ctx.business_number_id}:{code}",
        kind="account_error",
        scope=scope,
        value=float(code),
        threshold=0.0,
        sample=1,
        state="firing",
        priority=True,
        detail=" | ".join(p for p in parts if p) or None,
        ts_ms=ctx.received_ms,  # account errors carry no timestamp of their own
    )
