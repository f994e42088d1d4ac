"""Meta's error objects, byte for byte in shape (whatsapp-cloud-api.md, "Sending").

A response error is ``{"error": {"message": "(#code) title", "type": "OAuthException",
"code": …, "error_data": {"messaging_product": "whatsapp", "details": …}, "fbtrace_id": …}}``;
the same error inside a failed status webhook is ``{"code", "title", "message", "error_data":
{"details"}, "href"}``. Clients branch on ``code``, so the codes and shapes are what matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR_DOCS_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaErrorKind:
    code: int
    title: str
    details: str
    http_status: int = 400
    error_type: str = "OAuthException"
    whatsapp_data: bool = True  # Graph-level errors (190, 100/33) carry no WhatsApp error_data
    subcode: int | None = None
    # Meta may report these after "accepted", as a failed status webhook.
    deliverable_later: bool = False


INVALID_TOKEN = MetaErrorKind(
    code=190,
    title="Invalid OAuth access token - Cannot parse access token",
    details="",
    http_status=401,
    whatsapp_data=False,
)
UNKNOWN_OBJECT = MetaErrorKind(
    code=100,
    title="Unsupported post request",
    details="",
    http_status=400,
    error_type="GraphMethodException",
    whatsapp_data=False,
    subcode=33,
)
INVALID_PARAMETER = MetaErrorKind(code=100, title="Invalid parameter", details="")
MISSING_PARAMETER = MetaErrorKind(code=131008, title="Required parameter is missing", details="")
THROUGHPUT = MetaErrorKind(
    code=130429,
    title="Rate limit hit",
    http_status=429,
    details="Cloud API message throughput has been reached.",
)
PAIR_RATE = MetaErrorKind(
    code=131056,
    title="(Business Account, Consumer Account) pair rate limit hit",
    http_status=429,
    details="Message failed to send because there were too many messages sent from this phone"
    " number to the same phone number in a short period of time.",
)
REENGAGEMENT = MetaErrorKind(
    code=131047,
    title="Re-engagement message",
    deliverable_later=True,
    details="Message failed to send because more than 24 hours have passed since the customer"
    " last replied to this number.",
)
UNDELIVERABLE = MetaErrorKind(
    code=131026,
    title="Message undeliverable",
    deliverable_later=True,
    details="Unable to deliver message. Reasons can include: the recipient phone number is not"
    " a WhatsApp phone number.",
)
MARKETING_LIMIT = MetaErrorKind(
    code=131049,
    deliverable_later=True,
    title="This message was not delivered to maintain healthy ecosystem engagement.",
    details="In order to maintain a healthy ecosystem engagement, the message failed to be"
    " delivered.",
)
MARKETING_STOPPED = MetaErrorKind(
    code=131050,
    deliverable_later=True,
    title="Unable to deliver the marketing message",
    details="This recipient has chosen to stop receiving marketing messages on WhatsApp from"
    " your business.",
)
TEMPLATE_PARAM_COUNT = MetaErrorKind(
    code=132000,
    title="Number of parameters does not match the expected number of params",
    details="",
)
TEMPLATE_MISSING = MetaErrorKind(
    code=132001, title="Template name does not exist in the translation", details=""
)
TEMPLATE_PAUSED = MetaErrorKind(
    code=132015,
    title="Template is Paused",
    details="Template is paused due to low quality so it cannot be sent in a template message.",
)


@dataclass(frozen=True, slots=True)
class MetaError:
    """One error occurrence: its kind plus the details that name what was wrong."""

    kind: MetaErrorKind
    details: str = ""
    message: str | None = None  # overrides "(#code) title" where Meta words it differently

    @property
    def code(self) -> int:
        return self.kind.code

    @property
    def text(self) -> str:
        return self.message or f"(#{self.kind.code}) {self.kind.title}"

    @property
    def detail_text(self) -> str:
        return self.details or self.kind.details

    def response_body(self, fbtrace_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.text,
            "type": self.kind.error_type,
            "code": self.kind.code,
        }
        if self.kind.subcode is not None:
            error["error_subcode"] = self.kind.subcode
        if self.kind.whatsapp_data:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.detail_text}
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}

    def status_error(self) -> dict[str, Any]:
        """The error as it appears in a failed status webhook's ``errors`` list."""
        return {
            "code": self.kind.code,
            "title": self.kind.title,
            "message": self.kind.title,
            "error_data": {"details": self.detail_text},
            "href": ERROR_DOCS_HREF,
        }


def unknown_object(object_id: str) -> MetaError:
    return MetaError(
        UNKNOWN_OBJECT,
        message=(
            f"Unsupported post request. Object with ID '{object_id}' does not exist, cannot be"
            " loaded due to missing permissions, or does not support this operation. Please"
            " read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
        ),
    )


def invalid_token() -> MetaError:
    return MetaError(INVALID_TOKEN, message=f"{INVALID_TOKEN.title}")
