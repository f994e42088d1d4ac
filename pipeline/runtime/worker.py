"""Run a Faust worker over the runtime: the body of ``wapipe run`` and of the demo."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable, Iterable

import faust
import structlog

from pipeline.app import WapipeApp, build_app
from pipeline.clock import Clock
from pipeline.runtime.embedded import announce_worker, runtime
from pipeline.runtime.gc_tuning import tune_gc
from pipeline.runtime.sandbox_process import SandboxProcess
from pipeline.settings import Settings

log = structlog.get_logger(__name__)

Driver = Callable[[WapipeApp], Awaitable[None]]
#: The roles that use ``WapipeApp.store`` (pipeline/sinks/clickhouse.py, runtime/sql_view.py).
STORE_ROLES = frozenset({"sink", "sql"})


def stop_worker() -> None:
    """Ask the worker of this process to shut down cleanly (the same path as Ctrl-C)."""
    signal.raise_signal(signal.SIGTERM)


def run_worker(
    settings: Settings,
    *,
    roles: Iterable[str] | None = None,
    driver: Driver | None = None,
    clock: Clock | None = None,
    configure: Callable[[WapipeApp], None] | None = None,
    sandbox: SandboxProcess | None = None,
) -> WapipeApp:
    """Start the runtime and a worker; block until it stops; tear everything down.

    ``driver``, if given, runs as a task once the worker is up (the demo's traffic, a
    benchmark's load) and stops the worker when it returns.
    """
    roles = tuple(roles) if roles is not None else None
    sends = roles is None or "sender" in roles
    # Only the sink and the SQL endpoint read or write the store; a worker without them
    # (a sender, an ingest or agent worker) skips opening chDB and its migrations.
    stores = roles is None or bool(STORE_ROLES & set(roles))
    with runtime(settings, sandbox=sandbox, sends=sends, with_store=stores) as rt:
        settings = rt.settings  # with the embedded parts' addresses filled in
        wapp = build_app(settings, bootstrap=rt.bootstrap, store=rt.store, roles=roles, clock=clock)
        wapp.extras["runtime"] = rt
        if configure is not None:
            configure(wapp)
        app = wapp.app

        announce_worker(settings, web_url=f"http://{settings.web_host}:{settings.web_port}")

        if driver is not None:

            @app.task
            async def drive() -> None:
                try:
                    await driver(wapp)
                finally:
                    stop_worker()

        # Tables are long-lived objects in their tens of thousands: keep the collector from
        # walking them every few hundred records (runtime/gc_tuning.py).
        tune_gc(settings.worker_gc_gen0)
        worker = faust.Worker(
            app,
            loglevel=settings.log_level.upper(),
            override_logging=False,
            quiet=True,
            redirect_stdouts=False,
        )
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise
        return wapp
