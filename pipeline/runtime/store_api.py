"""The store interface every ClickHouse backend implements, and the result it returns.

Two backends implement :class:`Store`: embedded chDB (``store_chdb``) and a ClickHouse server
through clickhouse-connect (``store_server``). Callers never import them directly: they call
:func:`pipeline.runtime.store.open_store`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow

#: Settings of every insert. optimize_on_insert = 0: do not collapse duplicate keys inside
#: the inserted block. Every table already tolerates unmerged duplicates (background merges
#: collapse them, queries count distinct keys), so that pass bought nothing and cost about
#: half of an insert's CPU (docs/benchmarks.md, ClickHouse section).
INSERT_SETTINGS: dict[str, int] = {"optimize_on_insert": 0}


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of a query, column names in order. Small by design: analytics results, not scans."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Any]:
        """Every value of one column; ``KeyError`` naming the known columns if absent."""
        try:
            index = self.columns.index(name)
        except ValueError:
            raise KeyError(f"no column {name!r}; the result has {list(self.columns)}") from None
        return [row[index] for row in self.rows]

    def scalar(self) -> Any:
        """The single value of a one-row, one-column result (e.g. ``SELECT count() ...``)."""
        if len(self.rows) != 1 or len(self.columns) != 1:
            raise ValueError(
                f"scalar() needs exactly one row and one column, got {len(self.rows)} row(s) "
                f"and columns {list(self.columns)}"
            )
        return self.rows[0][0]


class Store(Protocol):
    """ClickHouse as wapipe uses it: columnar inserts, parameterised queries, DDL."""

    read_only: bool

    def insert_arrow(self, table: str, batch: pyarrow.Table) -> int:
        """Insert every row of ``batch`` (columns named like the table's); return rows inserted."""
        ...

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        """Run one statement with ``{name:Type}`` placeholders bound from ``parameters``."""
        ...

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        """Run one statement that returns nothing (DDL, INSERT ... SELECT, OPTIMIZE)."""
        ...

    def close(self) -> None: ...
