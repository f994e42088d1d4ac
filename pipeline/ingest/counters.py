"""Ingestion's counters: accepted, refused by reason, dead-lettered (issue 3, observability).

Served at ``GET /metrics`` through the worker's shared registry and logged once a minute, so
a refused flood is visible in both places without one log line per request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from pipeline.metrics import metrics_for

if TYPE_CHECKING:
    from pipeline.app import WapipeApp

log = structlog.get_logger(__name__)

LOG_EVERY_S = 60.0


class IngestCounters:
    def __init__(self, wapp: WapipeApp) -> None:
        registry = metrics_for(wapp)
        self.requests = registry.counter(
            "wapipe_ingest_requests_accepted_total",
            "Requests answered 2xx after the broker acked every record.",
            ("endpoint",),
        )
        self.accepted = registry.counter(
            "wapipe_ingest_events_accepted_total",
            "Events produced and acked, by topic.",
            ("endpoint", "topic"),
        )
        self.refused = registry.counter(
            "wapipe_ingest_refused_total",
            "Requests refused, by reason (nothing of them was processed).",
            ("endpoint", "reason"),
        )
        self.dead_lettered = registry.counter(
            "wapipe_ingest_dead_lettered_total",
            "Items or rows sent to pipeline.deadletter.v1 instead of their topic.",
            ("endpoint",),
        )

    def refuse(self, endpoint: str, reason: str) -> None:
        self.refused.inc(endpoint=endpoint, reason=reason)
        log.warning("ingest.refused", endpoint=endpoint, reason=reason)

    def snapshot(self) -> dict[str, int]:
        return {
            "requests_accepted": sum(self.requests.values.values()),
            "events_accepted": sum(self.accepted.values.values()),
            "refused": sum(self.refused.values.values()),
            "dead_lettered": sum(self.dead_lettered.values.values()),
        }

    def log_totals(self) -> None:
        log.info("ingest.counters", **self.snapshot())
