"""A tiny Faust app for the conformance tests: one agent counts records per key into a Table.

It is built with :func:`pipeline.app.faust_app`, so it runs with exactly wapipe's Faust
settings (group timing, memory store, commit behaviour). Run it as a worker process::

    python -m tests.broker.faust_counter_app BOOTSTRAP TOPIC APP_ID WEB_PORT DATA_DIR PARTITIONS

``GET /counts`` answers ``{"recovered": bool, "rebalancing": bool, "counts": {key: n}}``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import faust

from pipeline.app import faust_app
from pipeline.settings import Settings

TABLE = "counts"


def changelog_topic(app_id: str) -> str:
    """Faust's name for the table's changelog topic."""
    return f"{app_id}-{TABLE}-changelog"


def counter_app(
    *, bootstrap: str, topic: str, app_id: str, web_port: int, data_dir: Path, partitions: int
) -> faust.App:
    settings = Settings(
        app_id=app_id, web_port=web_port, data_dir=data_dir, kafka_partitions=partitions
    )
    app = faust_app(settings, bootstrap=bootstrap)
    serve_counts(app, count_records(app, topic, partitions))
    return app


def count_records(app: faust.App, topic: str, partitions: int) -> Any:
    """An agent counting ``topic``'s records per key, record by record, into table TABLE."""
    source = app.topic(topic, key_serializer="utf8", value_serializer="raw", partitions=partitions)
    counts = app.Table(
        TABLE,
        default=int,
        partitions=partitions,
        schema=faust.Schema(
            key_type=str, value_type=int, key_serializer="utf8", value_serializer="json"
        ),
    )

    @app.agent(source)
    async def count(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for key, _value in stream.items():
            counts[key] += 1
            yield None

    return counts


def serve_counts(app: faust.App, counts: Any, extra: Callable[[], dict[str, Any]] = dict) -> None:
    """``GET /counts``: recovery state, the counts table and whatever ``extra`` adds."""

    @app.page("/counts")
    async def counts_page(web: Any, request: Any) -> Any:
        return web.json(
            {
                "recovered": app.tables.recovery.completed.is_set(),
                "rebalancing": bool(app.rebalancing),
                "counts": dict(counts.items()) if counts is not None else {},
                **extra(),
            }
        )


def run_app(build: Callable[..., faust.App], argv: list[str]) -> None:
    """Build an app from the worker's six arguments and run it as a worker until stopped."""
    bootstrap, topic, app_id, web_port, data_dir, partitions = argv
    app = build(
        bootstrap=bootstrap,
        topic=topic,
        app_id=app_id,
        web_port=int(web_port),
        data_dir=Path(data_dir),
        partitions=int(partitions),
    )
    worker = faust.Worker(app, loglevel="INFO", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


def main(argv: list[str]) -> None:
    run_app(counter_app, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
