"""What ClickHouse knows about campaigns: the audience, past funnels, one campaign's status.

Every function takes ``run``, a function from one read-only statement to its rows: the CLI
passes :func:`pipeline.runtime.sql_client.run_sql` (the running worker's /sql, or the store
directly), tests pass a chDB store's ``query``. That path takes no bound parameters, so named
queries (infra/clickhouse/queries) get their parameters inlined as escaped literals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.analytics.queries import NamedQuery, load_queries
from pipeline.campaigns.audience import CampaignCustomer
from pipeline.campaigns.estimate import (
    INDUSTRY_AVERAGES,
    MIN_HISTORY_SENT,
    FunnelCounts,
    FunnelRates,
    rates_from_history,
)
from pipeline.campaigns.spec import CampaignSpec
from pipeline.runtime.store import QueryResult

Runner = Callable[[str], QueryResult]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):([^}]+)\}")
_NUMBER_TYPE = re.compile(r"^(U?Int\d+|Float\d+)$")


def sql_literal(value: Any, ch_type: str) -> str:
    if _NUMBER_TYPE.match(ch_type.strip()):
        return repr(float(value)) if ch_type.startswith("Float") else str(int(value))
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def inline_named(query: NamedQuery, **params: Any) -> str:
    """The query's SQL with every ``{name:Type}`` replaced by its bound value as a literal."""
    bound = query.bind(**params)
    return _PLACEHOLDER.sub(lambda m: sql_literal(bound[m.group(1)], m.group(2)), query.sql)


def _named(name: str) -> NamedQuery:
    return load_queries()[name]


def audience(run: Runner) -> list[CampaignCustomer]:
    """Every customer with their current tags (the ``customers`` view)."""
    rows = run("SELECT customer, tags FROM customers").rows
    return [CampaignCustomer(customer=str(c), tags=frozenset(tags)) for c, tags in rows]


def _counts(row: dict[str, Any]) -> FunnelCounts:
    return FunnelCounts(
        sent=int(row["sent"]),
        delivered=int(row["delivered"]),
        read=int(row["read"]),
        replied=int(row["replied"]),
        delivered_marketing=int(row["delivered_marketing"]),
        converted=int(row["converted"]),
    )


def funnel_rows(run: Runner, grain: str) -> dict[str, FunnelCounts]:
    result = run(inline_named(_named("funnel"), grain=grain))
    return {str(row["key"]): _counts(row) for row in result.to_dicts()}


def campaign_categories(run: Runner) -> dict[str, str]:
    rows = run(
        "SELECT campaign_id, CAST(any(category) AS String) FROM outbound_messages "
        "WHERE campaign_id IS NOT NULL GROUP BY campaign_id"
    ).rows
    return {str(c): str(cat) for c, cat in rows}


def similar_funnel(
    run: Runner, spec: CampaignSpec, *, min_sent: int = MIN_HISTORY_SENT
) -> FunnelRates:
    """Rates of past messages with the same templates, else the same category, else §6."""
    templates = sorted({spec.template.name, *(v.template.name for v in spec.variants)})
    by_template = funnel_rows(run, "template")
    rates = rates_from_history(
        [by_template[t] for t in templates if t in by_template],
        basis=f"history of template {', '.join(templates)}",
        min_sent=min_sent,
    )
    if rates is not None:
        return rates
    categories = campaign_categories(run)
    by_campaign = funnel_rows(run, "campaign")
    similar = [c for c, category in categories.items() if category == spec.category]
    rates = rates_from_history(
        [by_campaign[c] for c in similar if c in by_campaign],
        basis=f"history of {len(similar)} {spec.category} campaign(s)",
        min_sent=min_sent,
    )
    return rates if rates is not None else INDUSTRY_AVERAGES


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeCount:
    variant: str
    outcome: str
    reason: str
    messages: int
    cost_micros: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignStatus:
    campaign_id: str
    launched_ms: int | None
    last_action: str | None
    commands: int  # created by the expansion (outbound_commands)
    outcomes: Sequence[OutcomeCount]  # how they ended so far (outbound_messages)
    funnel: FunnelCounts | None

    @property
    def known(self) -> bool:
        return self.launched_ms is not None or self.commands > 0 or bool(self.outcomes)


def campaign_status(run: Runner, campaign_id: str) -> CampaignStatus:
    quoted = sql_literal(campaign_id, "String")
    controls = run(
        f"SELECT launched_ms, last_action FROM campaigns WHERE campaign_id = {quoted}"
    ).rows
    commands = run(
        f"SELECT uniqExact(command_id) FROM outbound_commands WHERE campaign_id = {quoted}"
    ).scalar()
    outcomes = run(
        "SELECT ifNull(variant, ''), CAST(outcome AS String), ifNull(reason, ''), "
        "uniqExact(command_id), sum(cost_micros) FROM outbound_messages "
        f"WHERE campaign_id = {quoted} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).rows
    launched, last_action = controls[0] if controls else (None, None)
    return CampaignStatus(
        campaign_id=campaign_id,
        launched_ms=int(launched) if launched else None,
        last_action=str(last_action) if last_action else None,
        commands=int(commands or 0),
        outcomes=_outcomes(outcomes),
        funnel=funnel_rows(run, "campaign").get(campaign_id),
    )


def _outcomes(rows: Iterable[Sequence[Any]]) -> list[OutcomeCount]:
    return [
        OutcomeCount(
            variant=str(v), outcome=str(o), reason=str(r), messages=int(n), cost_micros=int(c)
        )
        for v, o, r, n, c in rows
    ]


__all__ = [
    "CampaignStatus",
    "OutcomeCount",
    "Runner",
    "audience",
    "campaign_categories",
    "campaign_status",
    "funnel_rows",
    "inline_named",
    "similar_funnel",
    "sql_literal",
]
