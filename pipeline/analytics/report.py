"""The analyst's report: funnel per campaign, daily rates, segment efficiency, LTV by segment,
provider cost and alarms, all from the named queries.

    report = build_report(store)
    render_terminal(report, Console())       # rich tables
    Path("report.html").write_text(render_html(report))   # one self-contained file

The HTML carries its charts as inline SVG and its styles inline: no script, no CDN, so it can
be mailed or archived as is.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from html import escape
from typing import Any

from rich.console import Console
from rich.table import Table

from pipeline.analytics import charts
from pipeline.analytics.queries import run_named
from pipeline.runtime.store import Store

Rows = list[dict[str, Any]]

FUNNEL_STAGES = ("sent", "delivered", "read", "replied", "converted")


@dataclass(frozen=True, kw_only=True)
class Report:
    generated_at: dt.datetime
    currency: str
    funnel_by_campaign: Rows
    funnel_by_day: Rows
    segment_efficiency: Rows
    ltv_by_segment: Rows
    provider_cost: Rows
    alarms: Rows
    notes: list[str] = field(default_factory=list)

    def funnel_totals(self) -> dict[str, int]:
        return {
            stage: sum(int(row[stage]) for row in self.funnel_by_campaign)
            for stage in FUNNEL_STAGES
        }


def main_currency(store: Store) -> str:
    """The currency most orders were paid in ('' when there are no orders)."""
    rows = store.query(
        "SELECT CAST(currency AS String) AS currency, uniqExact(order_id) AS orders "
        "FROM purchases GROUP BY currency ORDER BY orders DESC, currency LIMIT 1"
    ).rows
    return str(rows[0][0]) if rows else ""


def build_report(
    store: Store,
    *,
    currency: str | None = None,
    reply_window_ms: int | None = None,
    attribution_window_ms: int | None = None,
    alarms_limit: int = 50,
) -> Report:
    """Run the named queries behind the report; None = the query's default window."""
    currency = main_currency(store) if currency is None else currency
    notes = []
    if currency:
        notes.append(f"LTV in {currency} minor units (the currency of most orders).")
    windows = {"reply_window_ms": reply_window_ms, "attribution_window_ms": attribution_window_ms}
    attribution = {"attribution_window_ms": attribution_window_ms}
    return Report(
        generated_at=dt.datetime.now(dt.UTC),
        currency=currency,
        funnel_by_campaign=run_named(store, "funnel", grain="campaign", **windows).to_dicts(),
        funnel_by_day=run_named(store, "funnel", grain="day", **windows).to_dicts(),
        segment_efficiency=run_named(store, "segment_efficiency", **attribution).to_dicts(),
        ltv_by_segment=run_named(store, "ltv_segment", currency=currency).to_dicts(),
        provider_cost=run_named(store, "provider_cost").to_dicts(),
        alarms=run_named(store, "alarms", limit=alarms_limit).to_dicts(),
        notes=notes,
    )


# --- formatting ------------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def usd(micros: float | None) -> str:
    return "–" if micros is None else f"${micros / 1_000_000:,.2f}"


def minor(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _campaign_label(campaign_id: str) -> str:
    return campaign_id or "(no campaign)"


def _provider_totals(report: Report) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in report.provider_cost:
        provider = totals[row["provider"]]
        provider["fee"] += row["monthly_fee_micros"]
        provider["per_message"] += row["per_message_micros"]
        provider["meta"] += row["meta_micros"]
        provider["total"] += row["total_micros"]
    return totals


# --- tables (terminal and HTML show the same ones) ------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReportTable:
    """A table as text: the terminal prints it, the HTML puts it under its chart."""

    title: str
    headers: tuple[str, ...]
    rows: list[list[str]]
    #: How many leading columns hold labels (left-aligned); the rest are numbers.
    label_columns: int = 1


def _ms_text(ts_ms: int) -> str:
    return f"{dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.UTC):%Y-%m-%d %H:%M}"


def funnel_table(report: Report) -> ReportTable:
    return ReportTable(
        title="Funnel per campaign",
        headers=("campaign", *FUNNEL_STAGES, "reach", "read", "reply", "conversion"),
        rows=[
            [
                _campaign_label(r["key"]),
                *(f"{r[stage]:,}" for stage in FUNNEL_STAGES),
                percent(r["delivery_rate"]),
                percent(r["read_rate"]),
                percent(r["reply_rate"]),
                percent(r["conversion_rate"]),
            ]
            for r in report.funnel_by_campaign
        ],
    )


def segment_table(report: Report) -> ReportTable:
    return ReportTable(
        title="Segment efficiency",
        headers=(
            "strategy",
            "campaigns",
            "delivered",
            "open rate",
            "conversion",
            "lift",
            "cost / conversion",
        ),
        rows=[
            [
                r["strategy"],
                str(r["campaigns"]),
                f"{r['delivered']:,}",
                percent(r["open_rate"]),
                percent(r["conversion_rate"]),
                percent(r["conversion_lift"]),
                usd(r["cost_per_conversion_micros"]),
            ]
            for r in report.segment_efficiency
        ],
    )


def ltv_table(report: Report) -> ReportTable:
    return ReportTable(
        title=f"LTV by segment ({report.currency or 'all currencies'}, minor units)",
        headers=("segment", "customers", "buyers", "revenue", "LTV"),
        rows=[
            [
                r["segment"],
                f"{r['customers']:,}",
                f"{r['buyers']:,}",
                minor(r["revenue_minor"]),
                minor(r["ltv_minor"]),
            ]
            for r in report.ltv_by_segment
        ],
    )


def cost_table(report: Report) -> ReportTable:
    return ReportTable(
        title="Provider cost per month (USD)",
        headers=("month", "provider", "messages", "fee", "per message", "Meta", "total"),
        rows=[
            [
                str(r["month"]),
                r["provider"],
                f"{r['messages']:,}",
                usd(r["monthly_fee_micros"]),
                usd(r["per_message_micros"]),
                usd(r["meta_micros"]),
                usd(r["total_micros"]),
            ]
            for r in report.provider_cost
        ],
        label_columns=2,
    )


def alarms_table(report: Report) -> ReportTable:
    headers = ("time (UTC)", "kind", "scope", "state", "value", "threshold", "sample")
    return ReportTable(
        title="Alarms (newest first)",
        headers=headers,
        rows=[
            [
                _ms_text(r["ts_ms"]),
                r["kind"],
                r["scope"],
                r["state"],
                f"{r['value']:.3f}",
                f"{r['threshold']:.3f}",
                str(r["sample"]),
            ]
            for r in report.alarms
        ],
        label_columns=len(headers),
    )


# --- terminal --------------------------------------------------------------------------------


def render_terminal(report: Report, console: Console) -> None:
    """Print the report as rich tables."""
    console.rule(f"wapipe report · {report.generated_at:%Y-%m-%d %H:%M} UTC")
    for table in (
        funnel_table(report),
        segment_table(report),
        ltv_table(report),
        cost_table(report),
        alarms_table(report),
    ):
        console.print(_rich_table(table))
    for note in report.notes:
        console.print(f"[dim]{note}[/dim]")


def _rich_table(table: ReportTable) -> Table:
    rich_table = Table(title=table.title)
    for index, header in enumerate(table.headers):
        rich_table.add_column(header, justify="left" if index < table.label_columns else "right")
    for row in table.rows:
        rich_table.add_row(*row)
    return rich_table


# --- HTML ------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 980px; color: #111; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .85rem; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { color: #555; font-size: .85rem; }
"""


def _html_table(table: ReportTable) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Report) -> str:
    """One self-contained HTML document: inline CSS and SVG, nothing fetched."""
    totals = report.funnel_totals()
    funnel_svg = charts.horizontal_bars(
        [(stage, float(totals[stage])) for stage in FUNNEL_STAGES] if totals["sent"] else [],
        title="Funnel, all campaigns",
    )
    days = [row["key"] for row in report.funnel_by_day]
    daily_svg = charts.lines(
        days,
        {
            "reach": [row["delivery_rate"] for row in report.funnel_by_day],
            "read": [row["read_rate"] for row in report.funnel_by_day],
            "reply": [row["reply_rate"] for row in report.funnel_by_day],
            "conversion": [row["conversion_rate"] for row in report.funnel_by_day],
        },
        title="Daily rates",
        value_format=percent,
    )
    ltv_svg = charts.horizontal_bars(
        [(row["segment"], float(row["ltv_minor"] or 0)) for row in report.ltv_by_segment],
        title="LTV by segment",
        value_format=minor,
    )
    strategies = [row["strategy"] for row in report.segment_efficiency]
    segment_svg = charts.grouped_bars(
        strategies,
        {
            "open rate": [row["open_rate"] or 0.0 for row in report.segment_efficiency],
            "conversion rate": [row["conversion_rate"] or 0.0 for row in report.segment_efficiency],
        },
        title="Segment efficiency",
        value_format=percent,
    )
    provider_totals = _provider_totals(report)
    provider_svg = charts.horizontal_bars(
        sorted(
            ((name, float(t["total"])) for name, t in provider_totals.items()),
            key=lambda item: item[1],
        ),
        title="Provider cost, all months (USD)",
        value_format=usd,
    )
    ltv = ltv_table(report)
    sections = [
        ("Funnel", funnel_svg + _html_table(funnel_table(report))),
        ("Daily rates", daily_svg),
        ("Segment efficiency", segment_svg + _html_table(segment_table(report))),
        (ltv.title, ltv_svg + _html_table(ltv)),
        ("Provider cost", provider_svg + _html_table(cost_table(report))),
        ("Alarms", _html_table(alarms_table(report))),
    ]
    body = "".join(
        f"<section><h2>{escape(title)}</h2>{content}</section>" for title, content in sections
    )
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in report.notes)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>wapipe report</title>"
        f"<style>{_STYLE}</style></head><body>"
        f'<h1>wapipe report</h1><p class="note">Generated '
        f"{report.generated_at:%Y-%m-%d %H:%M} UTC.</p>{notes}{body}</body></html>"
    )
