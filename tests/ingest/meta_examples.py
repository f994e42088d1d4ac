"""Webhook bodies shaped exactly like the examples in Meta's webhooks reference.

Field names, nesting and value types (string timestamps on messages and statuses, an integer
on user_preferences) follow the documented payloads; ids are Meta's sample ids.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.ingest.signature import sign

WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
CUSTOMER = "16505551234"
METADATA = {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID}
HEALTHY_ECOSYSTEM = "This message was not delivered to maintain healthy ecosystem engagement."
CONTACTS = [{"profile": {"name": "Sheena Nelson"}, "wa_id": CUSTOMER}]


def envelope(value: dict[str, Any], *, field: str = "messages") -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": field}]}],
    }


def messages_value(*messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": METADATA,
        "contacts": CONTACTS,
        "messages": list(messages),
    }


def statuses_value(*statuses: dict[str, Any]) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "metadata": METADATA, "statuses": list(statuses)}


def text_message(
    wamid: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
) -> dict[str, Any]:
    return {
        "from": CUSTOMER,
        "id": wamid,
        "timestamp": "1749416383",
        "type": "text",
        "text": {"body": "Does it come in another color?"},
    }


def interactive_button_reply(
    wamid: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
) -> dict[str, Any]:
    return {
        "context": {
            "from": "15550783881",
            "id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA",
        },
        "from": CUSTOMER,
        "id": wamid,
        "timestamp": "1750025136",
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": "cancel-button", "title": "Cancel"},
        },
    }


def interactive_list_reply(
    wamid: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQkRCQUIxMDQyMjc1NDY3MDUA",
) -> dict[str, Any]:
    return {
        "context": {"from": "15550783881", "id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBJDMTgxMDc3RQA="},
        "from": CUSTOMER,
        "id": wamid,
        "timestamp": "1750026255",
        "type": "interactive",
        "interactive": {
            "type": "list_reply",
            "list_reply": {
                "id": "priority_express",
                "title": "Express Shipping",
                "description": "Next day to 2 days",
            },
        },
    }


def template_quick_reply(
    wamid: str = "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTdBNTg4RjQ1NjgyQjY4MkFBNAA=",
) -> dict[str, Any]:
    return {
        "context": {
            "from": "15550783881",
            "id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA",
        },
        "from": CUSTOMER,
        "id": wamid,
        "timestamp": "1750032018",
        "type": "button",
        "button": {"payload": "Unsubscribe", "text": "Unsubscribe"},
    }


def image_message() -> dict[str, Any]:
    return {
        "from": CUSTOMER,
        "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUJGMzlBNjVBRTM2MDQ0QUIwMAA=",
        "timestamp": "1750090702",
        "type": "image",
        "image": {
            "caption": "Is this in stock?",
            "mime_type": "image/jpeg",
            "sha256": "SfInY0gHMJvOKVCe/kvPXHMVyUsQ/LMeqJJGGAR4aJA=",
            "id": "1003383421387256",
        },
    }


def sent_status_with_pricing(
    wamid: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA",
) -> dict[str, Any]:
    return {
        "id": wamid,
        "status": "sent",
        "timestamp": "1750030073",
        "recipient_id": CUSTOMER,
        "conversation": {
            "id": "5c3fc3ec7e5e2b0b0a02f5ccaf03ce3d",
            "expiration_timestamp": "1750116540",
            "origin": {"type": "marketing"},
        },
        "pricing": {
            "billable": True,
            "pricing_model": "PMP",
            "category": "marketing",
            "type": "regular",
        },
        "biz_opaque_callback_data": "cmd-7f3a",
    }


def v24_read_status(
    wamid: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA",
) -> dict[str, Any]:
    # API v24: no conversation and no pricing object.
    return {"id": wamid, "status": "read", "timestamp": "1750030112", "recipient_id": CUSTOMER}


def failed_status_131049(
    wamid: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCNTQ5NTRGMkZCQjY0RjI5RkEA",
) -> dict[str, Any]:
    return {
        "id": wamid,
        "status": "failed",
        "timestamp": "1750263773",
        "recipient_id": CUSTOMER,
        "errors": [
            {
                "code": 131049,
                "title": HEALTHY_ECOSYSTEM,
                "message": HEALTHY_ECOSYSTEM,
                "error_data": {
                    "details": "In order to maintain a healthy ecosystem engagement, the message "
                    "failed to be delivered."
                },
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ],
    }


def user_preferences_stop() -> dict[str, Any]:
    return envelope(
        {
            "messaging_product": "whatsapp",
            "metadata": METADATA,
            "contacts": CONTACTS,
            "user_preferences": [
                {
                    "wa_id": CUSTOMER,
                    "detail": "User requested to stop marketing messages",
                    "category": "marketing_messages",
                    "value": "stop",
                    "timestamp": 1731705721,
                }
            ],
        },
        field="user_preferences",
    )


def account_errors() -> dict[str, Any]:
    return envelope(
        {
            "messaging_product": "whatsapp",
            "metadata": METADATA,
            "errors": [
                {
                    "code": 131000,
                    "title": "Something went wrong",
                    "message": "Something went wrong",
                    "error_data": {"details": "Message failed to send due to an unknown error."},
                }
            ],
        }
    )


def body_of(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")


def signed(payload: Any, *, app_secret: bytes) -> tuple[bytes, dict[str, str]]:
    body = body_of(payload)
    return body, {
        "X-Hub-Signature-256": sign(body, app_secret=app_secret),
        "Content-Type": "application/json",
    }
