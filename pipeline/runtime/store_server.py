"""A ClickHouse server through clickhouse-connect, behind the same Store interface as chDB.

clickhouse-connect binds ``{name:Type}`` placeholders server-side, so the named queries are one
SQL text for both backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow

from pipeline.errors import ReadOnlyQueryError, StoreError
from pipeline.runtime.store_api import INSERT_SETTINGS, QueryResult
from pipeline.runtime.store_sql import checked_identifier, is_read_only_sql


class ServerStore:
    """clickhouse-connect client; ``read_only`` handles refuse every write."""

    def __init__(self, dsn: str, *, read_only: bool = False) -> None:
        import clickhouse_connect

        self.read_only = read_only
        try:
            self._client: Any = clickhouse_connect.get_client(dsn=dsn)
        except Exception as exc:
            # The DSN carries a password: never echo it.
            raise StoreError(
                f"could not connect to the ClickHouse server ({type(exc).__name__}); check "
                "WAPIPE_CLICKHOUSE_URL and that the server is up"
            ) from exc

    def _refuse_writes(self, what: str) -> None:
        if self.read_only:
            raise ReadOnlyQueryError(f"{what} refused: this store was opened read-only")

    def insert_arrow(self, table: str, batch: pyarrow.Table) -> int:
        self._refuse_writes(f"insert into {table}")
        if batch.num_rows == 0:
            return 0
        try:
            self._client.insert_arrow(
                checked_identifier(table), batch, settings=dict(INSERT_SETTINGS)
            )
        except Exception as exc:
            raise StoreError(f"insert into {table} failed: {exc}") from exc
        return batch.num_rows

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        if self.read_only and not is_read_only_sql(sql):
            raise ReadOnlyQueryError(
                "only one SELECT/WITH/SHOW/DESCRIBE/EXPLAIN statement is allowed here"
            )
        try:
            result = self._client.query(sql, parameters=dict(parameters or {}))
        except Exception as exc:
            raise StoreError(f"query failed: {exc}") from exc
        return QueryResult(
            columns=tuple(result.column_names), rows=[tuple(r) for r in result.result_rows]
        )

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        self._refuse_writes("command")
        try:
            self._client.command(sql, parameters=dict(parameters) if parameters else None)
        except Exception as exc:
            raise StoreError(f"statement failed: {exc}") from exc

    def close(self) -> None:
        self._client.close()
