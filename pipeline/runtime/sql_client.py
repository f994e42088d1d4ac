"""``wapipe sql``: ask the running worker (it owns chDB), or open the store directly."""

from __future__ import annotations

import httpx

from pipeline.errors import ReadOnlyQueryError, StoreError
from pipeline.runtime.embedded import running_worker_url
from pipeline.runtime.store import QueryResult, is_read_only_sql, open_store
from pipeline.settings import Settings


def run_sql(settings: Settings, statement: str) -> QueryResult:
    if not is_read_only_sql(statement):
        raise ReadOnlyQueryError(
            "`wapipe sql` runs one read-only statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN)"
        )
    url = running_worker_url(settings) if settings.clickhouse_url is None else None
    if url is not None:
        response = httpx.post(f"{url}/sql", content=statement.encode(), timeout=60)
        body = response.json()
        if response.status_code != 200:
            raise StoreError(body.get("error", response.text))
        return QueryResult(columns=tuple(body["columns"]), rows=[tuple(r) for r in body["rows"]])
    store = open_store(settings, read_only=True)
    try:
        return store.query(statement)
    finally:
        store.close()
