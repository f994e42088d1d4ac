"""The Faust app and its wiring.

``build_app`` turns settings into a :class:`WapipeApp`: the Faust app, one topic object per
declared topic (Avro values, UTF-8 keys), the ClickHouse store when this process owns it, and
the agents of the roles this worker plays. Agents live in their own modules and register
themselves through a ``register(wapp)`` function, so a data engineer adds an agent by writing
one module and naming it in :data:`ROLES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import faust

from pipeline.clock import Clock, SystemClock
from pipeline.runtime.faust_fetch_batches import FetchBatchTransport
from pipeline.runtime.faust_producer import install_bulk_producer_buffer
from pipeline.runtime.faust_unread_partitions import pause_unread_after_recovery
from pipeline.schemas.codec import register_faust_codecs
from pipeline.settings import Settings
from pipeline.topics import ALL_TOPICS, TopicSpec

if TYPE_CHECKING:
    from pipeline.runtime.store import Store

#: role name → module with a ``register(wapp: WapipeApp) -> None`` function.
ROLES: Mapping[str, str] = {
    "sink": "pipeline.sinks.clickhouse",
    "sql": "pipeline.runtime.sql_view",
    "ingest": "pipeline.ingest.views",
    "engagement": "pipeline.agents.engagement",
    "reply_rate": "pipeline.agents.reply_rate",
    "sla": "pipeline.agents.sla",
    "sender": "pipeline.sinks.whatsapp",
    "autoreply": "pipeline.agents.autoreply",
    "campaigns": "pipeline.agents.campaigns",
}


@dataclass
class WapipeApp:
    """Everything an agent needs: the Faust app, topics, settings, store and clock."""

    settings: Settings
    app: faust.App
    topics: dict[str, faust.TopicT]
    bootstrap: str
    store: Store | None = None
    clock: Clock = field(default_factory=SystemClock)
    roles: tuple[str, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)

    def topic(self, spec: TopicSpec) -> faust.TopicT:
        return self.topics[spec.name]


def faust_app(settings: Settings, *, bootstrap: str) -> faust.App:
    register_faust_codecs()
    install_bulk_producer_buffer()  # see pipeline/runtime/faust_producer.py
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in bootstrap.split(",")],
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.kafka_partitions,
        topic_replication_factor=settings.kafka_replication,
        key_serializer="utf8",
        value_serializer="avro",
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        consumer_auto_offset_reset="earliest",
        # Measured on Tansu (issue 2): with Faust's defaults a worker restarted after an
        # unclean exit hangs after JoinGroup; these rejoin in about 10 s.
        broker_session_timeout=10,
        broker_rebalance_timeout=15,
        broker_heartbeat_interval=1,
        stream_wait_empty=False,
        producer_linger_ms=1,
        autodiscover=False,
    )
    # Tansu's ListOffsets can stop short of a partition's end; table recovery trusts it and
    # lost the tail of the changelog. This transport confirms ends with a fetch (issue 2,
    # pipeline/runtime/faust_end_offsets.py, tests/broker/test_faust_worker.py). Its fetch
    # wait is a setting: Tansu holds an empty fetch to the end (runtime/faust_fetch_wait.py).
    # Its seeks also rewind partitions never committed, whose records Faust may have fetched
    # and dropped during a rebalance (issue 6, runtime/faust_rewind.py). Agents that iterate
    # a FetchBatchTopic get whole fetches (runtime/faust_fetch_batches.py).
    app.transport = FetchBatchTransport(
        app.conf.broker_consumer, app, fetch_wait_ms=settings.consumer_fetch_wait_ms
    )
    # Faust's pause never reaches aiokafka: without this every fetch names the worker's own
    # changelogs and the leader topic (runtime/faust_unread_partitions.py).
    pause_unread_after_recovery(app)
    return app


def build_app(
    settings: Settings,
    *,
    bootstrap: str,
    store: Store | None = None,
    clock: Clock | None = None,
    roles: Iterable[str] | None = None,
) -> WapipeApp:
    app = faust_app(settings, bootstrap=bootstrap)
    topics = {
        spec.name: app.topic(
            spec.name,
            key_serializer="utf8",
            value_serializer="avro",
            partitions=settings.kafka_partitions,
            replicas=settings.kafka_replication,
        )
        for spec in ALL_TOPICS
    }
    chosen = tuple(roles) if roles is not None else tuple(ROLES)
    unknown = [r for r in chosen if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles {unknown}; known: {sorted(ROLES)}")
    wapp = WapipeApp(
        settings=settings,
        app=app,
        topics=topics,
        bootstrap=bootstrap,
        store=store,
        clock=clock or SystemClock(),
        roles=chosen,
    )
    for role in chosen:
        importlib.import_module(ROLES[role]).register(wapp)
    return wapp
