"""Parse a ``POST …/messages`` body the way the Cloud API validates it (pure, no state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.sandbox.meta_errors import (
    INVALID_PARAMETER,
    MISSING_PARAMETER,
    TEMPLATE_MISSING,
    TEMPLATE_PARAM_COUNT,
    TEMPLATE_PAUSED,
    MetaError,
)
from pipeline.sandbox.templates import Template, TemplateRegistry, TemplateStatus

MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
SUPPORTED_TYPES = frozenset(
    {"text", "template", "interactive", "location", "contacts", "reaction"} | MEDIA_TYPES
)
MIN_WA_ID_DIGITS = 8
MAX_WA_ID_DIGITS = 15  # E.164 allows at most 15 digits


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRequest:
    """A validated send: who, what kind, which template (if any)."""

    to_input: str
    wa_id: str
    type: str
    template: Template | None = None
    text_body: str | None = None
    biz_opaque_callback_data: str | None = None

    @property
    def is_template(self) -> bool:
        return self.template is not None

    @property
    def category(self) -> str:
        """Pricing category: free-form messages are "service"."""
        return self.template.category.value if self.template else "service"

    @property
    def has_media(self) -> bool:
        return self.type in MEDIA_TYPES or bool(self.template and self.template.has_media_header)


def parse_send_request(body: Any, templates: TemplateRegistry) -> SendRequest | MetaError:
    if not isinstance(body, dict):
        return MetaError(INVALID_PARAMETER, details="The request body must be a JSON object.")
    if body.get("messaging_product") != "whatsapp":
        return MetaError(
            INVALID_PARAMETER,
            message="(#100) The parameter messaging_product is required.",
            details="messaging_product must be 'whatsapp'.",
        )
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type != "individual":
        return MetaError(INVALID_PARAMETER, details="recipient_type must be 'individual'.")
    to = body.get("to")
    if to is None or to == "":
        return MetaError(MISSING_PARAMETER, details="The parameter to is required.")
    wa_id = normalise_wa_id(to)
    if wa_id is None:
        return MetaError(INVALID_PARAMETER, details=f"Invalid WhatsApp ID or phone number: {to}")
    msg_type = body.get("type", "text")
    if msg_type not in SUPPORTED_TYPES:
        allowed = ", ".join(sorted(SUPPORTED_TYPES))
        return MetaError(INVALID_PARAMETER, details=f"Param type must be one of {{{allowed}}}.")
    payload = body.get(msg_type)
    if not isinstance(payload, dict):
        return MetaError(MISSING_PARAMETER, details=f"The parameter {msg_type} is required.")
    opaque = body.get("biz_opaque_callback_data")
    if opaque is not None and (not isinstance(opaque, str) or len(opaque) > 512):
        return MetaError(
            INVALID_PARAMETER, details="biz_opaque_callback_data must be a string of ≤512 chars."
        )
    common = {
        "to_input": str(to),
        "wa_id": wa_id,
        "type": msg_type,
        "biz_opaque_callback_data": opaque,
    }
    if msg_type == "text":
        text = payload.get("body")
        if not isinstance(text, str) or not text:
            return MetaError(MISSING_PARAMETER, details="The parameter text['body'] is required.")
        if len(text) > 4096:
            return MetaError(INVALID_PARAMETER, details="text['body'] is over 4096 characters.")
        return SendRequest(text_body=text, **common)
    if msg_type == "template":
        template = _check_template(payload, templates)
        if isinstance(template, MetaError):
            return template
        return SendRequest(template=template, **common)
    return SendRequest(**common)


def normalise_wa_id(to: object) -> str | None:
    """``+82 10-1234-5678`` → ``821012345678``; None when it cannot be a phone number."""
    if not isinstance(to, str):
        return None
    digits = to.strip().removeprefix("+")
    for sep in (" ", "-", "(", ")", "."):
        digits = digits.replace(sep, "")
    if not digits.isdigit() or not MIN_WA_ID_DIGITS <= len(digits) <= MAX_WA_ID_DIGITS:
        return None
    return digits


def _check_template(payload: dict[str, Any], templates: TemplateRegistry) -> Template | MetaError:
    name = payload.get("name")
    if not isinstance(name, str) or not name:
        return MetaError(MISSING_PARAMETER, details="The parameter template['name'] is required.")
    language = payload.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    if not isinstance(code, str) or not code:
        return MetaError(
            MISSING_PARAMETER, details="The parameter template['language']['code'] is required."
        )
    template = templates.get(name, code)
    if template is None or template.status is TemplateStatus.REJECTED:
        return MetaError(
            TEMPLATE_MISSING,
            details=f"template name ({name}) does not exist in {code}",
        )
    if template.status is TemplateStatus.PAUSED:
        return MetaError(TEMPLATE_PAUSED, details=f"Template {name} ({code}) is paused.")
    count = _body_parameter_count(payload.get("components"))
    if isinstance(count, MetaError):
        return count
    if count != template.body_parameter_count:
        return MetaError(
            TEMPLATE_PARAM_COUNT,
            details=(
                f"body: number of localizable_params ({count}) does not match the expected"
                f" number of params ({template.body_parameter_count})"
            ),
        )
    return template


def _body_parameter_count(components: object) -> int | MetaError:
    if components is None:
        return 0
    if not isinstance(components, list):
        return MetaError(INVALID_PARAMETER, details="template['components'] must be a list.")
    count = 0
    for component in components:
        if not isinstance(component, dict) or "type" not in component:
            return MetaError(
                MISSING_PARAMETER, details="The parameter components[type] is required."
            )
        if str(component["type"]).lower() != "body":
            continue
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            return MetaError(INVALID_PARAMETER, details="components[parameters] must be a list.")
        for parameter in parameters:
            if not isinstance(parameter, dict) or "type" not in parameter:
                return MetaError(
                    MISSING_PARAMETER, details="The parameter parameters[type] is required."
                )
            if parameter["type"] == "text" and not isinstance(parameter.get("text"), str):
                return MetaError(
                    MISSING_PARAMETER, details="The parameter parameters[text] is required."
                )
        count += len(parameters)
    return count
