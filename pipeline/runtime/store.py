"""ClickHouse for wapipe: one interface over embedded chDB and a ClickHouse server.

    store = open_store(settings)            # chDB in <data_dir>/clickhouse, or the server
    apply_migrations(store)                 # infra/clickhouse/NNN_*.sql, idempotent
    store.insert_arrow("purchases", events_to_arrow(batch))
    store.query("SELECT count() FROM purchases WHERE customer = {c:String}", {"c": "4917..."})

Placeholders use ClickHouse's ``{name:Type}`` syntax on both backends, so every SQL text in
``infra/clickhouse/queries`` runs unchanged on either.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.runtime.store_api import QueryResult, Store
from pipeline.runtime.store_arrow import TABLE_FOR_RECORD, arrow_schema, events_to_arrow, table_for
from pipeline.runtime.store_migrations import MIGRATIONS_DIR, apply_migrations, migration_files
from pipeline.runtime.store_sql import is_read_only_sql, split_statements
from pipeline.settings import Settings

__all__ = [
    "MIGRATIONS_DIR",
    "TABLE_FOR_RECORD",
    "QueryResult",
    "Store",
    "apply_migrations",
    "arrow_schema",
    "chdb_path",
    "events_to_arrow",
    "is_read_only_sql",
    "migration_files",
    "open_store",
    "split_statements",
    "table_for",
]


def chdb_path(settings: Settings) -> Path:
    """Where the embedded store keeps its data."""
    return settings.data_dir / "clickhouse"


def open_store(settings: Settings, *, read_only: bool = False) -> Store:
    """chDB when ``settings.clickhouse_url`` is unset, else a clickhouse-connect client.

    Raises :class:`~pipeline.errors.StoreLockedError` when another process owns the chDB
    directory. Within one process, stores on the same directory share a single chDB session.
    """
    if settings.clickhouse_url is None:
        from pipeline.runtime.store_chdb import ChdbStore

        return ChdbStore(chdb_path(settings), read_only=read_only)
    from pipeline.runtime.store_server import ServerStore

    return ServerStore(settings.clickhouse_url, read_only=read_only)
