"""Every SQL example in docs/analysts.md runs on chDB, and every named query is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.analytics.queries import load_queries
from pipeline.runtime.store import Store, is_read_only_sql

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"
EXAMPLES = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("sql", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_sql_example_runs_and_returns_rows(loaded_store: Store, sql: str) -> None:
    assert is_read_only_sql(sql), "doc examples must be read-only (they run via `wapipe sql`)"
    result = loaded_store.query(sql)
    assert result.rows, f"this example returns nothing on the generated world:\n{sql}"


def test_every_named_query_is_documented() -> None:
    text = DOC.read_text()
    missing = [name for name in load_queries() if f"| `{name}` |" not in text]
    assert not missing, f"add {missing} to the named-query table in docs/analysts.md"
