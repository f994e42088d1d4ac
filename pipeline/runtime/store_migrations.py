"""Ordered, idempotent schema migrations: ``infra/clickhouse/NNN_name.sql``.

Each file is a script of ``;``-separated statements that can each run twice (``IF NOT
EXISTS``, ``IF EXISTS``, ``OR REPLACE``, backfills whose rows merge into the same facts), so
re-running a file that failed half-way is safe. Applied file names are recorded in
``schema_migrations``; a file already recorded is skipped. Files are frozen once released:
change the schema with a new file, never by editing an old one.
"""

from __future__ import annotations

import re
from pathlib import Path

import structlog

from pipeline.errors import StoreError
from pipeline.runtime.store_api import Store
from pipeline.runtime.store_sql import split_statements

log = structlog.get_logger(__name__)

#: infra/clickhouse in the source tree (the repository root is two levels above pipeline/).
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "infra" / "clickhouse"

_MIGRATION_NAME = re.compile(r"^\d{3}_[a-z0-9_]+\.sql$")

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    name String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY name
"""


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """The migration scripts in apply order; a misnamed ``.sql`` file is an error, not skipped."""
    if not directory.is_dir():
        raise StoreError(f"migrations directory {directory} does not exist")
    files = sorted(directory.glob("*.sql"))
    bad = [f.name for f in files if not _MIGRATION_NAME.match(f.name)]
    if bad:
        raise StoreError(f"migration files must be named NNN_lower_snake.sql; rename {bad}")
    return files


def apply_migrations(store: Store, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now, in order."""
    store.command(_LEDGER)
    done = set(store.query("SELECT name FROM schema_migrations").column("name"))
    applied: list[str] = []
    for path in migration_files(directory):
        if path.name in done:
            continue
        for number, statement in enumerate(split_statements(path.read_text()), start=1):
            try:
                store.command(statement)
            except StoreError as exc:
                raise StoreError(
                    f"migration {path.name} failed at statement {number}: {exc}. Fix the file "
                    "(statements must be safe to run twice, e.g. IF NOT EXISTS) and start again"
                ) from exc
        # The name matched _MIGRATION_NAME (digits, lower case, _), so it is safe to inline.
        store.command(f"INSERT INTO schema_migrations (name) VALUES ('{path.name}')")
        log.info("store.migration_applied", migration=path.name)
        applied.append(path.name)
    return applied
