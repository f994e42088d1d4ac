"""The gate every outbound command passes, when it is created and again before it is sent.

One pure function combines the per-customer rules of design.md §7 into a :class:`GateDecision`:
send now, skip (with a reason that goes into the SendResult), or defer until a given time
(the sender reschedules instead of busy-waiting). Per-number limits (throughput, pair rate)
belong to the sender's bucket, not here.

Order of the checks: permanent reasons first (expired, opted out, dormant, paused campaign,
free-form text outside the service window), then the time-based ones (not_before, the
marketing cap, the messaging limit, the campaign's send windows) folded into one deferral to
the earliest instant that satisfies all of them. A deferral that would outlive the command's
``expires_at_ms``, or a free-form text whose service window would close meanwhile, is a skip
now rather than a wasted wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from pipeline.events import OutboundCommand
from pipeline.policy.customer_state import CustomerState
from pipeline.policy.marketing_cap import DEFAULT_MARKETING_CAP, MARKETING, MarketingCap
from pipeline.policy.send_windows import SendWindows
from pipeline.policy.service_window import DEFAULT_SERVICE_WINDOW, TEMPLATE_KIND, ServiceWindow
from pipeline.policy.tag_thresholds import DEFAULT_TAG_THRESHOLDS, TagThresholds
from pipeline.policy.tags import DORMANT, compute_tags


class GateReason(StrEnum):
    EXPIRED = "expired"
    OPTED_OUT = "opted-out"
    DORMANT = "dormant"
    CAMPAIGN_PAUSED = "campaign-paused"
    TEMPLATE_REQUIRED = "template-required"  # free-form text outside the 24 h window (131047)
    NOT_BEFORE = "not-before"
    MARKETING_CAP = "marketing-cap"
    MESSAGING_LIMIT = "messaging-limit"
    SEND_WINDOW = "send-window"


@dataclass(frozen=True, slots=True, kw_only=True)
class GateDecision:
    action: Literal["send", "skip", "defer"]
    reason: GateReason | None = None
    until_ms: int | None = None
    detail: str = ""

    @property
    def outcome(self) -> str | None:
        """The SendResult outcome for a skip (``expired`` or ``skipped``); None otherwise."""
        if self.action != "skip":
            return None
        return "expired" if self.reason is GateReason.EXPIRED else "skipped"


SEND = GateDecision(action="send")


def skip(reason: GateReason, detail: str = "") -> GateDecision:
    return GateDecision(action="skip", reason=reason, detail=detail or reason.value)


def defer(until_ms: int, reason: GateReason, detail: str = "") -> GateDecision:
    return GateDecision(
        action="defer", reason=reason, until_ms=until_ms, detail=detail or reason.value
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerFacts:
    """What the gate needs to know about the customer (from the engagement state)."""

    opted_out: bool = False
    dormant: bool = False
    last_inbound_ms: int | None = None
    last_marketing_ms: int | None = None

    @classmethod
    def from_state(
        cls,
        state: CustomerState,
        now_ms: int,
        thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS,
    ) -> CustomerFacts:
        return cls(
            opted_out=state.opted_out,
            dormant=DORMANT in compute_tags(state, now_ms, thresholds),
            last_inbound_ms=state.last_inbound_ms,
            last_marketing_ms=state.last_marketing_ms,
        )


class ReachView(Protocol):
    """The messaging limit's answer for a customer (``ReachLedger`` satisfies it)."""

    def allowed_at_ms(self, customer: str, now_ms: int) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class GatePolicy:
    service_window: ServiceWindow = DEFAULT_SERVICE_WINDOW
    marketing_cap: MarketingCap = DEFAULT_MARKETING_CAP
    #: Categories an opt-out blocks. Service replies still go (the opt-out confirmation is
    #: one), and so do utility messages such as order updates the customer expects.
    opt_out_blocks: frozenset[str] = frozenset({MARKETING})
    #: Categories withheld from dormant customers (design.md §5: excluded from marketing).
    dormant_blocks: frozenset[str] = frozenset({MARKETING})
    #: False where the customer's last message is unknown: the sender keeps no customer
    #: state (design.md §3a applies the window where the command is created), so it leaves
    #: the window to the command's creator and to Meta's 131047 instead of refusing all text.
    check_service_window: bool = True


DEFAULT_GATE_POLICY = GatePolicy()


def gate(
    command: OutboundCommand,
    *,
    customer: CustomerFacts,
    now_ms: int,
    policy: GatePolicy = DEFAULT_GATE_POLICY,
    campaign_paused: bool = False,
    send_windows: SendWindows | None = None,
    reach: ReachView | None = None,
) -> GateDecision:
    """Decide what happens to ``command`` at ``now_ms``.

    ``send_windows``: the command's campaign windows, if it has any. ``reach``: the portfolio's
    messaging-limit view; business-initiated messages (templates sent while the service window
    is closed) are held to it.
    """
    expires = command.expires_at_ms
    if expires is not None and now_ms >= expires:
        return skip(GateReason.EXPIRED)
    category = command.category
    if customer.opted_out and category in policy.opt_out_blocks:
        return skip(GateReason.OPTED_OUT)
    if customer.dormant and category in policy.dormant_blocks:
        return skip(GateReason.DORMANT)
    if campaign_paused and command.campaign_id is not None:
        return skip(GateReason.CAMPAIGN_PAUSED, f"campaign {command.campaign_id} is paused")
    window = policy.service_window
    free_form = command.kind != TEMPLATE_KIND
    check_window = free_form and policy.check_service_window
    if check_window and not window.is_open(customer.last_inbound_ms, now_ms):
        return skip(GateReason.TEMPLATE_REQUIRED, "outside the 24 h service window: use a template")

    until, reason = _earliest_sendable(
        command,
        customer=customer,
        now_ms=now_ms,
        policy=policy,
        send_windows=send_windows,
        reach=reach,
    )
    if until <= now_ms:
        return SEND
    if expires is not None and until >= expires:
        return skip(GateReason.EXPIRED, f"{reason.value} would hold it past its expiry")
    if check_window and not window.is_open(customer.last_inbound_ms, until):
        return skip(
            GateReason.TEMPLATE_REQUIRED,
            f"{reason.value} would hold it past the 24 h service window: use a template",
        )
    return defer(until, reason)


# Rules can switch on as time passes (the service window closes, so the messaging limit starts
# to apply), hence a few rounds; in practice two or three suffice.
_MAX_ROUNDS = 8


def _earliest_sendable(
    command: OutboundCommand,
    *,
    customer: CustomerFacts,
    now_ms: int,
    policy: GatePolicy,
    send_windows: SendWindows | None,
    reach: ReachView | None,
) -> tuple[int, GateReason]:
    """The first instant ≥ ``now_ms`` at which every time-based rule allows the command.

    Each rule answers "earliest allowed at or after t"; we move t to the latest answer until
    no rule moves it. Nothing in between can be allowed, since some rule refused all of it.
    """
    free_form = command.kind != TEMPLATE_KIND
    at, reason = now_ms, GateReason.NOT_BEFORE
    for _ in range(_MAX_ROUNDS):
        waits: list[tuple[int, GateReason]] = [(at, reason)]
        if command.not_before_ms is not None:
            waits.append((command.not_before_ms, GateReason.NOT_BEFORE))
        if command.category == MARKETING:
            cap_at = policy.marketing_cap.allowed_at_ms(customer.last_marketing_ms, at)
            waits.append((cap_at, GateReason.MARKETING_CAP))
        business_initiated = not free_form and not policy.service_window.is_open(
            customer.last_inbound_ms, at
        )
        if reach is not None and business_initiated:
            waits.append((reach.allowed_at_ms(command.customer, at), GateReason.MESSAGING_LIMIT))
        # max() keeps the first of equal times: the reason already holding ``at`` wins ties.
        later, later_reason = max(waits, key=lambda w: w[0])
        if send_windows is not None:
            opens = send_windows.next_allowed_ms(customer=command.customer, now_ms=later)
            if opens > later:
                later, later_reason = opens, GateReason.SEND_WINDOW
        if later == at:
            break
        at, reason = later, later_reason
    return at, reason


__all__ = [
    "DEFAULT_GATE_POLICY",
    "SEND",
    "CustomerFacts",
    "GateDecision",
    "GatePolicy",
    "GateReason",
    "ReachView",
    "defer",
    "gate",
    "skip",
]
