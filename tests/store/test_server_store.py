"""The same migrations and named queries through clickhouse-connect on a ClickHouse server.

Runs only when WAPIPE_CLICKHOUSE_URL points at a server (e.g. `docker compose up clickhouse`,
then WAPIPE_CLICKHOUSE_URL=http://default:@127.0.0.1:8123/default). Each run works in a fresh
database that it drops afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from pipeline.analytics.queries import load_queries, run_named
from pipeline.analytics.refresh import refresh_attribution
from pipeline.runtime.store import Store, apply_migrations, migration_files, open_store
from pipeline.settings import Settings
from tests.analytics.world import generate, load

# Read at import: the autouse fixture in tests/conftest.py clears WAPIPE_* before each test.
SERVER_URL = os.environ.get("WAPIPE_CLICKHOUSE_URL", "").strip()

pytestmark = pytest.mark.skipif(
    not SERVER_URL,
    reason="WAPIPE_CLICKHOUSE_URL is not set: no ClickHouse server to run against",
)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
def server_store() -> Iterator[Store]:
    database = f"wapipe_test_{uuid.uuid4().hex[:8]}"
    admin = open_store(Settings(clickhouse_url=SERVER_URL))
    admin.command(f"CREATE DATABASE {database}")
    store = open_store(Settings(clickhouse_url=_with_database(SERVER_URL, database)))
    try:
        yield store
    finally:
        store.close()
        admin.command(f"DROP DATABASE IF EXISTS {database}")
        admin.close()


def test_migrations_apply_twice_on_the_server(server_store: Store) -> None:
    assert apply_migrations(server_store) == [p.name for p in migration_files()]
    assert apply_migrations(server_store) == []


def test_named_queries_agree_with_chdb(server_store: Store, tmp_path: Path) -> None:
    world = generate(11, messages=120, customers=20)
    apply_migrations(server_store)
    load(server_store, world, 11)
    assert refresh_attribution(server_store).facts > 0
    local = open_store(Settings(data_dir=tmp_path))
    try:
        apply_migrations(local)
        load(local, world, 11)
        refresh_attribution(local)
        for name in load_queries():
            on_server = run_named(server_store, name).to_dicts()
            embedded = run_named(local, name).to_dicts()
            assert _comparable(on_server) == _comparable(embedded), f"{name} differs"
    finally:
        local.close()


def _comparable(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    # The server returns naive datetimes where chDB returns UTC-aware ones; floats may differ
    # in the last bits.
    def norm(value: object) -> object:
        if isinstance(value, float):
            return round(value, 9)
        if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
            return value.replace(tzinfo=None)  # type: ignore[attr-defined]
        return value

    return [{k: norm(v) for k, v in row.items()} for row in rows]
