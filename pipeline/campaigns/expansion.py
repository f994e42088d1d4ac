"""Expansion: a campaign × the customers one worker owns → outbound commands.

Pure and deterministic: the same spec, customers and ``now_ms`` give the same commands with
the same ids, so re-expanding after a crash only produces duplicates that the sender's
idempotency drops (command ids come from :func:`~pipeline.campaigns.identity.command_id_for`).

Each customer in the segment passes the sender's own gate (:func:`pipeline.policy.gate.gate`)
at expansion time, where their state lives (design.md §3a): opted-out, dormant and a paused
campaign are skipped; the marketing cap, the messaging limit and the send windows become the
command's ``not_before_ms``. The sender gates again before sending, since state moves on.

Customers are taken richest first (design.md §7: within a class, higher value first), so when
the budget runs out it is the least valuable customers who are left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.campaigns.audience import CampaignCustomer
from pipeline.campaigns.budget import BudgetLedger
from pipeline.campaigns.identity import command_id_for
from pipeline.campaigns.local_time import WindowsByZone
from pipeline.campaigns.parameters import render_all
from pipeline.campaigns.segments import compile_segment
from pipeline.campaigns.spec import CampaignSpec, spec_start_ms
from pipeline.events import OutboundCommand
from pipeline.policy.gate import DEFAULT_GATE_POLICY, GatePolicy, gate
from pipeline.policy.pricing import DEFAULT_PRICE_TABLE, PriceTable
from pipeline.policy.priority import category_rank
from pipeline.policy.service_window import TEMPLATE_KIND

#: Skip reason for customers left out because the budget ran out.
BUDGET = "budget"
CAMPAIGN_ORIGIN = "campaign"


class ReachPlanner(Protocol):
    """The messaging limit, told about each planned message (``ReachLedger`` satisfies it)."""

    def allowed_at_ms(self, customer: str, now_ms: int) -> int: ...

    def record(self, customer: str, sent_ms: int) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Expansion:
    commands: tuple[OutboundCommand, ...]
    audience: int  # customers in the segment, before any policy
    skipped: Mapping[str, int]  # gate reason (or "budget") → customers left out
    estimated_cost_micros: int
    budget_exhausted: bool

    @property
    def deferred(self) -> int:
        """Commands that may not go out at once (schedule, cap, limit or send window)."""
        return sum(1 for c in self.commands if c.not_before_ms is not None)


def expand(
    spec: CampaignSpec,
    customers: Iterable[CampaignCustomer],
    now_ms: int,
    *,
    paused: bool = False,
    budget_micros: int | None = None,
    price_table: PriceTable = DEFAULT_PRICE_TABLE,
    gate_policy: GatePolicy = DEFAULT_GATE_POLICY,
    reach: ReachPlanner | None = None,
) -> Expansion:
    """The commands ``spec`` sends to ``customers``, as of ``now_ms`` (the launch's event time).

    ``budget_micros`` overrides the spec's cap (a worker passes its share of it); ``reach`` is
    this worker's view of the messaging limit, told about every message it plans.
    """
    in_segment = compile_segment(spec.segment) if spec.segment is not None else None
    audience = [c for c in customers if in_segment is None or in_segment(c.tags)]
    ranked = sorted(
        ((c, command_id_for(spec.id, c.customer)) for c in audience),
        key=lambda pair: (-pair[0].value_minor, pair[1]),
    )
    start_ms = spec_start_ms(spec, now_ms)
    expires_ms = start_ms + spec.ttl_ms
    ledger = BudgetLedger(spec.budget_micros if budget_micros is None else budget_micros)
    window = gate_policy.service_window
    rank = category_rank(spec.category)
    zoned = WindowsByZone(spec.send_windows) if spec.send_windows is not None else None
    skipped: Counter[str] = Counter()
    commands: list[OutboundCommand] = []
    for customer, command_id in ranked:
        if ledger.exhausted:
            skipped[BUDGET] += 1
            continue
        variant = spec.variant_for(customer.customer)
        template = variant.template if variant is not None else spec.template
        fields: dict[str, Any] = {
            "command_id": command_id,
            "customer": customer.customer,
            "business_number_id": spec.business_number_id,
            "kind": TEMPLATE_KIND,
            "template_name": template.name,
            "template_language": template.language,
            "template_params": render_all(template.parameters, profile_name=customer.profile_name),
            "category": spec.category,
            "campaign_id": spec.id,
            "variant": variant.name if variant is not None else None,
            "origin": CAMPAIGN_ORIGIN,
            "priority": rank,
            "customer_value_minor": customer.value_minor,
            "not_before_ms": start_ms if start_ms > now_ms else None,
            "expires_at_ms": expires_ms,
            "created_ms": now_ms,
        }
        command = OutboundCommand(**fields)
        place = customer.resolved_place()
        decision = gate(
            command,
            customer=customer.facts(),
            now_ms=now_ms,
            policy=gate_policy,
            campaign_paused=paused,
            send_windows=zoned.for_place(place) if zoned is not None else None,
            reach=reach,
        )
        if decision.action == "skip":
            skipped[str(decision.reason)] += 1
            continue
        send_ms = now_ms
        if decision.action == "defer" and decision.until_ms is not None:
            send_ms = decision.until_ms
            fields["not_before_ms"] = send_ms
            command = OutboundCommand(**fields)  # cheaper than dataclasses.replace
        window_open = window.is_open(customer.last_inbound_ms, send_ms)
        cost = price_table.list_price_micros(
            category=spec.category, country=place.region, service_window_open=window_open
        )
        if not ledger.try_spend(cost):
            skipped[BUDGET] += 1
            continue
        if reach is not None and not window_open and send_ms == now_ms:
            # Business-initiated and going now: it takes a slot of the tier. Deferred ones are
            # not recorded: a ReachLedger answers only at or after its latest record, and the
            # sender, which owns the portfolio's ledger, gates them again when they fall due.
            reach.record(customer.customer, send_ms)
        commands.append(command)
    return Expansion(
        commands=tuple(commands),
        audience=len(audience),
        skipped=dict(skipped),
        estimated_cost_micros=ledger.spent_micros,
        budget_exhausted=ledger.exhausted,
    )


__all__ = ["BUDGET", "CAMPAIGN_ORIGIN", "Expansion", "ReachPlanner", "expand"]
