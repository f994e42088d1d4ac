"""Read-only SQL from the CLI: ask the running worker (it owns chDB), or open the store.

chDB allows one process per data directory, so while ``wapipe run`` owns it the CLI's
queries (``wapipe sql``, ``report``, ``alarms``, ``campaign status``) go through the worker's
``/sql`` view; otherwise they open the store read-only themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from pipeline.errors import ReadOnlyQueryError, StoreError
from pipeline.runtime.embedded import running_worker_url
from pipeline.runtime.store import QueryResult, Store, is_read_only_sql, open_store
from pipeline.settings import Settings


class WorkerSqlStore:
    """A read-only :class:`Store` that queries the running worker over HTTP."""

    read_only = True

    def __init__(self, url: str, *, timeout_s: float = 120.0) -> None:
        self.url = url
        self._http = httpx.Client(timeout=timeout_s)

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        try:
            response = self._http.post(
                f"{self.url}/sql", json={"sql": sql, "parameters": dict(parameters or {})}
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise StoreError(f"the running worker at {self.url} did not answer: {exc}") from exc
        if response.status_code != 200:
            raise StoreError(body.get("error", response.text))
        return QueryResult(columns=tuple(body["columns"]), rows=[tuple(r) for r in body["rows"]])

    def insert_arrow(self, table: str, batch: Any) -> int:
        raise ReadOnlyQueryError("the CLI reads through the worker; it never inserts")

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        raise ReadOnlyQueryError("the CLI reads through the worker; it runs no commands")

    def close(self) -> None:
        self._http.close()


@contextlib.contextmanager
def reader(settings: Settings) -> Iterator[Store]:
    """A read-only store: the running worker's, or chDB / the server opened read-only."""
    url = running_worker_url(settings) if settings.clickhouse_url is None else None
    store: Store = WorkerSqlStore(url) if url is not None else open_store(settings, read_only=True)
    try:
        yield store
    finally:
        store.close()


def run_sql(settings: Settings, statement: str) -> QueryResult:
    if not is_read_only_sql(statement):
        raise ReadOnlyQueryError(
            "`wapipe sql` runs one read-only statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN)"
        )
    with reader(settings) as store:
        return store.query(statement)
