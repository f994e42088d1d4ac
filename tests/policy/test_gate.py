"""The gate: a send satisfies every rule; a deferral is to the first instant that sends."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.events import OutboundCommand
from pipeline.policy.customer_state import CustomerState
from pipeline.policy.durations import DAY_MS, HOUR_MS
from pipeline.policy.gate import SEND, CustomerFacts, GateDecision, GateReason, gate
from pipeline.policy.messaging_limit import ReachLedger
from pipeline.policy.send_windows import SendWindows

T0 = 1_750_000_000_000
CUSTOMER = "821012345678"
HOURS = st.integers(-60, 60).map(lambda h: T0 + h * HOUR_MS)


def command(**overrides: object) -> OutboundCommand:
    fields: dict[str, object] = {
        "command_id": "cmd-1",
        "customer": CUSTOMER,
        "business_number_id": "b1",
        "kind": "template",
        "category": "marketing",
    }
    fields.update(overrides)
    return OutboundCommand(**fields)  # type: ignore[arg-type]


commands = st.builds(
    lambda kind, category, campaign, not_before, expires: command(
        kind=kind,
        category=category,
        campaign_id=campaign,
        not_before_ms=not_before,
        expires_at_ms=expires,
    ),
    st.sampled_from(["text", "template"]),
    st.sampled_from(["marketing", "utility", "service", "authentication"]),
    st.none() | st.just("spring-sale"),
    st.none() | HOURS,
    st.none() | HOURS,
)
facts = st.builds(
    CustomerFacts,
    opted_out=st.booleans(),
    dormant=st.booleans(),
    last_inbound_ms=st.none() | HOURS,
    last_marketing_ms=st.none() | HOURS,
)


def full_ledger(reached_ms: int) -> ReachLedger:
    """A tier with one slot, taken by someone else at ``reached_ms``."""
    ledger = ReachLedger(limit=1)
    ledger.record("someone-else", reached_ms)
    return ledger


def rules_all_allow(
    cmd: OutboundCommand,
    who: CustomerFacts,
    now: int,
    paused: bool,
    windows: SendWindows | None,
    ledger: ReachLedger | None,
) -> bool:
    """Each rule of design.md §7 checked on its own, independently of the gate's code."""
    marketing = cmd.category == "marketing"
    window_open = who.last_inbound_ms is not None and now < who.last_inbound_ms + DAY_MS
    return (
        (cmd.expires_at_ms is None or now < cmd.expires_at_ms)
        and not (marketing and (who.opted_out or who.dormant))
        and not (paused and cmd.campaign_id)
        and (cmd.kind == "template" or window_open)
        and (cmd.not_before_ms is None or cmd.not_before_ms <= now)
        and not (
            marketing and who.last_marketing_ms is not None and now < who.last_marketing_ms + DAY_MS
        )
        and (
            ledger is None
            or cmd.kind == "text"
            or window_open
            or ledger.decide(cmd.customer, now).allows(now)
        )
        and (windows is None or windows.next_allowed_ms(customer=cmd.customer, now_ms=now) == now)
    )


@settings(max_examples=200, deadline=None)
@given(
    cmd=commands,
    who=facts,
    now=HOURS,
    paused=st.booleans(),
    use_windows=st.booleans(),
    reached=st.none() | HOURS,
)
def test_send_iff_every_rule_allows_and_deferrals_land_on_the_first_sendable_instant(
    cmd: OutboundCommand,
    who: CustomerFacts,
    now: int,
    paused: bool,
    use_windows: bool,
    reached: int | None,
) -> None:
    windows = SendWindows(default_zone="Asia/Seoul") if use_windows else None
    ledger = full_ledger(reached) if reached is not None else None

    def decide(at: int) -> GateDecision:
        return gate(
            cmd, customer=who, now_ms=at, campaign_paused=paused, send_windows=windows, reach=ledger
        )

    decision = decide(now)
    assert (decision == SEND) == rules_all_allow(cmd, who, now, paused, windows, ledger)
    if decision.action == "defer":
        assert decision.until_ms is not None and decision.until_ms > now
        assert decide(decision.until_ms) == SEND, "the deferral did not land on a sendable time"
        assert decide(decision.until_ms - 1).action != "send", "it could have gone earlier"
    if decision.action == "skip":
        assert decision.reason is not None
        assert decision.outcome == (
            "expired" if decision.reason is GateReason.EXPIRED else "skipped"
        )


def test_opted_out_customers_get_service_replies_but_not_marketing() -> None:
    who = CustomerFacts(opted_out=True, last_inbound_ms=T0)
    assert gate(command(), customer=who, now_ms=T0).reason is GateReason.OPTED_OUT
    reply = command(kind="text", category="service")
    assert gate(reply, customer=who, now_ms=T0) == SEND


def test_text_outside_the_window_needs_a_template() -> None:
    who = CustomerFacts(last_inbound_ms=T0)
    text = command(kind="text", category="service")
    assert gate(text, customer=who, now_ms=T0 + DAY_MS - 1) == SEND
    decision = gate(text, customer=who, now_ms=T0 + DAY_MS)
    assert decision.reason is GateReason.TEMPLATE_REQUIRED
    assert "template" in decision.detail


def test_marketing_cap_defers_to_exactly_24_hours_after_the_last() -> None:
    who = CustomerFacts(last_marketing_ms=T0)
    decision = gate(command(), customer=who, now_ms=T0 + HOUR_MS)
    assert (decision.action, decision.reason, decision.until_ms) == (
        "defer",
        GateReason.MARKETING_CAP,
        T0 + DAY_MS,
    )


def test_a_wait_beyond_expiry_is_an_expired_skip_now() -> None:
    who = CustomerFacts(last_marketing_ms=T0)
    decision = gate(command(expires_at_ms=T0 + 2 * HOUR_MS), customer=who, now_ms=T0 + HOUR_MS)
    assert (decision.action, decision.reason, decision.outcome) == (
        "skip",
        GateReason.EXPIRED,
        "expired",
    )
    assert decision.detail == "marketing-cap would hold it past its expiry"


def test_paused_campaign_commands_are_skipped_with_that_reason() -> None:
    decision = gate(
        command(campaign_id="c1"), customer=CustomerFacts(), now_ms=T0, campaign_paused=True
    )
    assert decision.reason is GateReason.CAMPAIGN_PAUSED
    assert "c1" in decision.detail


def test_templates_inside_the_service_window_do_not_use_the_messaging_limit() -> None:
    ledger = full_ledger(T0)
    inside = CustomerFacts(last_inbound_ms=T0)
    assert gate(command(category="utility"), customer=inside, now_ms=T0 + 1, reach=ledger) == SEND
    outside = CustomerFacts()
    decision = gate(command(category="utility"), customer=outside, now_ms=T0 + 1, reach=ledger)
    assert (decision.reason, decision.until_ms) == (GateReason.MESSAGING_LIMIT, T0 + DAY_MS)


def test_facts_from_engagement_state_mark_dormant_customers() -> None:
    state = CustomerState(last_inbound_ms=T0, opted_out=True)
    assert CustomerFacts.from_state(state, T0 + 91 * DAY_MS).dormant
    fresh = CustomerFacts.from_state(state, T0 + DAY_MS)
    assert (fresh.dormant, fresh.opted_out, fresh.last_inbound_ms) == (False, True, T0)


def test_a_deferral_past_the_service_window_also_waits_for_the_messaging_limit() -> None:
    # At T0 the window is open, so the limit does not apply; at not_before it has closed.
    who = CustomerFacts(last_inbound_ms=T0)
    cmd = command(category="utility", not_before_ms=T0 + DAY_MS)
    decision = gate(cmd, customer=who, now_ms=T0, reach=full_ledger(T0 + HOUR_MS))
    assert (decision.action, decision.reason, decision.until_ms) == (
        "defer",
        GateReason.MESSAGING_LIMIT,
        T0 + HOUR_MS + DAY_MS,
    )


def test_a_marketing_cap_wait_that_ends_outside_the_send_window_moves_to_the_next_window() -> None:
    windows = SendWindows(default_zone="Asia/Seoul")  # 10–12 and 20–22 Seoul time
    last = T0  # 2025-06-16 00:06:40 KST; the cap ends 24 h later, before 10:00
    who = CustomerFacts(last_marketing_ms=last)
    decision = gate(command(), customer=who, now_ms=last + HOUR_MS, send_windows=windows)
    assert decision.reason is GateReason.SEND_WINDOW
    assert decision.until_ms == windows.next_allowed_ms(customer=CUSTOMER, now_ms=last + DAY_MS)
    assert decision.until_ms is not None and decision.until_ms > last + DAY_MS
