"""Bring up what a worker needs, embedded or external, and take it down in order.

settings ──► broker (Tansu child process, or WAPIPE_KAFKA_BOOTSTRAP_SERVERS)
         ──► topics (created idempotently)
         ──► store (chDB in var/clickhouse, or WAPIPE_CLICKHOUSE_URL) + migrations
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from pipeline.runtime.broker import EmbeddedBroker, wait_for_metadata
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.runtime.sandbox_process import SandboxProcess
from pipeline.settings import Settings
from pipeline.sinks.sender_config import META_GRAPH_URL
from pipeline.topics import ALL_TOPICS

if TYPE_CHECKING:
    from pipeline.runtime.store import Store

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    bootstrap: str
    broker: EmbeddedBroker | None
    store: Store | None
    sandbox: SandboxProcess | None = None


def worker_file(settings: Settings) -> Path:
    """Where the running worker announces its web address (``wapipe sql`` reads it)."""
    return settings.data_dir / "worker.json"


def announce_worker(settings: Settings, *, web_url: str) -> None:
    path = worker_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "web_url": web_url}))


def running_worker_url(settings: Settings) -> str | None:
    """The web URL of a live worker owning this data directory, if one is running."""
    path = worker_file(settings)
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(info["web_url"])


def needs_embedded_sandbox(settings: Settings) -> bool:
    """No token and no base URL of our own: the embedded default sends to the sandbox."""
    return settings.use_sandbox and settings.whatsapp_api_base_url.rstrip("/") == META_GRAPH_URL


@contextlib.contextmanager
def runtime(
    settings: Settings,
    *,
    with_store: bool = True,
    sandbox: SandboxProcess | None = None,
    sandbox_customers: int = 1000,
    sends: bool = True,
) -> Iterator[Runtime]:
    """Start what ``settings`` leaves embedded; ``sandbox`` overrides the default sandbox,
    which only a worker that ``sends`` (the sender role) needs."""
    broker: EmbeddedBroker | None = None
    store: Store | None = None
    try:
        if sandbox is None and sends and needs_embedded_sandbox(settings):
            web = f"http://{settings.web_host}:{settings.web_port}"
            sandbox = SandboxProcess(
                callback_url=f"{web}/webhooks/whatsapp",
                purchases_url=f"{web}/purchases",
                customers=sandbox_customers,
                log_dir=settings.data_dir / "logs",
            )
        if sandbox is not None:
            settings = settings.model_copy(update={"whatsapp_api_base_url": sandbox.start()})
        if settings.kafka_bootstrap_servers is None:
            broker = EmbeddedBroker(port=settings.broker_port, log_dir=settings.data_dir / "logs")
            bootstrap = broker.start()
        else:
            bootstrap = settings.kafka_bootstrap_servers
            wait_for_metadata(bootstrap, timeout_s=30)
        ensure_topics(
            bootstrap,
            ALL_TOPICS,
            partitions=settings.kafka_partitions,
            replication=settings.kafka_replication,
        )
        if with_store:
            from pipeline.runtime.store import apply_migrations, open_store

            store = open_store(settings)
            applied = apply_migrations(store)
            if applied:
                log.info("store.migrated", applied=applied)
        yield Runtime(
            settings=settings, bootstrap=bootstrap, broker=broker, store=store, sandbox=sandbox
        )
    finally:
        if sandbox is not None:
            sandbox.stop()
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()
        if broker is not None:
            broker.stop()
        with contextlib.suppress(OSError):
            path = worker_file(settings)
            if path.exists() and json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
