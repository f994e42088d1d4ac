"""Read-only SQL over HTTP from the process that owns chDB (chDB allows one per directory).

``POST /sql`` with the statement as the body answers ``{"columns": [...], "rows": [...]}``.
Only single SELECT-like statements pass :func:`is_read_only_sql`; anything else is a 400.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pipeline.app import WapipeApp
from pipeline.errors import StoreError
from pipeline.runtime.store import is_read_only_sql

MAX_SQL_BYTES = 256 * 1024


def register(wapp: WapipeApp) -> None:
    store = wapp.store
    if store is None:
        return

    @wapp.app.page("/sql")
    async def sql(web: Any, request: Any) -> Any:
        if request.method != "POST":
            return web.json({"error": "POST the SQL statement as the request body"}, status=405)
        raw = await request.content.read(MAX_SQL_BYTES + 1)
        if len(raw) > MAX_SQL_BYTES:
            return web.json({"error": "statement too large"}, status=413)
        statement = raw.decode("utf-8", errors="replace")
        if not is_read_only_sql(statement):
            return web.json(
                {"error": "only one read-only statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN)"},
                status=400,
            )
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, store.query, statement)
        except StoreError as exc:
            return web.json({"error": str(exc)}, status=400)
        return web.json({"columns": list(result.columns), "rows": [list(r) for r in result.rows]})
