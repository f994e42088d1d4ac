"""Webhook payloads in Meta's envelope, signed as Meta signs them, batched as Meta batches.

Shapes follow whatsapp-cloud-api.md, "Webhooks": one POST carries entries per WhatsApp
Business Account, each with changes per phone number and field; statuses and inbound
messages travel in separate changes, as Meta sends them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from pipeline.sandbox.config import BusinessNumber
from pipeline.sandbox.customers import Customer
from pipeline.sandbox.meta_errors import MetaError

SIGNATURE_HEADER = "X-Hub-Signature-256"


def sign(body: bytes, app_secret: str) -> str:
    """``sha256=<hex HMAC-SHA256 of the raw body, keyed with the app secret>``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str | None, app_secret: str) -> bool:
    return signature is not None and hmac.compare_digest(sign(body, app_secret), signature)


@dataclass(frozen=True, slots=True)
class Update:
    """One item for a webhook: where it goes in the envelope and what it says."""

    phone_number_id: str
    field: str  # "messages" | "user_preferences"
    list_key: str  # "statuses" | "messages" | "user_preferences"
    item: dict[str, Any]
    contact: dict[str, Any] | None = None


def status_item(
    *,
    wamid: str,
    status: str,
    ts_s: float,
    wa_id: str,
    category: str,
    biz_opaque_callback_data: str | None,
    error: MetaError | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(ts_s)),
        "recipient_id": wa_id,
    }
    if status in ("sent", "delivered"):
        free = category == "service"
        item["conversation"] = {
            "id": hashlib.blake2b(f"{wa_id}:{category}".encode(), digest_size=16).hexdigest(),
            "origin": {"type": category},
        }
        item["pricing"] = {
            "billable": not free,
            "pricing_model": "PMP",
            "type": "free_customer_service" if free else "regular",
            "category": category,
        }
    if error is not None:
        item["errors"] = [error.status_error()]
    if biz_opaque_callback_data is not None:
        item["biz_opaque_callback_data"] = biz_opaque_callback_data
    return item


def contact(customer: Customer) -> dict[str, Any]:
    return {"profile": {"name": customer.name}, "wa_id": customer.wa_id}


def inbound_text_item(
    *,
    wamid: str,
    customer: Customer,
    text: str,
    ts_s: float,
    context: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """An inbound text; ``context`` = (business display number, wamid it answers)."""
    item: dict[str, Any] = {
        "from": customer.wa_id,
        "id": wamid,
        "timestamp": str(int(ts_s)),
        "type": "text",
        "text": {"body": text},
    }
    if context is not None:
        item["context"] = {"from": context[0], "id": context[1]}
    return item


def preference_item(*, wa_id: str, value: str, ts_s: float) -> dict[str, Any]:
    detail = (
        "User requested to stop marketing messages"
        if value == "stop"
        else ("User requested to resume marketing messages")
    )
    # Meta sends this timestamp as an integer, unlike every other webhook timestamp.
    return {
        "wa_id": wa_id,
        "detail": detail,
        "category": "marketing_messages",
        "value": value,
        "timestamp": int(ts_s),
    }


def build_envelope(updates: list[Update], numbers: dict[str, BusinessNumber]) -> dict[str, Any]:
    entries: dict[str, dict[str, Any]] = {}
    changes: dict[tuple[str, str, str], dict[str, Any]] = {}
    for update in updates:
        number = numbers[update.phone_number_id]
        entry = entries.get(number.waba_id)
        if entry is None:
            entry = {"id": number.waba_id, "changes": []}
            entries[number.waba_id] = entry
        key = (update.phone_number_id, update.field, update.list_key)
        value = changes.get(key)
        if value is None:
            value = {
                "messaging_product": "whatsapp",
                "metadata": {
                    "display_phone_number": number.display_phone_number,
                    "phone_number_id": number.phone_number_id,
                },
            }
            changes[key] = value
            entry["changes"].append({"field": update.field, "value": value})
        if update.contact is not None:
            contacts = value.setdefault("contacts", [])
            if update.contact not in contacts:
                contacts.append(update.contact)
        value.setdefault(update.list_key, []).append(update.item)
    return {"object": "whatsapp_business_account", "entry": list(entries.values())}


def encode(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
