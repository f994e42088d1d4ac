"""What a campaign would do, before it is sent: audience, messages, cost and funnel.

Pure: the customers and the funnel rates come in (``wapipe campaign estimate`` reads them from
ClickHouse, see :mod:`.history`). Messages are what :func:`~.expansion.expand` would produce
now, so opt-outs, dormant customers and the budget cap count exactly as at launch (the whole
budget, not a partition's share). Meta charges delivered messages only, so the expected Meta
cost is the messages' list prices times the delivery rate; a provider charges its fee per
message sent (its monthly fee and free allowance depend on the month's other traffic, so they
are left out here and shown by the provider_cost query).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.campaigns.audience import CampaignCustomer
from pipeline.campaigns.expansion import expand
from pipeline.campaigns.spec import CampaignSpec
from pipeline.policy.pricing import DEFAULT_PRICE_TABLE, PROVIDERS, PriceTable, ProviderPreset

#: Smallest history (messages sent) whose rates we trust over the industry averages.
MIN_HISTORY_SENT = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class FunnelRates:
    delivery_rate: float  # delivered / sent
    read_rate: float  # read / delivered
    reply_rate: float  # replied within 24 h / delivered
    conversion_rate: float  # purchases attributed / delivered marketing
    basis: str  # where the rates come from, for people
    sample_sent: int = 0


#: design.md §6: the averages to expect when there is no history of similar campaigns.
INDUSTRY_AVERAGES = FunnelRates(
    delivery_rate=0.92,
    read_rate=0.65,
    reply_rate=0.15,
    conversion_rate=0.08,
    basis="industry averages (design.md §6): no history of similar campaigns",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FunnelCounts:
    """One row of the funnel named query."""

    sent: int
    delivered: int
    read: int
    replied: int
    delivered_marketing: int
    converted: int


def rates_from_history(
    rows: Sequence[FunnelCounts], *, basis: str, min_sent: int = MIN_HISTORY_SENT
) -> FunnelRates | None:
    """Pooled rates of ``rows``; None when they sent fewer than ``min_sent`` messages."""
    sent = sum(r.sent for r in rows)
    if sent < min_sent:
        return None
    delivered = sum(r.delivered for r in rows)
    marketing = sum(r.delivered_marketing for r in rows)
    return FunnelRates(
        delivery_rate=delivered / sent,
        read_rate=sum(r.read for r in rows) / delivered if delivered else 0.0,
        reply_rate=sum(r.replied for r in rows) / delivered if delivered else 0.0,
        conversion_rate=sum(r.converted for r in rows) / marketing if marketing else 0.0,
        basis=basis,
        sample_sent=sent,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignEstimate:
    audience: int  # customers in the segment
    messages: int  # commands the launch would create
    skipped: Mapping[str, int]  # why the rest would not get one
    budget_exhausted: bool
    list_cost_micros: int  # Meta list price if every message were delivered (the cap's view)
    meta_cost_micros: int  # expected: list price × delivery rate
    provider_fees_micros: Mapping[str, int]  # provider → fee for these messages
    funnel: FunnelRates
    expected_delivered: int
    expected_read: int
    expected_replied: int
    expected_converted: int


def estimate_campaign(
    spec: CampaignSpec,
    customers: Iterable[CampaignCustomer],
    now_ms: int,
    *,
    funnel: FunnelRates = INDUSTRY_AVERAGES,
    price_table: PriceTable = DEFAULT_PRICE_TABLE,
    providers: Iterable[ProviderPreset] = PROVIDERS.values(),
) -> CampaignEstimate:
    result = expand(spec, customers, now_ms, price_table=price_table)
    messages = len(result.commands)
    delivered = messages * funnel.delivery_rate
    marketing = delivered if spec.category == "marketing" else 0.0
    return CampaignEstimate(
        audience=result.audience,
        messages=messages,
        skipped=result.skipped,
        budget_exhausted=result.budget_exhausted,
        list_cost_micros=result.estimated_cost_micros,
        meta_cost_micros=round(result.estimated_cost_micros * funnel.delivery_rate),
        provider_fees_micros={p.name: p.per_message_micros * messages for p in providers},
        funnel=funnel,
        expected_delivered=round(delivered),
        expected_read=round(delivered * funnel.read_rate),
        expected_replied=round(delivered * funnel.reply_rate),
        expected_converted=round(marketing * funnel.conversion_rate),
    )


__all__ = [
    "INDUSTRY_AVERAGES",
    "MIN_HISTORY_SENT",
    "CampaignEstimate",
    "FunnelCounts",
    "FunnelRates",
    "estimate_campaign",
    "rates_from_history",
]
