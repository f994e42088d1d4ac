"""Every panel of dashboards/*.json runs on chDB over generated traffic and has its shape.

The SQL is expanded the way Grafana and the ClickHouse plugin expand it (grafana_macros.py),
run against the real migrations, and checked for what the panel type needs: a time column
and numbers for a time series, a label and numbers for a bar chart, numbers for a stat.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from pipeline.analytics.refresh import refresh_attribution
from pipeline.runtime.store import Store, apply_migrations, events_to_arrow, open_store, table_for
from pipeline.runtime.store_api import QueryResult
from pipeline.settings import Settings
from tests.deploy import dashboard_data
from tests.deploy.grafana_macros import TimeRange, expand

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
DATASOURCE_YAML = ROOT / "infra" / "grafana" / "provisioning" / "datasources" / "clickhouse.yaml"
PLUGIN = "grafana-clickhouse-datasource"
RANGE = TimeRange(
    from_ms=dashboard_data.START_MS - dashboard_data.DAY_MS,
    to_ms=dashboard_data.START_MS + 12 * dashboard_data.DAY_MS,
    interval_s=6 * 3600,
)


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_dashboards", DASHBOARDS / "build_dashboards.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def _boards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text("utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}


def _panels() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for name, board in _boards().items():
        for panel in board["panels"]:
            yield name, board, panel


PANELS = list(_panels())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("dashboards") / "var")
    s = open_store(settings)
    try:
        apply_migrations(s)
        for records in dashboard_data.generate().rows.values():
            s.insert_arrow(table_for(records[0]), events_to_arrow(records))
        refresh_attribution(s)  # the worker's attribution job, which the funnel panels read
        yield s
    finally:
        s.close()


def _variables(board: dict[str, Any], store: Store, **chosen: str) -> dict[str, str]:
    """Each variable's value as Grafana would pick it: All, the first option or first row."""
    values: dict[str, str] = {}
    for var in board["templating"]["list"]:
        name = var["name"]
        if name in chosen:
            values[name] = chosen[name]
        elif var.get("includeAll"):
            values[name] = var["allValue"]
        elif var["type"] == "custom":
            values[name] = var["query"].split(",")[0]
        else:
            rows = store.query(var["query"]).rows
            assert rows, f"variable {name} of {board['uid']}: its query returned no rows"
            values[name] = str(rows[0][0])
    return values


def _expanded(store: Store, board: dict[str, Any], panel: dict[str, Any], **chosen: str) -> str:
    (target,) = panel["targets"]
    return expand(target["rawSql"], time_range=RANGE, variables=_variables(board, store, **chosen))


def _run(store: Store, board: dict[str, Any], panel: dict[str, Any], **chosen: str) -> QueryResult:
    return store.query(_expanded(store, board, panel, **chosen))


_NUMERIC = re.compile(r"^(U?Int\d+|Float\d+|Decimal.*)$")
_TIME = re.compile(r"^(DateTime|DateTime64|Date|Date32)(\(.*\))?$")
_LABEL = re.compile(r"^(String|FixedString\(\d+\))$")


def _bare(type_name: str) -> str:
    """``Nullable(LowCardinality(String))`` → ``String``: what a panel sees."""
    while (m := re.match(r"^(Nullable|LowCardinality)\((.*)\)$", type_name)) is not None:
        type_name = m.group(2)
    return type_name


def _column_types(store: Store, sql: str) -> dict[str, str]:
    # chDB hands DateTime back as epoch integers; ClickHouse's own types are what Grafana gets.
    described = store.query(f"DESCRIBE ({sql})")
    return {
        name: _bare(type_name)
        for name, type_name in zip(described.column("name"), described.column("type"), strict=True)
    }


def _check_shape(kind: str, result: QueryResult, types: dict[str, str]) -> None:
    assert result.rows, "no rows over the generated traffic"
    numeric = [c for c in result.columns if _NUMERIC.match(types[c])]
    labels = [c for c in result.columns if _LABEL.match(types[c])]
    if kind == "timeseries":
        first = result.columns[0]
        assert _TIME.match(types[first]), (
            f"a time series needs a time column first, got {first} {types[first]}"
        )
        assert numeric, f"a time series needs a numeric column, got {types}"
        times = result.column(first)
        assert times == sorted(times), "time series rows must be ordered by time"
    elif kind == "stat":
        assert numeric, f"a stat needs a numeric column, got {types}"
        assert any(v is not None for c in numeric for v in result.column(c)), "every stat is NULL"
    elif kind in ("barchart", "piechart"):
        assert labels, f"a {kind} needs a string label column, got {types}"
        assert numeric, f"a {kind} needs a numeric column, got {types}"
    elif kind == "table":
        assert len(result.columns) >= 2, f"a table of one column: {result.columns}"
    else:
        pytest.fail(f"panel type {kind} has no shape check: add one")


@pytest.mark.parametrize(
    ("board", "panel"),
    [(b, p) for _, b, p in PANELS],
    ids=[f"{name}:{p['title']}" for name, _, p in PANELS],
)
def test_panel_sql_runs_and_has_its_panel_shape(
    store: Store, board: dict[str, Any], panel: dict[str, Any]
) -> None:
    sql = _expanded(store, board, panel)
    _check_shape(panel["type"], store.query(sql), _column_types(store, sql))


def test_all_five_dashboards_exist() -> None:
    titles = {board["title"] for board in _boards().values()}
    assert titles == {
        "wapipe · Funnel",
        "wapipe · Alarms",
        "wapipe · Sender",
        "wapipe · Customers",
        "wapipe · Cost and ROI",
    }


def test_dashboards_are_built_from_the_current_named_queries() -> None:
    builder = _load_builder()
    stale = [
        name
        for name, board in builder.DASHBOARDS.items()
        if (DASHBOARDS / name).read_text("utf-8") != builder.render(board)
    ]
    assert not stale, (
        f"{stale} differ from their build: run `python dashboards/build_dashboards.py`"
    )


def test_every_panel_uses_the_provisioned_datasource_and_macros() -> None:
    provisioned = yaml.safe_load(DATASOURCE_YAML.read_text("utf-8"))["datasources"][0]
    assert provisioned["type"] == PLUGIN
    for name, board, panel in PANELS:
        where = f"{name}: {panel['title']}"
        for ref in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert ref == {"type": PLUGIN, "uid": provisioned["uid"]}, where
        sql = panel["targets"][0]["rawSql"]
        assert "$__" in sql or panel["description"].startswith("All time"), (
            f"{where}: no Grafana macro, so the time range is ignored; say 'All time' if meant"
        )
        defined = {v["name"] for v in board["templating"]["list"]}
        expand(sql, time_range=RANGE, variables={n: "0" for n in defined})  # no undefined var
    ids = [(name, p["id"]) for name, _, p in PANELS]
    assert len(ids) == len(set(ids)), "panel ids repeat within a dashboard"


def test_funnel_counts_follow_the_variables(store: Store) -> None:
    traffic = dashboard_data.generate()
    board = _boards()["funnel.json"]
    (messages,) = [p for p in board["panels"] if p["title"] == "Messages"]

    everything = _run(store, board, messages).to_dicts()[0]
    assert everything["sent"] == len(traffic.accepted)  # duplicates stored twice count once

    campaign = "heat:winback"
    number = dashboard_data.NUMBERS[1]
    one = _run(store, board, messages, campaign=campaign, business_number=number).to_dicts()[0]
    expected = [
        r for r in traffic.accepted if r.campaign_id == campaign and r.business_number_id == number
    ]
    assert 0 < one["sent"] == len(expected) < everything["sent"]


def test_firing_alarms_lists_only_alarms_whose_last_event_fires(store: Store) -> None:
    board = _boards()["alarms.json"]
    (firing,) = [p for p in board["panels"] if p["title"] == "Firing alarms"]
    assert _run(store, board, firing).column("alarm_id") == ["a-delivery"]


def test_expander_matches_the_plugin_for_each_macro() -> None:
    tr = TimeRange(from_ms=1_700_000_000_123, to_ms=1_700_003_600_999, interval_s=60)
    assert expand("$__timeFilter(ts)", time_range=tr, variables={}) == (
        "ts >= toDateTime(1700000000) AND ts <= toDateTime(1700003600)"
    )
    assert expand("$__timeInterval(t)", time_range=tr, variables={}) == (
        "toStartOfInterval(toDateTime(t), INTERVAL 60 second)"
    )
    assert expand("$__fromTime_ms|$__toTime|$__interval_s", time_range=tr, variables={}) == (
        "fromUnixTimestamp64Milli(1700000000123)|toDateTime(1700003600)|60"
    )
    assert expand("'${a}' = $b", time_range=tr, variables={"a": "x", "b": "2"}) == "'x' = 2"
    with pytest.raises(ValueError, match="unknown macro"):
        expand("$__nope(x)", time_range=tr, variables={})
    with pytest.raises(KeyError, match="no such variable"):
        expand("${missing}", time_range=tr, variables={})
