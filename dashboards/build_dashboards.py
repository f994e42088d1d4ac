"""Build dashboards/*.json from the named queries in infra/clickhouse/queries.

    python dashboards/build_dashboards.py          # rewrite the JSON files
    python dashboards/build_dashboards.py --check  # exit 1 if a JSON file is out of date

Panels reuse the named queries' SQL (the same files the CLI and the report run), with their
``{name:Type}`` parameters bound to Grafana expressions: the dashboard time range through the
ClickHouse plugin's macros ($__fromTime, $__toTime, $__timeFilter, $__timeInterval,
$__interval_s) and the dashboard variables (${business_number}, ${campaign}, ...). Filters the
named queries do not have (business number, campaign) are added at one anchor line per query;
a build fails loudly when the anchor disappears, so a changed named query cannot silently
drop a filter. Grafana provisions the JSON; this script is only run when panels change.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUERIES_DIR = ROOT / "infra" / "clickhouse" / "queries"
OUT_DIR = Path(__file__).resolve().parent

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "wapipe-clickhouse"}

#: "All" in a single-value variable; panel SQL tests `'${var}' = '__all'`.
ALL = "__all"

# The dashboard range as the named queries' Unix-millisecond bounds ([from, to), to inclusive
# to the second as the plugin's $__timeFilter is).
FROM_MS = "(toInt64(toUnixTimestamp($__fromTime)) * 1000)"
TO_MS = "((toInt64(toUnixTimestamp($__toTime)) + 1) * 1000)"
REPLY_WINDOW_MS = "(${reply_window_h} * 3600000)"
ATTRIBUTION_WINDOW_MS = "(${attribution_days} * 86400000)"

_PARAM = re.compile(r"\{(\w+):[^{}]+\}")


def named_query(
    name: str,
    params: Mapping[str, str],
    *,
    anchor: str | None = None,
    extra_where: str | None = None,
) -> str:
    """The named query's SQL, comments dropped, parameters bound, an optional filter added.

    ``extra_where`` is prepended to the condition that follows ``anchor`` (``WHERE <anchor>``
    becomes ``WHERE <extra_where> AND <anchor>``); the anchor must occur exactly once.
    """
    text = (QUERIES_DIR / f"{name}.sql").read_text("utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    sql = "\n".join(lines).strip().rstrip(";")
    if anchor is not None:
        if sql.count(anchor) != 1:
            raise SystemExit(
                f"{name}.sql: expected the anchor {anchor!r} exactly once; the named query "
                "changed, update the anchor in dashboards/build_dashboards.py"
            )
        head, _, tail = anchor.partition(" ")
        sql = sql.replace(anchor, f"{head} {extra_where} AND {tail}")

    def bind(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in params:
            raise SystemExit(f"{name}.sql: no dashboard value for parameter {key!r}")
        return params[key]

    return _PARAM.sub(bind, sql)


def wrap(inner: str, outer: str) -> str:
    """``outer`` with ``{inner}`` replaced by the subquery (indented for Grafana's editor)."""
    body = "\n".join("    " + line for line in inner.splitlines())
    return outer.replace("{inner}", "(\n" + body + "\n)")


# --- variables ------------------------------------------------------------------------------


def query_variable(name: str, label: str, sql: str, *, include_all: bool = True) -> dict[str, Any]:
    variable: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": sql,
        "definition": sql,
        "refresh": 2,
        "sort": 1,
        "multi": False,
        "includeAll": include_all,
    }
    if include_all:
        variable["allValue"] = ALL
        variable["current"] = {"text": "All", "value": "$__all"}
    return variable


def custom_variable(
    name: str, label: str, options: list[str], *, include_all: bool = False
) -> dict[str, Any]:
    # Fixed choices, never free text: the values are pasted into SQL.
    variable: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "custom",
        "query": ",".join(options),
        "current": {"text": options[0], "value": options[0]},
        "options": [{"text": o, "value": o, "selected": i == 0} for i, o in enumerate(options)],
        "multi": False,
        "includeAll": include_all,
    }
    if include_all:
        variable["allValue"] = ALL
        variable["current"] = {"text": "All", "value": "$__all"}
    return variable


BUSINESS_NUMBER = query_variable(
    "business_number",
    "Business number",
    "SELECT DISTINCT CAST(business_number_id AS String) FROM outbound_messages ORDER BY 1",
)
CAMPAIGN = query_variable(
    "campaign",
    "Campaign",
    "SELECT DISTINCT campaign_id FROM outbound_messages WHERE campaign_id != '' ORDER BY 1",
)
REPLY_WINDOW = custom_variable("reply_window_h", "Reply window (h)", ["24", "1", "6", "48"])
ATTRIBUTION = custom_variable("attribution_days", "Attribution (days)", ["7", "1", "3", "14", "30"])
RATE_LIMIT = custom_variable(
    "rate_limit_per_s", "Configured limit (msg/s)", ["80", "0.5", "200", "1000"]
)
CURRENCY = query_variable(
    "currency",
    "Currency",
    "SELECT DISTINCT CAST(currency AS String) FROM purchases ORDER BY 1",
    include_all=False,
)
CURRENCY_OR_ALL = query_variable(
    "currency",
    "Currency",
    "SELECT DISTINCT CAST(currency AS String) FROM purchases ORDER BY 1",
)
MINOR_UNITS = custom_variable(
    "minor_units_per_major", "Minor units per major (USD 100, KRW 1)", ["100", "1", "1000"]
)
META_FREE = custom_variable("meta_free_per_month", "Meta free tier (msg/month)", ["1000", "0"])
ALARM_KIND = query_variable(
    "alarm_kind", "Alarm kind", "SELECT DISTINCT CAST(kind AS String) FROM alarms ORDER BY 1"
)
TAG_FAMILY = custom_variable(
    "tag_family", "Tag family", ["freq", "value", "heat"], include_all=True
)


# --- panels ---------------------------------------------------------------------------------


@dataclass
class Panel:
    title: str
    kind: str  # timeseries | stat | barchart | table | piechart
    sql: str
    description: str = ""
    unit: str | None = None
    width: int = 12
    height: int = 8
    options: dict[str, Any] = field(default_factory=dict)
    thresholds: list[tuple[float | None, str]] | None = None

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        if self.unit:
            defaults["unit"] = self.unit
        if self.thresholds:
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"value": v, "color": c} for v, c in self.thresholds],
            }
            defaults["color"] = {"mode": "thresholds"}
        return {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": DATASOURCE,
            "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
            "targets": [
                {
                    "refId": "A",
                    "datasource": DATASOURCE,
                    "editorType": "sql",
                    # The plugin's query formats: 0 = time series, 1 = table.
                    "format": 0 if self.kind == "timeseries" else 1,
                    "queryType": "timeSeries" if self.kind == "timeseries" else "table",
                    "rawSql": self.sql,
                }
            ],
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": self.options,
        }


def dashboard(
    uid: str, title: str, description: str, variables: list[dict[str, Any]], panels: list[Panel]
) -> dict[str, Any]:
    laid_out = []
    x = y = row_height = 0
    for panel_id, panel in enumerate(panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        laid_out.append(panel.to_json(panel_id, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["wapipe"],
        "timezone": "utc",
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-30d", "to": "now"},
        "refresh": "1m",
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": laid_out,
    }


# --- Funnel ---------------------------------------------------------------------------------

FUNNEL_FILTER = (
    "('${business_number}' = '__all' OR m.business_number_id = '${business_number}')"
    " AND ('${campaign}' = '__all' OR m.campaign_id = '${campaign}')"
)


def funnel(grain: str) -> str:
    return named_query(
        "funnel",
        {
            "grain": f"'{grain}'",
            "from_ms": FROM_MS,
            "to_ms": TO_MS,
            "reply_window_ms": REPLY_WINDOW_MS,
            "attribution_window_ms": ATTRIBUTION_WINDOW_MS,
        },
        anchor="WHERE m.sent_ms >= {from_ms:Int64}",
        extra_where=FUNNEL_FILTER,
    )


RATE_THRESHOLDS: list[tuple[float | None, str]] = [(None, "red"), (0.05, "orange"), (0.15, "green")]

FUNNEL = dashboard(
    "wapipe-funnel",
    "wapipe · Funnel",
    "Sent → delivered → read → replied → converted (infra/clickhouse/queries/funnel.sql). "
    "Read without a delivered receipt counts as delivered; replies within the reply window of "
    "delivery; conversions last touch within the attribution window.",
    [BUSINESS_NUMBER, CAMPAIGN, REPLY_WINDOW, ATTRIBUTION],
    [
        Panel(
            "Messages",
            "stat",
            wrap(
                funnel("business_number"),
                "SELECT sum(sent) AS sent, sum(delivered) AS delivered, sum(read) AS read,\n"
                "       sum(replied) AS replied, sum(converted) AS converted\nFROM {inner}",
            ),
            width=12,
            height=5,
        ),
        Panel(
            "Rates",
            "stat",
            wrap(
                funnel("business_number"),
                "SELECT if(sum(sent) = 0, NULL, sum(delivered) / sum(sent)) AS reach,\n"
                "       if(sum(delivered) = 0, NULL, sum(read) / sum(delivered)) AS read_rate,\n"
                "       if(sum(delivered) = 0, NULL, sum(replied) / sum(delivered))"
                " AS reply_rate,\n"
                "       if(sum(delivered_marketing) = 0, NULL,\n"
                "          sum(converted) / sum(delivered_marketing)) AS conversion_rate\n"
                "FROM {inner}",
            ),
            description="Averages (design.md §6): reach 92%, read 65%, reply 15%, conversion "
            "8%. Reply below 5% is the spam-risk alarm; reach below 85% suggests throttling.",
            unit="percentunit",
            width=12,
            height=5,
        ),
        Panel(
            "Rates by send day",
            "timeseries",
            wrap(
                funnel("day"),
                "SELECT toDateTime(toDate(key)) AS time, delivery_rate AS reach, read_rate,\n"
                "       reply_rate, conversion_rate\nFROM {inner}\nORDER BY time",
            ),
            unit="percentunit",
        ),
        Panel(
            "Messages by send day",
            "timeseries",
            wrap(
                funnel("day"),
                "SELECT toDateTime(toDate(key)) AS time, sent, delivered, read, replied, converted"
                "\nFROM {inner}\nORDER BY time",
            ),
        ),
        Panel(
            "By campaign",
            "table",
            wrap(
                funnel("campaign"),
                "SELECT if(key = '', '(no campaign)', key) AS campaign, sent, delivered, read,\n"
                "       replied, converted, delivery_rate, read_rate, reply_rate, conversion_rate"
                "\nFROM {inner}\nORDER BY sent DESC",
            ),
            width=24,
        ),
        Panel(
            "Reply and conversion rate by campaign",
            "barchart",
            wrap(
                funnel("campaign"),
                "SELECT if(key = '', '(no campaign)', key) AS campaign, reply_rate,"
                " conversion_rate\nFROM {inner}\nORDER BY campaign",
            ),
            unit="percentunit",
        ),
        Panel(
            "By template",
            "table",
            wrap(
                funnel("template"),
                "SELECT if(key = '', '(free-form text)', key) AS template, sent, delivered,"
                " read,\n       replied, converted, delivery_rate, read_rate, reply_rate,"
                " conversion_rate\nFROM {inner}\nORDER BY sent DESC",
            ),
        ),
        Panel(
            "Failed by template (rollup)",
            "barchart",
            wrap(
                named_query(
                    "funnel_rollup",
                    {
                        "grain": "'template'",
                        "from_day": "toDate($__fromTime)",
                        "to_day": "toDate($__toTime)",
                    },
                    anchor="WHERE day >= {from_day:Date}",
                    extra_where=(
                        "('${business_number}' = '__all'"
                        " OR business_number_id = '${business_number}')"
                        " AND ('${campaign}' = '__all' OR campaign_id = '${campaign}')"
                    ),
                ),
                "SELECT if(key = '', '(free-form text)', key) AS template, sent, failed\n"
                "FROM {inner}\nORDER BY failed DESC",
            ),
            description="From the pre-counted funnel groups (007_attribution_facts.sql): cheap "
            "at any volume.",
            width=24,
        ),
    ],
)


# --- Alarms ---------------------------------------------------------------------------------

KIND_PARAM = "if('${alarm_kind}' = '__all', '', '${alarm_kind}')"


def alarms(*, whole_history: bool, limit: int) -> str:
    return named_query(
        "alarms",
        {
            "from_ms": "0" if whole_history else FROM_MS,
            "to_ms": "4102444800000" if whole_history else TO_MS,
            "kind": KIND_PARAM,
            "limit": str(limit),
        },
    )


ALARMS = dashboard(
    "wapipe-alarms",
    "wapipe · Alarms",
    "Reply-rate, delivery-rate and SLA alarms (infra/clickhouse/queries/alarms.sql). A firing "
    "reply-rate alarm pauses the campaign it scopes.",
    [ALARM_KIND],
    [
        Panel(
            "Firing now",
            "stat",
            wrap(
                alarms(whole_history=True, limit=1_000_000),
                "SELECT countIf(last_state = 'firing') AS firing\nFROM (\n"
                "    SELECT alarm_id, argMax(state, (ts_ms, state)) AS last_state\n"
                "    FROM {inner}\n    GROUP BY alarm_id\n)",
            ),
            description="All time, whatever the dashboard range: an alarm fired last month "
            "and never resolved is still firing.",
            thresholds=[(None, "green"), (1, "red")],
            width=6,
            height=5,
        ),
        Panel(
            "Firing alarms",
            "table",
            wrap(
                alarms(whole_history=True, limit=1_000_000),
                "SELECT alarm_id, argMax(kind, (ts_ms, state)) AS kind,\n"
                "       argMax(scope, (ts_ms, state)) AS scope,\n"
                "       argMax(value, (ts_ms, state)) AS value,\n"
                "       argMax(threshold, (ts_ms, state)) AS threshold,\n"
                "       argMax(sample, (ts_ms, state)) AS sample,\n"
                "       argMax(priority, (ts_ms, state)) AS high_value,\n"
                "       fromUnixTimestamp64Milli(max(ts_ms), 'UTC') AS since,\n"
                "       argMax(state, (ts_ms, state)) AS last_state\n"
                "FROM {inner}\nGROUP BY alarm_id\nHAVING last_state = 'firing'\n"
                "ORDER BY high_value DESC, since",
            ),
            description="All time: alarms whose newest event is a firing one. High-value "
            "conversations first (SLA alarms).",
            width=18,
            height=5,
        ),
        Panel(
            "Alarm events",
            "timeseries",
            wrap(
                alarms(whole_history=False, limit=1_000_000),
                "SELECT $__timeInterval(fromUnixTimestamp64Milli(ts_ms)) AS time,\n"
                "       countIf(state = 'firing') AS fired, countIf(state = 'resolved') AS resolved"
                "\nFROM {inner}\nGROUP BY time\nORDER BY time",
            ),
            width=24,
        ),
        Panel(
            "Time to resolve by kind",
            "barchart",
            wrap(
                alarms(whole_history=False, limit=1_000_000),
                "SELECT kind, avg(firing_for_ms) / 60000 AS avg_minutes,"
                " max(firing_for_ms) / 60000 AS max_minutes\n"
                "FROM {inner}\nWHERE state = 'resolved'\nGROUP BY kind\nORDER BY kind",
            ),
            unit="m",
        ),
        Panel(
            "History",
            "table",
            wrap(
                alarms(whole_history=False, limit=500),
                "SELECT fromUnixTimestamp64Milli(ts_ms, 'UTC') AS time, kind, scope, state,"
                " value,\n       threshold, sample, priority AS high_value, detail,"
                " firing_for_ms / 60000 AS firing_minutes\nFROM {inner}",
            ),
        ),
    ],
)


# --- Sender ---------------------------------------------------------------------------------

SENDER_FILTER = "('${business_number}' = '__all' OR business_number_id = '${business_number}')"

SENDER = dashboard(
    "wapipe-sender",
    "wapipe · Sender",
    "Send results (outbound_messages): throughput against the configured per-number limit, "
    "outcomes, errors by code, and how long commands wait before their result.",
    [BUSINESS_NUMBER, RATE_LIMIT],
    [
        Panel(
            "Throughput vs limit",
            "timeseries",
            "SELECT $__timeInterval(second) AS time,\n"
            "       sum(sends) / $__interval_s AS avg_per_s,\n"
            "       max(sends) AS busiest_second,\n"
            "       ${rate_limit_per_s} AS limit_per_s\n"
            "FROM (\n"
            "    -- One row per business number and second: the limit is per number.\n"
            "    SELECT toStartOfSecond(ts) AS second, business_number_id,"
            " uniqExact(command_id) AS sends\n"
            "    FROM outbound_messages\n"
            f"    WHERE outcome = 'accepted' AND $__timeFilter(ts) AND {SENDER_FILTER}\n"
            "    GROUP BY second, business_number_id\n"
            ")\nGROUP BY time\nORDER BY time",
            description="busiest_second is the most messages one number sent in any one "
            "second of the interval; it must stay at or below the limit (design.md §7).",
            unit="short",
            width=24,
        ),
        Panel(
            "Outcomes",
            "timeseries",
            "SELECT $__timeInterval(ts) AS time,\n"
            "       uniqExactIf(command_id, outcome = 'accepted') AS accepted,\n"
            "       uniqExactIf(command_id, outcome = 'rejected') AS rejected,\n"
            "       uniqExactIf(command_id, outcome = 'skipped') AS skipped,\n"
            "       uniqExactIf(command_id, outcome = 'expired') AS expired\n"
            "FROM outbound_messages\n"
            f"WHERE $__timeFilter(ts) AND {SENDER_FILTER}\n"
            "GROUP BY time\nORDER BY time",
        ),
        Panel(
            "Errors by code",
            "barchart",
            "SELECT toString(error_code) AS code, uniqExact(command_id) AS messages\n"
            "FROM outbound_messages\n"
            f"WHERE error_code IS NOT NULL AND $__timeFilter(ts) AND {SENDER_FILTER}\n"
            "GROUP BY code\nORDER BY messages DESC",
            description="Cloud API error codes in send responses (shared/whatsapp-cloud-api.md"
            "): 130429/131056 are retried, 131047/131026 never, 131050 opts the customer out.",
        ),
        Panel(
            "Errors: send responses and failed receipts",
            "table",
            "SELECT * FROM (\n"
            "    SELECT 'send' AS stage, error_code, any(reason) AS example,"
            " uniqExact(command_id) AS messages\n"
            "    FROM outbound_messages\n"
            f"    WHERE error_code IS NOT NULL AND $__timeFilter(ts) AND {SENDER_FILTER}\n"
            "    GROUP BY error_code\n"
            "    UNION ALL\n"
            "    SELECT 'receipt' AS stage, error_code, any(error_title) AS example,"
            " uniqExact(wamid) AS messages\n"
            "    FROM message_status\n"
            "    WHERE status = 'failed' AND error_code IS NOT NULL AND $__timeFilter(ts)\n"
            f"      AND {SENDER_FILTER}\n"
            "    GROUP BY error_code\n"
            ")\nORDER BY messages DESC",
            width=24,
        ),
        Panel(
            "Queue lag (command created → result)",
            "timeseries",
            "SELECT $__timeInterval(r.result_at) AS time,\n"
            "       quantile(0.5)((r.result_ms - c.created_ms) / 1000) AS p50_s,\n"
            "       quantile(0.95)((r.result_ms - c.created_ms) / 1000) AS p95_s,\n"
            "       max((r.result_ms - c.created_ms) / 1000) AS max_s\n"
            "FROM (\n"
            "    SELECT command_id, min(ts) AS result_at, min(ts_ms) AS result_ms\n"
            "    FROM outbound_messages\n"
            f"    WHERE $__timeFilter(ts) AND {SENDER_FILTER}\n"
            "    GROUP BY command_id\n"
            ") AS r\n"
            "INNER JOIN (\n"
            "    SELECT command_id, min(created_ms) AS created_ms FROM outbound_commands"
            " GROUP BY command_id\n"
            ") AS c ON c.command_id = r.command_id\n"
            "GROUP BY time\nORDER BY time",
            description="Includes deliberate waits (throttle, pair rate, send windows, "
            "not_before). Needs outbound_commands rows.",
            unit="s",
            width=16,
        ),
        Panel(
            "Waiting commands",
            "stat",
            "SELECT count() AS waiting\n"
            "FROM (\n"
            "    SELECT command_id FROM outbound_commands\n"
            f"    WHERE $__timeFilter(created) AND {SENDER_FILTER}\n"
            "    GROUP BY command_id\n"
            ")\nWHERE command_id NOT IN (SELECT command_id FROM outbound_messages)",
            description="Commands created in the range without a send result yet.",
            width=8,
        ),
    ],
)


# --- Customers ------------------------------------------------------------------------------

CURRENCY_PARAM = "if('${currency}' = '__all', '', '${currency}')"
TAG_FAMILY_FILTER = "('${tag_family}' = '__all' OR startsWith(segment, '${tag_family}:'))"

CUSTOMERS = dashboard(
    "wapipe-customers",
    "wapipe · Customers",
    "Engagement tags over time (tag_changes) and lifetime value by cohort and segment "
    "(infra/clickhouse/queries/ltv_*.sql). Money in minor units of the currency.",
    [CURRENCY_OR_ALL, TAG_FAMILY],
    [
        Panel(
            "Customers per tag",
            "timeseries",
            "SELECT time, tag, holders\n"
            "FROM (\n"
            "    -- Running count of customers holding each tag: +1 when added, -1 when removed.\n"
            "    SELECT toDateTime(day) AS time, tag,\n"
            "           sum(net) OVER (PARTITION BY tag ORDER BY day"
            " ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS holders\n"
            "    FROM (\n"
            "        SELECT toDate(ts) AS day, CAST(tag AS String) AS tag,\n"
            "               sum(if(change = 'added', 1, -1)) AS net\n"
            "        FROM tag_changes FINAL\n"
            "        GROUP BY day, tag\n"
            "    )\n"
            ")\n"
            "WHERE $__timeFilter(time)\n"
            "  AND ('${tag_family}' = '__all' OR startsWith(tag, '${tag_family}:'))\n"
            "ORDER BY time",
            description="tag_changes FINAL collapses duplicate rows of one change (at-least-"
            "once sink).",
            width=24,
        ),
        Panel(
            "Customers by current tag",
            "barchart",
            "SELECT segment, count() AS customers\n"
            "FROM customers\nARRAY JOIN tags AS segment\n"
            f"WHERE {TAG_FAMILY_FILTER}\n"
            "GROUP BY segment\nORDER BY segment",
            description="All time: the tags customers carry now (the customers view).",
        ),
        Panel(
            "LTV by segment",
            "barchart",
            wrap(
                named_query("ltv_segment", {"currency": CURRENCY_PARAM}),
                f"SELECT segment, ltv_minor\nFROM {{inner}}\nWHERE {TAG_FAMILY_FILTER}"
                " OR segment = 'untagged'\nORDER BY segment",
            ),
            description="All time: revenue per customer of each current tag (ltv_segment.sql).",
        ),
        Panel(
            "LTV by monthly cohort",
            "barchart",
            wrap(
                named_query("ltv_cohort", {"currency": CURRENCY_PARAM}),
                "SELECT concat(formatDateTime(cohort_month, '%Y-%m'), ' ', currency) AS cohort,"
                "\n       ltv_minor\nFROM {inner}\n"
                "WHERE cohort_month <= toDate($__toTime)\nORDER BY cohort",
            ),
        ),
        Panel(
            "Cohorts",
            "table",
            wrap(
                named_query("ltv_cohort", {"currency": CURRENCY_PARAM}),
                "SELECT cohort_month, currency, customers, orders, revenue_minor, ltv_minor\n"
                "FROM {inner}\nWHERE cohort_month <= toDate($__toTime)\n"
                "ORDER BY cohort_month, currency",
            ),
        ),
    ],
)


# --- Cost and ROI ---------------------------------------------------------------------------

ROI_PARAMS = {
    "currency": "'${currency}'",
    "minor_units_per_major": "${minor_units_per_major}",
    "attribution_window_ms": ATTRIBUTION_WINDOW_MS,
}
# Only messages sent in the dashboard range; attribution still looks at every message and
# purchase, as the funnel's from_ms/to_ms do (docs/analysts.md).
ROI_ANCHOR = "WHERE m.campaign_id != ''"
ROI_RANGE = f"m.sent_ms >= {FROM_MS} AND m.sent_ms < {TO_MS}"


def roi_campaign() -> str:
    return named_query("roi_campaign", ROI_PARAMS, anchor=ROI_ANCHOR, extra_where=ROI_RANGE)


def provider_cost() -> str:
    return named_query("provider_cost", {"meta_free_per_month": "${meta_free_per_month}"})


MONTHS_IN_RANGE = (
    "month >= toStartOfMonth(toDate($__fromTime)) AND month <= toStartOfMonth(toDate($__toTime))"
)

COST_ROI = dashboard(
    "wapipe-cost-roi",
    "wapipe · Cost and ROI",
    "Message cost (the sender's estimate, USD micros), attributed revenue (last touch) and ROI "
    "= revenue / cost (roi_campaign.sql); provider comparison (provider_cost.sql); segment "
    "efficiency (segment_efficiency.sql). Compare like with like: pick the currency the price "
    "tables use.",
    [CURRENCY, MINOR_UNITS, ATTRIBUTION, META_FREE],
    [
        Panel(
            "Cost, revenue, ROI",
            "stat",
            wrap(
                roi_campaign(),
                "SELECT sum(cost_micros) / 1e6 AS cost_usd,"
                " sum(revenue_micros) / 1e6 AS revenue,\n"
                "       if(sum(cost_micros) = 0, NULL, sum(revenue_micros) / sum(cost_micros))"
                " AS roi\nFROM {inner}",
            ),
            width=12,
            height=5,
        ),
        Panel(
            "Cost by category",
            "timeseries",
            "SELECT $__timeInterval(sent_at) AS time, category,"
            " sum(cost_micros) / 1e6 AS cost_usd\n"
            "FROM (\n"
            "    SELECT command_id, min(ts) AS sent_at,"
            " any(CAST(category AS String)) AS category,\n"
            "           any(cost_micros) AS cost_micros\n"
            "    FROM outbound_messages\n"
            "    WHERE outcome = 'accepted' AND $__timeFilter(ts)\n"
            "    GROUP BY command_id\n"
            ")\nGROUP BY time, category\nORDER BY time",
            unit="currencyUSD",
            width=12,
            height=5,
        ),
        Panel(
            "ROI by campaign",
            "table",
            wrap(
                roi_campaign(),
                "SELECT campaign_id, messages, cost_micros / 1e6 AS cost_usd, attributed_orders,"
                "\n       revenue_minor, revenue_micros / 1e6 AS revenue, roi,"
                "\n       revenue_per_message_micros / 1e6 AS revenue_per_message"
                "\nFROM {inner}\nORDER BY roi DESC",
            ),
            width=24,
        ),
        Panel(
            "Provider cost for the observed volume",
            "barchart",
            wrap(
                provider_cost(),
                "SELECT provider, sum(total_micros) / 1e6 AS total_usd,"
                " sum(meta_micros) / 1e6 AS meta_usd\n"
                f"FROM {{inner}}\nWHERE {MONTHS_IN_RANGE}\nGROUP BY provider\n"
                "ORDER BY total_usd",
            ),
            description="Monthly fee + per-message fee beyond the free allowance + Meta's fees "
            "(design.md §6 presets: Twilio, MessageBird, Zenvia).",
            unit="currencyUSD",
        ),
        Panel(
            "Provider cost by month",
            "table",
            wrap(
                provider_cost(),
                "SELECT month, provider, messages, monthly_fee_micros / 1e6 AS monthly_fee_usd,"
                "\n       per_message_micros / 1e6 AS per_message_usd,"
                " meta_micros / 1e6 AS meta_usd,\n       total_micros / 1e6 AS total_usd\n"
                f"FROM {{inner}}\nWHERE {MONTHS_IN_RANGE}\nORDER BY month, total_usd",
            ),
        ),
        Panel(
            "Segment efficiency",
            "table",
            wrap(
                named_query(
                    "segment_efficiency",
                    {
                        "from_ms": FROM_MS,
                        "to_ms": TO_MS,
                        "attribution_window_ms": ATTRIBUTION_WINDOW_MS,
                    },
                ),
                "SELECT strategy, campaigns, delivered, read, converted, open_rate,"
                " conversion_rate,\n       conversion_lift,"
                " cost_per_conversion_micros / 1e6 AS cost_per_conversion_usd\nFROM {inner}",
            ),
            description="Open rate, conversion lift over no segmentation, and cost per "
            "conversion by segmentation strategy (frequency, value, heat).",
            width=24,
        ),
    ],
)

DASHBOARDS: dict[str, dict[str, Any]] = {
    "funnel.json": FUNNEL,
    "alarms.json": ALARMS,
    "sender.json": SENDER,
    "customers.json": CUSTOMERS,
    "cost_roi.json": COST_ROI,
}


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for name, board in DASHBOARDS.items():
        path = OUT_DIR / name
        text = render(board)
        if "--check" in argv:
            if not path.exists() or path.read_text("utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, "utf-8")
    if stale:
        print(f"out of date: {stale}; run `python dashboards/build_dashboards.py`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
