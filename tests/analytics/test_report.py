"""The report: built from the named queries, printed with rich, rendered to standalone HTML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console

from pipeline.analytics.queries import run_named
from pipeline.analytics.report import (
    FUNNEL_STAGES,
    Report,
    build_report,
    render_html,
    render_terminal,
)
from pipeline.runtime.store import Store
from tests.analytics import reference
from tests.analytics.world import DAY_MS, HOUR_MS, World


@pytest.fixture(scope="module")
def report(loaded_store: Store) -> Report:
    return build_report(loaded_store)


def test_report_data_comes_from_the_named_queries(
    world: World, loaded_store: Store, report: Report
) -> None:
    assert report.currency == "USD", "most generated orders are in USD"
    assert report.funnel_by_campaign == run_named(loaded_store, "funnel").to_dicts()
    expected = reference.funnel(
        world, grain="campaign", reply_window_ms=24 * HOUR_MS, attribution_window_ms=7 * DAY_MS
    )
    assert report.funnel_totals() == {
        stage: sum(row.get(stage, 0) for row in expected.values()) for stage in FUNNEL_STAGES
    }
    assert [r["segment"] for r in report.ltv_by_segment] == sorted(
        reference.ltv_segment(world, "USD")
    )


def test_report_windows_reach_the_queries(loaded_store: Store, report: Report) -> None:
    narrow = build_report(loaded_store, reply_window_ms=1, attribution_window_ms=1)
    wide = report
    assert narrow.funnel_totals()["replied"] < wide.funnel_totals()["replied"]
    assert narrow.funnel_totals()["converted"] < wide.funnel_totals()["converted"]


def test_terminal_report_shows_every_section(report: Report) -> None:
    console = Console(record=True, width=160, color_system=None)
    render_terminal(report, console)
    text = console.export_text()
    for title in (
        "Funnel per campaign",
        "Segment efficiency",
        "LTV by segment",
        "Provider cost",
        "Alarms",
    ):
        assert title in text
    assert "frequency:restock" in text and "messagebird" in text


def _svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S)]


def test_html_report_is_self_contained_with_five_charts(report: Report) -> None:
    html = render_html(report)
    assert html.startswith("<!doctype html>")
    assert "<script" not in html, "no JavaScript in the report"
    assert not re.search(r"(src|href)=", html), "nothing may be fetched from elsewhere"
    assert "http://" not in html and "https://" not in html
    titles = [svg.findtext("title") for svg in _svgs(html)]
    assert titles == [
        "Funnel, all campaigns",
        "Daily rates",
        "Segment efficiency",
        "LTV by segment",
        "Provider cost, all months (USD)",
    ]


def test_html_funnel_bars_are_drawn_to_scale(report: Report) -> None:
    funnel = _svgs(render_html(report))[0]
    bars = [r for r in funnel.iter("rect") if r.get("class") == "bar"]
    totals = report.funnel_totals()
    widths = [float(bar.get("width", "0")) for bar in bars]
    assert [float(bar.get("data-value", "0")) for bar in bars] == [
        float(totals[s]) for s in FUNNEL_STAGES
    ]
    for width, stage in zip(widths, FUNNEL_STAGES, strict=True):
        assert width == pytest.approx(widths[0] * totals[stage] / totals["sent"], abs=0.01)
