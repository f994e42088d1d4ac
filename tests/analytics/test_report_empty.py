"""The report on a store with no events: every chart says so, nothing divides by zero.

A module of its own: chDB holds one data directory per process, and the other report tests
keep the generated world's directory open for their whole module.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from pipeline.analytics.report import build_report, render_html, render_terminal
from pipeline.runtime.store import apply_migrations, open_store
from pipeline.settings import Settings


def test_report_on_an_empty_store_says_no_data(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path / "var"))
    try:
        apply_migrations(store)
        report = build_report(store)
        html = render_html(report)
        console = Console(record=True, width=120, color_system=None)
        render_terminal(report, console)
    finally:
        store.close()
    assert report.currency == ""
    assert html.count("no data") == 5
    assert "Funnel per campaign" in console.export_text()
