"""The read-only SQL guard: one reading statement, whatever hides in literals and comments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.runtime.store import is_read_only_sql, split_statements

READS = [
    "SELECT 1",
    "select count() from purchases;",
    "WITH 1 AS x SELECT x",
    "SHOW TABLES",
    "DESCRIBE TABLE purchases",
    "DESC purchases",
    "EXPLAIN SELECT 1",
    "(SELECT 1) UNION ALL (SELECT 2)",
    "-- why\nSELECT ';' AS semicolon /* ; */",
]
WRITES = [
    "INSERT INTO purchases (order_id) VALUES ('x')",
    "DROP TABLE purchases",
    "ALTER TABLE purchases DELETE WHERE 1",
    "TRUNCATE TABLE purchases",
    "CREATE TABLE x (a Int8) ENGINE = Memory",
    "SYSTEM SHUTDOWN",
    "SET readonly = 0",
    "SELECT 1; DROP TABLE purchases",
    "SELECT * FROM purchases INTO OUTFILE '/tmp/x.csv'",
    "/* SELECT */ DROP TABLE purchases",
    "-- SELECT\nDELETE FROM purchases WHERE 1",
    "",
    "   ",
    ";",
]


@pytest.mark.parametrize("sql", READS)
def test_reads_are_allowed(sql: str) -> None:
    assert is_read_only_sql(sql)


@pytest.mark.parametrize("sql", WRITES)
def test_writes_and_scripts_are_refused(sql: str) -> None:
    assert not is_read_only_sql(sql)


literal_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(literal_text)
def test_anything_inside_a_string_literal_stays_a_literal(text: str) -> None:
    quoted = "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    assert is_read_only_sql(f"SELECT {quoted} AS s")
    script = f"SELECT {quoted} AS s; SELECT 2"
    assert split_statements(script) == [f"SELECT {quoted} AS s", "SELECT 2"]


@given(st.sampled_from(READS), st.sampled_from(WRITES[:8]))
def test_a_second_statement_is_always_refused(read: str, write: str) -> None:
    assert not is_read_only_sql(read.rstrip(";") + ";\n" + write)


SINGLE_STATEMENTS = [s for s in READS + WRITES if s.strip(" ;") and "; " not in s]


@given(st.lists(st.sampled_from(SINGLE_STATEMENTS), min_size=1, max_size=5))
def test_split_statements_recovers_each_statement(statements: list[str]) -> None:
    script = ";\n".join(s.rstrip(";") for s in statements) + ";"
    assert split_statements(script) == [s.rstrip(";").strip() for s in statements]
