"""The rules a send must pass, in the order the Cloud API applies them.

Order matters for which code a client sees when several rules fail at once: a malformed
request never reaches the rate limits, and a message refused for the customer's state does
not use up the customer's pair-rate allowance (it was never sent).
"""

from __future__ import annotations

import hmac

from pipeline.sandbox.config import CAP_EXEMPT_CALLING_CODES, SandboxConfig
from pipeline.sandbox.customers import Customer
from pipeline.sandbox.limits import MarketingCap, PairRateLimit, ServiceWindows, ThroughputLimit
from pipeline.sandbox.meta_errors import (
    MARKETING_LIMIT,
    MARKETING_STOPPED,
    PAIR_RATE,
    REENGAGEMENT,
    THROUGHPUT,
    UNDELIVERABLE,
    MetaError,
    invalid_token,
)
from pipeline.sandbox.send_request import SendRequest

US_CALLING_CODE = "1"


def check_bearer(authorization: str | None, access_token: str) -> MetaError | None:
    """190 unless the header is ``Bearer <the configured token>`` (constant-time compare)."""
    if not authorization or not authorization.startswith("Bearer "):
        return invalid_token()
    presented = authorization.removeprefix("Bearer ").strip().encode()
    if not hmac.compare_digest(presented, access_token.encode()):
        return invalid_token()
    return None


def recipient_error(
    request: SendRequest,
    customer: Customer,
    *,
    window_open: bool,
    marketing_allowed: bool,
) -> MetaError | None:
    """Rules about the customer's state; pure so they can be tested one by one."""
    if not customer.reachable:
        return MetaError(UNDELIVERABLE)
    if not request.is_template and not window_open:
        return MetaError(REENGAGEMENT)
    if request.category == "marketing":
        if customer.marketing_stopped:
            return MetaError(MARKETING_STOPPED)
        if customer.calling_code == US_CALLING_CODE:
            # Meta does not deliver marketing templates to US numbers at present.
            return MetaError(
                MARKETING_LIMIT,
                details="Marketing template messages are not delivered to US phone numbers.",
            )
        if not marketing_allowed:
            return MetaError(MARKETING_LIMIT)
    return None


class SendRules:
    """The stateful limits plus the pure checks, applied to one accepted-looking request."""

    def __init__(self, config: SandboxConfig) -> None:
        self.throughput = ThroughputLimit(rate_per_s=config.throughput_per_s)
        self.pair_rate = PairRateLimit(interval_s=config.pair_interval_s, burst=config.pair_burst)
        self.windows = ServiceWindows(window_s=config.service_window_s)
        self.marketing_cap = MarketingCap(cap=config.marketing_cap_per_user_24h)

    def check_throughput(self, phone_number_id: str, now_s: float) -> MetaError | None:
        # Every request to the number counts, even one that fails later (Meta counts calls).
        if self.throughput.allow(phone_number_id, now_s):
            return None
        return MetaError(THROUGHPUT)

    def check_recipient(
        self, phone_number_id: str, request: SendRequest, customer: Customer, now_s: float
    ) -> MetaError | None:
        capped = customer.calling_code not in CAP_EXEMPT_CALLING_CODES
        error = recipient_error(
            request,
            customer,
            window_open=self.windows.is_open(phone_number_id, request.wa_id, now_s),
            marketing_allowed=not capped or self.marketing_cap.allow(request.wa_id, now_s),
        )
        if error is not None:
            return error
        if not self.pair_rate.allow(phone_number_id, request.wa_id, now_s):
            return MetaError(PAIR_RATE)
        if request.category == "marketing" and capped:
            self.marketing_cap.count(request.wa_id, now_s)
        return None
