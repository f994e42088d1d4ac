"""How ``wapipe campaign estimate`` and ``status`` print: rich tables, money in USD."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from pipeline.campaigns.estimate import CampaignEstimate
from pipeline.campaigns.history import CampaignStatus
from pipeline.campaigns.spec import CampaignSpec
from pipeline.policy.pricing import MICROS_PER_USD


def usd(micros: int) -> str:
    return f"${micros / MICROS_PER_USD:,.2f}"


def _pct(rate: float) -> str:
    return f"{rate:.1%}"


def render_estimate(
    console: Console, spec: CampaignSpec, estimate: CampaignEstimate, *, provider: str | None
) -> None:
    console.print(f"[bold]Campaign {spec.id}[/] (estimate; nothing was sent)")
    audience = Table("audience", "customers")
    audience.add_row("in the segment", f"{estimate.audience:,}")
    for reason, count in sorted(estimate.skipped.items()):
        audience.add_row(f"  left out: {reason}", f"{count:,}")
    audience.add_row("[bold]messages[/]", f"[bold]{estimate.messages:,}[/]")
    console.print(audience)
    if estimate.budget_exhausted:
        console.print("[yellow]the budget cap stops the campaign before the whole audience[/]")

    cost = Table("cost", "USD")
    cost.add_row("Meta, if every message is delivered", usd(estimate.list_cost_micros))
    cost.add_row(
        f"Meta, expected (delivery {_pct(estimate.funnel.delivery_rate)})",
        usd(estimate.meta_cost_micros),
    )
    for name, fee in sorted(estimate.provider_fees_micros.items()):
        marker = " (current)" if name == provider else ""
        cost.add_row(
            f"+ {name} per-message fees{marker}", usd(fee), style="bold" if marker else None
        )
    console.print(cost)

    funnel = Table("expected funnel", "messages", "rate")
    f = estimate.funnel
    funnel.add_row("delivered", f"{estimate.expected_delivered:,}", _pct(f.delivery_rate))
    funnel.add_row("read", f"{estimate.expected_read:,}", _pct(f.read_rate))
    funnel.add_row("replied", f"{estimate.expected_replied:,}", _pct(f.reply_rate))
    funnel.add_row("converted", f"{estimate.expected_converted:,}", _pct(f.conversion_rate))
    console.print(funnel)
    sample = f", {f.sample_sent:,} messages" if f.sample_sent else ""
    console.print(f"rates from {f.basis}{sample}")


def render_status(console: Console, status: CampaignStatus) -> None:
    launched = (
        datetime.fromtimestamp(status.launched_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        if status.launched_ms
        else "not seen on campaigns.control.v1"
    )
    console.print(
        f"[bold]Campaign {status.campaign_id}[/]: launched {launched}; last action "
        f"{status.last_action or '-'}; {status.commands:,} commands created"
    )
    outcomes = Table("variant", "outcome", "reason", "messages", "cost")
    for row in status.outcomes:
        outcomes.add_row(
            row.variant or "-",
            row.outcome,
            row.reason or "-",
            f"{row.messages:,}",
            usd(row.cost_micros),
        )
    console.print(outcomes)
    if status.funnel is not None:
        f = status.funnel
        funnel = Table("sent", "delivered", "read", "replied", "converted")
        funnel.add_row(*(f"{n:,}" for n in (f.sent, f.delivered, f.read, f.replied, f.converted)))
        console.print(funnel)


__all__ = ["render_estimate", "render_status", "usd"]
