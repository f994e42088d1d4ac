"""The named-query loader: headers declare every parameter; binding checks before ClickHouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.analytics.queries import load_queries, parse_named_query


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.sql"
    path.write_text(text)
    return path


def test_every_shipped_query_has_a_summary_and_documented_parameters() -> None:
    queries = load_queries()
    assert queries, "infra/clickhouse/queries holds the named queries"
    for query in queries.values():
        assert query.summary, f"{query.name}: first line '-- {query.name}: <summary>'"
        for param in query.parameters:
            assert param.doc, f"{query.name}: document parameter {param.name}"
            assert not param.required, f"{query.name}: give {param.name} a default"


def test_header_is_parsed(tmp_path: Path) -> None:
    query = parse_named_query(
        _write(
            tmp_path,
            "sample",
            "-- sample: count things.\n-- Why it exists.\n"
            "-- @param grain String = day: one of day|week\n"
            "-- @param limit UInt32 = 10: at most this many\n"
            "-- @param who String = '': a name\n"
            "SELECT {limit:UInt32}, {grain:String}, {who:String}\n",
        )
    )
    assert query.summary == "count things."
    assert query.description == "Why it exists."
    assert [(p.name, p.type, p.default, p.choices) for p in query.parameters] == [
        ("grain", "String", "day", ("day", "week")),
        ("limit", "UInt32", 10, ()),
        ("who", "String", "", ()),
    ]
    assert query.bind(limit="5") == {"grain": "day", "limit": 5, "who": ""}
    with pytest.raises(ValueError, match="one of day, week"):
        query.bind(grain="month")
    with pytest.raises(ValueError, match="no parameter nope; it takes grain, limit, who"):
        query.bind(nope=1)
    with pytest.raises(ValueError, match="limit must be a UInt32"):
        query.bind(limit="ten")


def test_undeclared_placeholder_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad", "-- bad: x\nSELECT {n:Int64}\n")
    with pytest.raises(ValueError, match=r"declare \['n'\]"):
        parse_named_query(path)


def test_placeholder_type_must_match_declaration(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad", "-- bad: x\n-- @param n Int64 = 1: n\nSELECT {n:String}\n")
    with pytest.raises(ValueError, match="types differ"):
        parse_named_query(path)


def test_missing_summary_line_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must start with '-- nohead: "):
        parse_named_query(_write(tmp_path, "nohead", "SELECT 1\n"))


def test_required_parameter_must_be_given(tmp_path: Path) -> None:
    query = parse_named_query(
        _write(tmp_path, "req", "-- req: x\n-- @param day Date: the day\nSELECT {day:Date}\n")
    )
    with pytest.raises(ValueError, match="needs parameter day"):
        query.bind()
    assert query.bind(day="2026-01-01") == {"day": "2026-01-01"}


FUNNEL = load_queries()["funnel"]


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_integer_parameters_accept_ints_and_their_text(value: int) -> None:
    query = FUNNEL
    assert query.bind(from_ms=value)["from_ms"] == value
    assert query.bind(from_ms=str(value))["from_ms"] == value
