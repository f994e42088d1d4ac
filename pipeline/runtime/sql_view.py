"""Read-only SQL over HTTP from the process that owns chDB (chDB allows one per directory).

``POST /sql`` with the statement as the body (or JSON ``{"sql", "parameters"}`` for
``{name:Type}`` placeholders) answers ``{"columns": [...], "rows": [...]}``.
Only single SELECT-like statements pass :func:`is_read_only_sql`; anything else is a 400.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from faust import web

from pipeline.app import WapipeApp
from pipeline.errors import StoreError
from pipeline.runtime.store import is_read_only_sql

MAX_SQL_BYTES = 256 * 1024


def register(wapp: WapipeApp) -> None:
    if wapp.store is None:
        return
    store = wapp.store

    @wapp.app.page("/sql")
    class SqlView(web.View):
        async def post(self, request: web.Request) -> web.Response:
            raw = await request.read()
            if len(raw) > MAX_SQL_BYTES:
                return self.json({"error": "statement too large"}, status=413)
            parameters: dict[str, Any] | None = None
            if request.headers.get("Content-Type", "").startswith("application/json"):
                # {"sql": "... {name:Type} ...", "parameters": {"name": value}}
                try:
                    body = json.loads(raw)
                    statement = str(body["sql"])
                    parameters = dict(body.get("parameters") or {})
                except (ValueError, KeyError, TypeError):
                    return self.json(
                        {"error": 'send {"sql": ..., "parameters": {...}}'}, status=400
                    )
            else:
                statement = raw.decode("utf-8", errors="replace")
            if not is_read_only_sql(statement):
                return self.json(
                    {
                        "error": "only one read-only statement "
                        "(SELECT, WITH, SHOW, DESCRIBE, EXPLAIN)"
                    },
                    status=400,
                )
            loop = asyncio.get_running_loop()
            try:
                result = await loop.run_in_executor(None, store.query, statement, parameters)
            except StoreError as exc:
                return self.json({"error": str(exc)}, status=400)
            rows = [list(r) for r in result.rows]
            return self.json({"columns": list(result.columns), "rows": rows})

    _ = SqlView
