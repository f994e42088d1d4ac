"""Run the attribution refresh job (pipeline/analytics/refresh.py) beside the ClickHouse sink.

The worker that owns the store runs one refresh every ``attribution_refresh_seconds`` in its
own thread (chDB calls block), so the facts the funnel, ROI and segment queries read trail the
sink by about that long. A failed run is logged and retried at the next tick: runs are
idempotent and a failed one is not recorded, so the next one covers its changes.
"""

from __future__ import annotations

import threading
from typing import Any

import mode
import structlog

from pipeline.analytics.refresh import refresh_attribution
from pipeline.app import WapipeApp
from pipeline.errors import StoreError
from pipeline.runtime.store import Store

log = structlog.get_logger(__name__)


class AttributionRefresher:
    """Calls :func:`refresh_attribution` every ``interval_s`` until stopped."""

    def __init__(self, store: Store, *, interval_s: float) -> None:
        self.store = store
        self.interval_s = interval_s
        self.stopping = threading.Event()
        self.runs = 0
        self.failures = 0

    def run(self) -> None:
        while not self.stopping.wait(self.interval_s):
            try:
                refresh_attribution(self.store)
                self.runs += 1
            except StoreError as exc:
                self.failures += 1
                log.warning("attribution.refresh_failed", error=str(exc)[:300])
            except Exception:
                # Never let one bad run end the thread: the facts would silently go stale.
                self.failures += 1
                log.exception("attribution.refresh_crashed")


class AttributionRefreshService(mode.Service):
    """Runs :class:`AttributionRefresher` in a thread for as long as the Faust app runs."""

    def __init__(self, refresher: AttributionRefresher, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refresher = refresher
        self._thread: threading.Thread | None = None

    async def on_start(self) -> None:
        self._thread = threading.Thread(
            target=self.refresher.run, name="attribution-refresh", daemon=True
        )
        self._thread.start()

    async def on_stop(self) -> None:
        self.refresher.stopping.set()
        if self._thread is not None:
            await self.loop.run_in_executor(None, self._thread.join, 60)


def register(wapp: WapipeApp) -> None:
    """Add the refresh service to a worker that owns the store (called by the sink's role)."""
    if wapp.store is None:
        return
    refresher = AttributionRefresher(
        wapp.store, interval_s=wapp.settings.attribution_refresh_seconds
    )
    wapp.extras["attribution_refresher"] = refresher
    wapp.app.service(AttributionRefreshService(refresher))  # type: ignore[arg-type]
