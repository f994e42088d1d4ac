"""The sandbox's HTTP face: Meta's send endpoint plus the admin endpoints, on aiohttp.

``SandboxServer`` runs in-process (tests, the embedded runtime) on a free loopback port;
``run_sandbox`` is what ``wapipe sandbox`` calls to serve until interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from aiohttp import web

from pipeline import event_loop
from pipeline.runtime.gc_tuning import tune_gc
from pipeline.sandbox.admin import WORLD_KEY, add_admin_routes
from pipeline.sandbox.clock import SandboxClock
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.templates import TemplateRegistry
from pipeline.sandbox.world import SandboxWorld

log = structlog.get_logger(__name__)


async def _send(request: web.Request) -> web.Response:
    received_unix_s = time.time()  # before the body is read: the request has arrived
    world = request.app[WORLD_KEY]
    raw = await request.read()
    status, body = world.handle_send(
        request.match_info["phone_number_id"],
        request.headers.get("Authorization"),
        raw,
        received_unix_s=received_unix_s,
    )
    return web.json_response(body, status=status)


def build_app(world: SandboxWorld) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[WORLD_KEY] = world
    app.router.add_post("/{version}/{phone_number_id}/messages", _send)
    add_admin_routes(app)
    return app


class SandboxServer:
    """``base_url = await SandboxServer(config).start()`` … ``await server.stop()``."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        clock: SandboxClock | None = None,
        templates: TemplateRegistry | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self.world = SandboxWorld(self.config, clock=clock, templates=templates)
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None

    @property
    def record(self):  # type: ignore[no-untyped-def]  # SandboxRecord, kept short for tests
        return self.world.record

    async def start(self) -> str:
        await self.world.start()
        self._runner = web.AppRunner(build_app(self.world), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        port = self.config.port
        for address in self._runner.addresses:  # the real port when port 0 was asked for
            port = address[1]
        self.base_url = f"http://{self.config.host}:{port}"
        log.info(
            "sandbox.started",
            base_url=self.base_url,
            seed=self.config.seed,
            customers=len(self.world.population),
            clock_speed=self.world.clock.speed,
            event_loop=event_loop.loop_name(asyncio.get_running_loop()),
        )
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.world.stop()

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def tune_gc_for_serving() -> None:
    """Keep the cyclic garbage collector off the send path of a standalone sandbox.

    The population (30,000 customers with histories in the benchmark) and the record are
    long-lived and only grow: measured 160 µs of collection per send with CPython's defaults,
    13 µs with :func:`~pipeline.runtime.gc_tuning.tune_gc`. Only for the standalone process:
    an in-process sandbox (tests) leaves its host's collector alone.
    """
    tune_gc()


async def serve_sandbox(config: SandboxConfig, *, publish_history: bool = False) -> None:
    """Serve until cancelled."""
    server = SandboxServer(config)
    await server.start()
    tune_gc_for_serving()
    if publish_history:
        server.world.publish_history()
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def run_sandbox(
    config: SandboxConfig | None = None,
    *,
    publish_history: bool = False,
    loop: str = "uvloop",
) -> None:
    """Blocking entry point for ``wapipe sandbox``: serve until Ctrl-C.

    ``loop`` is "uvloop" (when installed) or "asyncio": see pipeline/event_loop.py.
    """
    with contextlib.suppress(KeyboardInterrupt):
        event_loop.run(
            serve_sandbox(config or SandboxConfig(), publish_history=publish_history), choice=loop
        )
