"""Expansion: every sender policy applied where the customer's state lives."""

from __future__ import annotations

import os
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.campaigns.expansion import BUDGET, expand
from pipeline.campaigns.identity import bucket_of, command_id_for
from pipeline.campaigns.segments import matches
from pipeline.policy.gate import GateReason
from pipeline.policy.messaging_limit import ReachLedger
from pipeline.policy.tags import DORMANT, OPTED_OUT
from tests.campaigns.audiences import (
    DAY_MS,
    HOUR_MS,
    KR_PRICE_MICROS,
    NOW_MS,
    customer,
    kr,
    spec,
    us,
)


def test_a_segment_picks_customers_and_commands_carry_the_template() -> None:
    campaign = spec(segment="vip and not dormant")
    people = [
        customer(kr(1), "vip", "heat:hot", profile_name="Min-jun Kim"),
        customer(kr(2), "vip", DORMANT),
        customer(kr(3), "heat:hot"),
    ]
    result = expand(campaign, people, NOW_MS)
    assert result.audience == 1
    (command,) = result.commands
    assert command.customer == kr(1)
    assert command.command_id == command_id_for("spring", kr(1))
    assert (command.kind, command.template_name, command.template_language) == (
        "template",
        "spring_sale",
        "en_US",
    )
    assert command.template_params == ("Min-jun", "20%")
    assert (command.category, command.origin, command.campaign_id) == (
        "marketing",
        "campaign",
        "spring",
    )
    assert command.business_number_id == "100"
    assert command.not_before_ms is None  # 11:00 in Seoul: inside the window, send now
    assert command.expires_at_ms == NOW_MS + 72 * HOUR_MS
    assert command.created_ms == NOW_MS


def test_opted_out_and_dormant_customers_are_skipped_with_their_reason() -> None:
    people = [customer(kr(1)), customer(kr(2), OPTED_OUT), customer(kr(3), DORMANT)]
    result = expand(spec(), people, NOW_MS)
    assert [c.customer for c in result.commands] == [kr(1)]
    assert result.skipped == {GateReason.OPTED_OUT.value: 1, GateReason.DORMANT.value: 1}


def test_one_marketing_message_per_24h_defers_to_the_end_of_the_cap() -> None:
    # Last marketing 13 h ago: the cap ends 11 h from now, 22:00 in Seoul, outside the
    # windows; the next window opens at 10:00 the day after.
    people = [customer(kr(1), last_marketing_ms=NOW_MS - 13 * HOUR_MS)]
    (command,) = expand(spec(), people, NOW_MS).commands
    assert command.not_before_ms == NOW_MS + 23 * HOUR_MS
    anytime = expand(spec(send_windows=[]), people, NOW_MS).commands[0]
    assert anytime.not_before_ms == NOW_MS + 11 * HOUR_MS


def test_send_windows_are_in_the_customers_local_time() -> None:
    people = [customer(kr(1)), customer(us(1))]
    by_customer = {c.customer: c for c in expand(spec(), people, NOW_MS).commands}
    assert by_customer[kr(1)].not_before_ms is None  # 11:00 in Seoul
    # 22:00 in New York: the evening window just closed; 10:00 there is 14:00 UTC.
    assert by_customer[us(1)].not_before_ms == NOW_MS + 12 * HOUR_MS


def test_the_schedule_start_becomes_not_before() -> None:
    start = NOW_MS + DAY_MS  # 11:00 in Seoul the next day
    (command,) = expand(spec(schedule={"start_ms": start}), [customer(kr(1))], NOW_MS).commands
    assert command.not_before_ms == start
    assert command.expires_at_ms == start + 72 * HOUR_MS


def test_the_messaging_limit_defers_customers_beyond_the_tier() -> None:
    ledger = ReachLedger(limit=2)
    people = [customer(kr(n), value_minor=100 - n) for n in range(1, 5)]
    result = expand(spec(send_windows=[]), people, NOW_MS, reach=ledger)
    not_before = {c.customer: c.not_before_ms for c in result.commands}
    assert not_before[kr(1)] is None and not_before[kr(2)] is None
    # Both wait for the first slot to free up; the sender re-checks the tier when they fall due.
    assert not_before[kr(3)] == NOW_MS + DAY_MS and not_before[kr(4)] == NOW_MS + DAY_MS
    assert ledger.active_customers(NOW_MS) == 2
    # A customer inside their service window is not business-initiated: not held to the tier.
    chatting = customer(kr(9), last_inbound_ms=NOW_MS - HOUR_MS)
    (command,) = expand(spec(send_windows=[]), [chatting], NOW_MS, reach=ledger).commands
    assert command.not_before_ms is None


def test_a_paused_campaign_expands_to_nothing() -> None:
    result = expand(spec(), [customer(kr(1)), customer(kr(2))], NOW_MS, paused=True)
    assert result.commands == ()
    assert result.skipped == {GateReason.CAMPAIGN_PAUSED.value: 2}


def test_the_budget_cap_stops_before_the_cost_would_exceed_it() -> None:
    # 3.5 messages' worth: three go, to the three richest customers; then it stops.
    budget_usd = 3.5 * KR_PRICE_MICROS / 1_000_000
    people = [customer(kr(n), value_minor=n * 1000) for n in range(1, 8)]
    result = expand(spec(budget_usd=budget_usd), people, NOW_MS)
    assert [c.customer for c in result.commands] == [kr(7), kr(6), kr(5)]
    assert result.estimated_cost_micros == 3 * KR_PRICE_MICROS
    assert result.budget_exhausted
    assert result.skipped == {BUDGET: 4}
    # A worker's share overrides the spec's cap.
    shared = expand(spec(budget_usd=budget_usd), people, NOW_MS, budget_micros=KR_PRICE_MICROS)
    assert len(shared.commands) == 1


def test_commands_are_ordered_by_customer_value_with_marketing_priority() -> None:
    people = [customer(kr(n), value_minor=v) for n, v in ((1, 5), (2, 500), (3, 50))]
    commands = expand(spec(), people, NOW_MS).commands
    assert [c.customer_value_minor for c in commands] == [500, 50, 5]
    assert {c.priority for c in commands} == {2}  # marketing ranks after service and utility


def test_expansion_is_deterministic_so_a_crash_replay_produces_the_same_ids() -> None:
    people = [customer(kr(n), "vip" if n % 2 else "heat:hot") for n in range(50)]
    first = expand(spec(segment="vip"), people, NOW_MS)
    again = expand(spec(segment="vip"), list(reversed(people)), NOW_MS)
    assert first.commands == again.commands


def test_command_ids_are_the_same_in_another_process_with_another_hash_seed() -> None:
    numbers = [kr(n) for n in range(20)]
    script = (
        "from pipeline.campaigns.identity import bucket_of, command_id_for, bucket_of\n"
        f"for n in {numbers!r}: print(command_id_for('spring', n), bucket_of('spring', n))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    expected = [
        x for n in numbers for x in (command_id_for("spring", n), str(bucket_of("spring", n)))
    ]
    assert out == expected


_TAGS = st.frozensets(st.sampled_from(["vip", "heat:hot", DORMANT, OPTED_OUT, "value:high"]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**8 - 1),
            _TAGS,
            st.integers(0, 10**6),
            st.none() | st.integers(-3 * DAY_MS, 0),
        ),
        max_size=40,
        unique_by=lambda t: t[0],
    ),
    st.sampled_from(["vip or heat:hot", "not value:high", "vip and not dormant"]),
    st.none() | st.integers(1, 20),
)
def test_expansion_never_breaks_a_policy(
    rows: list[tuple[int, frozenset[str], int, int | None]],
    segment: str,
    budget_messages: int | None,
) -> None:
    campaign = spec(
        segment=segment,
        budget_usd=None if budget_messages is None else budget_messages * 0.0732,
    )
    people = [
        customer(
            kr(n),
            *tags,
            value_minor=value,
            last_marketing_ms=None if ago is None else NOW_MS + ago,
        )
        for n, tags, value, ago in rows
    ]
    result = expand(campaign, people, NOW_MS)
    by_customer = {p.customer: p for p in people}
    assert campaign.segment is not None
    assert result.audience == sum(matches(campaign.segment, p.tags) for p in people)
    assert len(result.commands) + sum(result.skipped.values()) == result.audience
    assert len({c.command_id for c in result.commands}) == len(result.commands)
    assert result.estimated_cost_micros == KR_PRICE_MICROS * len(result.commands)
    if campaign.budget_micros is not None:
        assert result.estimated_cost_micros <= campaign.budget_micros
    for command in result.commands:
        person = by_customer[command.customer]
        assert matches(campaign.segment, person.tags)
        assert OPTED_OUT not in person.tags and DORMANT not in person.tags
        last = person.last_marketing_ms
        if last is not None and last + DAY_MS > NOW_MS:
            assert command.not_before_ms is not None and command.not_before_ms >= last + DAY_MS
    values = [c.customer_value_minor for c in result.commands]
    assert values == sorted(values, reverse=True)
