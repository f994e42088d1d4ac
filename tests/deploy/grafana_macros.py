"""Expand panel SQL the way Grafana and the ClickHouse data source plugin do.

Grafana first replaces dashboard variables (``${name}``, ``$name``), then the plugin's backend
expands its macros. The expansions follow grafana/clickhouse-datasource pkg/macros/macros.go:

    $__timeFilter(c)     c >= toDateTime(<from s>) AND c <= toDateTime(<to s>)
    $__timeFilter_ms(c)  c >= fromUnixTimestamp64Milli(<from ms>) AND c <= ...(<to ms>)
    $__dateFilter(c)     c >= toDate('<from day>') AND c <= toDate('<to day>')
    $__fromTime          toDateTime(<from s>)        ($__toTime likewise)
    $__fromTime_ms       fromUnixTimestamp64Milli(<from ms>)
    $__timeInterval(c)   toStartOfInterval(toDateTime(c), INTERVAL <interval s> second)
    $__interval_s        <interval s>

Macro arguments are split on commas like the plugin does, so an argument must not contain
one; a macro this module does not know is an error, never left in the SQL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeRange:
    from_ms: int
    to_ms: int
    interval_s: int = 3600

    @property
    def from_s(self) -> int:
        return self.from_ms // 1000

    @property
    def to_s(self) -> int:
        return self.to_ms // 1000


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d")


def _between(column: str, low: str, high: str) -> str:
    return f"{column} >= {low} AND {column} <= {high}"


MacroFn = Callable[[TimeRange, list[str]], str]


def _one(fn: Callable[[TimeRange, str], str]) -> MacroFn:
    def call(tr: TimeRange, args: list[str]) -> str:
        if len(args) != 1:
            raise ValueError(f"macro expects 1 argument, got {len(args)}: {args}")
        return fn(tr, args[0])

    return call


def _none(fn: Callable[[TimeRange], str]) -> MacroFn:
    def call(tr: TimeRange, args: list[str]) -> str:
        if args:
            raise ValueError(f"macro takes no arguments, got {args}")
        return fn(tr)

    return call


MACROS: dict[str, MacroFn] = {
    "fromTime": _none(lambda tr: f"toDateTime({tr.from_s})"),
    "toTime": _none(lambda tr: f"toDateTime({tr.to_s})"),
    "fromTime_ms": _none(lambda tr: f"fromUnixTimestamp64Milli({tr.from_ms})"),
    "toTime_ms": _none(lambda tr: f"fromUnixTimestamp64Milli({tr.to_ms})"),
    "timeFilter": _one(
        lambda tr, c: _between(c, f"toDateTime({tr.from_s})", f"toDateTime({tr.to_s})")
    ),
    "timeFilter_ms": _one(
        lambda tr, c: _between(
            c, f"fromUnixTimestamp64Milli({tr.from_ms})", f"fromUnixTimestamp64Milli({tr.to_ms})"
        )
    ),
    "dateFilter": _one(
        lambda tr, c: _between(c, f"toDate('{_day(tr.from_ms)}')", f"toDate('{_day(tr.to_ms)}')")
    ),
    "timeInterval": _one(
        lambda tr, c: f"toStartOfInterval(toDateTime({c}), INTERVAL {max(tr.interval_s, 1)} second)"
    ),
    "interval_s": _none(lambda tr: str(max(tr.interval_s, 1))),
}

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(?!__)(\w+)")
_MACRO_NAME = re.compile(r"\$__(\w+)")


def interpolate_variables(sql: str, variables: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise KeyError(f"panel SQL uses ${{{name}}} but the dashboard defines no such variable")
        return variables[name]

    return _VARIABLE.sub(value, sql)


def _closing_paren(sql: str, open_at: int) -> int:
    depth = 0
    for index in range(open_at, len(sql)):
        if sql[index] == "(":
            depth += 1
        elif sql[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced parentheses after {sql[open_at : open_at + 40]!r}")


def expand_macros(sql: str, time_range: TimeRange) -> str:
    out: list[str] = []
    position = 0
    while (match := _MACRO_NAME.search(sql, position)) is not None:
        name = match.group(1)
        # Longest known name first: "timeFilter_ms" is not "timeFilter" + "_ms".
        if name not in MACROS:
            raise ValueError(f"unknown macro $__{name}; known: {sorted(MACROS)}")
        out.append(sql[position : match.start()])
        end = match.end()
        args: list[str] = []
        if end < len(sql) and sql[end] == "(":
            close = _closing_paren(sql, end)
            inner = sql[end + 1 : close].strip()
            args = [a.strip() for a in inner.split(",")] if inner else []
            end = close + 1
        out.append(MACROS[name](time_range, args))
        position = end
    out.append(sql[position:])
    return "".join(out)


def expand(sql: str, *, time_range: TimeRange, variables: Mapping[str, str]) -> str:
    """Panel SQL as ClickHouse receives it from Grafana."""
    return expand_macros(interpolate_variables(sql, variables), time_range)
