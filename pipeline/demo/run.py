"""The demo's phases, run as a task inside a real worker (all roles) on the embedded default.

    start      broker, chDB, worker (every role) and the sandbox with N simulated customers
    history    the sandbox POSTs every customer's past orders to /purchases
    tags       the engagement agent turns them into tags (freq:*, value:*, heat:*, ...)
    campaigns  one launch a simulated day; the sender sends within Meta's rules; customers
               read, reply (keywords answered automatically), opt out and buy
    report     every figure from ClickHouse queries over what flowed through Kafka

Both clocks (ours and the sandbox's) stand still until the first launch, then run at
``scenario.speed`` simulated seconds per real second.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.analytics.refresh import refresh_attribution
from pipeline.analytics.report import Report, build_report, render_html, render_terminal
from pipeline.app import WapipeApp
from pipeline.campaigns.spec import CampaignSpec
from pipeline.clock import SimulatedClock
from pipeline.demo.scenario import DAY_S, DemoScenario
from pipeline.logs import configure_logging
from pipeline.runtime.broker import free_port
from pipeline.runtime.sandbox_process import SandboxProcess
from pipeline.runtime.worker import run_worker
from pipeline.settings import Settings

POLL_S = 0.5
#: How much slower simulated time runs while a campaign is being sent.
SEND_SLOWDOWN = 60


@dataclass
class DemoOutcome:
    report: Report | None = None
    report_path: Path | None = None
    counts: dict[str, int] = field(default_factory=dict)
    phases_s: dict[str, float] = field(default_factory=dict)
    launched: list[str] = field(default_factory=list)


class DemoDriver:
    def __init__(
        self,
        wapp: WapipeApp,
        *,
        scenario: DemoScenario,
        sandbox_url: str,
        clock: SimulatedClock,
        progress: Progress,
        outcome: DemoOutcome,
        report_path: Path,
    ) -> None:
        self.wapp = wapp
        self.scenario = scenario
        self.sandbox_url = sandbox_url
        self.clock = clock
        self.progress = progress
        self.outcome = outcome
        self.report_path = report_path
        self.start_s = int(time.time())

    # -- helpers -------------------------------------------------------------------------
    async def scalar(self, sql: str) -> int:
        store = self.wapp.store
        if store is None:
            raise RuntimeError("the demo worker owns the store")
        result = await asyncio.get_running_loop().run_in_executor(None, store.query, sql)
        return int(result.scalar() or 0)

    async def until_stable(
        self,
        measure: Callable[[], Awaitable[int]],
        *,
        task: Any,
        total: int | None,
        quiet_s: float = 3.0,
        timeout_s: float = 60.0,
        floor: float = 0.0,
    ) -> int:
        """Poll ``measure`` until it reaches ``total``, or stops changing for ``quiet_s`` once
        past ``floor`` × ``total``."""
        started = time.monotonic()
        last, last_change = -1, time.monotonic()
        while True:
            value = await measure()
            self.progress.update(task, completed=value, total=total or max(value, 1))
            if value != last:
                last, last_change = value, time.monotonic()
            done = (
                (total is not None and value >= total)
                or (
                    value > 0
                    and value >= floor * (total or 0)
                    and time.monotonic() - last_change >= quiet_s
                )
                or time.monotonic() - started > timeout_s
            )
            if done:
                self.progress.update(task, total=max(value, 1), completed=value)
                self.progress.stop_task(task)
                return value
            await asyncio.sleep(POLL_S)

    async def sandbox(self, http: httpx.AsyncClient, path: str, **body: Any) -> Any:
        response = await http.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def phase(self, name: str, started: float) -> None:
        self.outcome.phases_s[name] = round(time.monotonic() - started, 1)

    # -- the phases ----------------------------------------------------------------------
    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.sandbox_url, timeout=60) as http:
            await self.sandbox(http, "/_sandbox/clock", set_s=self.start_s, speed=0)
            self.clock.anchor(start_ms=self.start_s * 1000, speed=0)
            await self.history(http)
            await self.tags()
            await self.sandbox(
                http, "/_sandbox/clock", set_s=self.start_s, speed=self.scenario.speed
            )
            self.clock.anchor(start_ms=self.start_s * 1000, speed=self.scenario.speed)
            await self.campaigns_and_days(http)
            await self.sandbox(http, "/_sandbox/clock", speed=0)
            await self.sandbox(http, "/_sandbox/settle")
            await self.drain()
        await self.report()

    async def history(self, http: httpx.AsyncClient) -> None:
        started = time.monotonic()
        task = self.progress.add_task("Purchase history → Kafka → ClickHouse", total=None)
        orders = int((await self.sandbox(http, "/_sandbox/history/publish"))["orders"])
        self.outcome.counts["history_orders"] = orders
        await self.until_stable(
            lambda: self.scalar("SELECT uniqExact(order_id) FROM purchases"),
            task=task,
            total=orders,
            quiet_s=5.0,
            timeout_s=90,
        )
        self.phase("history", started)

    async def tags(self) -> None:
        started = time.monotonic()
        task = self.progress.add_task("Engagement tags per customer", total=self.scenario.customers)
        await self.until_stable(
            lambda: self.scalar("SELECT uniqExact(customer) FROM tag_changes"),
            task=task,
            total=None,
            quiet_s=3.0,
            timeout_s=60,
        )
        self.phase("tags", started)

    async def campaigns_and_days(self, http: httpx.AsyncClient) -> None:
        from pipeline.agents.campaigns import launch_control, publish_control

        started = time.monotonic()
        end_s = self.start_s + self.scenario.days * DAY_S
        days = self.progress.add_task("Simulated days", total=self.scenario.days)
        for day, mapping in self.scenario.campaigns():
            await self.set_speed(http, self.scenario.speed)
            await self.sleep_until(self.start_s + day * DAY_S, days)
            # Sending takes real seconds; slow time meanwhile, so a campaign goes out within
            # minutes of its launch day as a real one would, not hours later.
            await self.set_speed(http, self.scenario.speed / SEND_SLOWDOWN)
            spec = CampaignSpec.from_mapping(mapping)
            control = launch_control(
                spec, event_id=f"demo-launch-{spec.id}", ts_ms=self.clock.now_ms()
            )
            await asyncio.get_running_loop().run_in_executor(
                None, publish_control, self.wapp.bootstrap, control
            )
            self.outcome.launched.append(spec.id)
            await self.sends(spec.id, days)
        await self.set_speed(http, self.scenario.speed)
        await self.sleep_until(end_s, days)
        self.phase("campaigns", started)

    async def set_speed(self, http: httpx.AsyncClient, speed: float) -> None:
        """Change both clocks' speed at the same simulated instant."""
        now_ms = self.clock.now_ms()
        await self.sandbox(http, "/_sandbox/clock", set_s=now_ms / 1000, speed=speed)
        self.clock.anchor(start_ms=now_ms, speed=speed)

    async def sleep_until(self, sim_s: float, days_task: Any) -> None:
        while self.clock.now_ms() / 1000 < sim_s:
            self.progress.update(days_task, completed=self.sim_days())
            await asyncio.sleep(POLL_S)
        self.progress.update(days_task, completed=self.sim_days())

    def sim_days(self) -> float:
        return round((self.clock.now_ms() / 1000 - self.start_s) / DAY_S, 2)

    async def expanded_commands(self, campaign_id: str, *, timeout_s: float = 180) -> int:
        """Commands the campaign expanded to, once every partition has expanded it (on a
        loaded machine the campaigns agent can take a minute to reach the launch)."""
        url = f"http://{self.wapp.settings.web_host}:{self.wapp.settings.web_port}"
        partitions = self.wapp.settings.kafka_partitions
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            while True:
                expansions = (await http.get("/campaigns/audience")).json()["expansions"]
                mine = [e for key, e in expansions.items() if key.startswith(f"{campaign_id}@")]
                if len(mine) >= partitions or time.monotonic() - started > timeout_s:
                    return sum(int(e["commands"]) for e in mine)
                await asyncio.sleep(POLL_S)

    async def sends(self, campaign_id: str, days_task: Any) -> None:
        started = time.monotonic()
        task = self.progress.add_task(f"Campaign {campaign_id}: sends", total=None)
        commands = await self.expanded_commands(campaign_id)
        self.outcome.counts[f"commands {campaign_id}"] = commands
        self.progress.update(task, total=max(commands, 1), completed=0)

        async def resolved() -> int:
            self.progress.update(days_task, completed=self.sim_days())
            return await self.scalar(
                "SELECT uniqExact(command_id) FROM outbound_messages "
                f"WHERE campaign_id = '{campaign_id}'"
            )

        # Commands Meta defers (131049: not before 24 h) resolve a day later, so wait for the
        # rest to settle rather than for every single one.
        await self.until_stable(
            resolved, task=task, total=commands, quiet_s=4.0, timeout_s=120, floor=0.85
        )
        self.phase(f"sends {campaign_id}", started)

    async def drain(self) -> None:
        started = time.monotonic()
        task = self.progress.add_task("Last webhooks and purchases", total=None)
        await self.until_stable(
            lambda: self.scalar(
                "SELECT (SELECT count() FROM message_status) + (SELECT count() FROM purchases)"
                " + (SELECT count() FROM inbound_messages)"
            ),
            task=task,
            total=None,
            quiet_s=3.0,
            timeout_s=30,
        )
        self.phase("drain", started)

    async def report(self) -> None:
        store = self.wapp.store
        if store is None:
            return
        loop = asyncio.get_running_loop()
        for table in ("purchases", "tag_changes", "outbound_messages", "inbound_messages"):
            self.outcome.counts[table] = await self.scalar(f"SELECT count() FROM {table} FINAL")
        # Attribute everything stored so far: the worker's periodic run may not have seen it.
        await loop.run_in_executor(None, refresh_attribution, store)
        report = await loop.run_in_executor(None, build_report, store)
        self.report_path.parent.mkdir(parents=True, exist_ok=True)
        self.report_path.write_text(render_html(report), "utf-8")
        # The same figures for machines (and for the test that checks them against SQL).
        self.report_path.with_suffix(".json").write_text(
            json.dumps(
                {**dataclasses.asdict(report), "counts": self.outcome.counts},
                default=str,
                ensure_ascii=False,
                indent=1,
            ),
            "utf-8",
        )
        self.outcome.report = report
        self.outcome.report_path = self.report_path


def demo_settings(settings: Settings) -> Settings:
    """The demo's own data directory, a free web port, and Meta's high-throughput tier."""
    port = settings.web_port
    try:
        from pipeline.runtime.broker import ensure_port_free

        ensure_port_free(port, settings.web_host, what="web", setting="WAPIPE_WEB_PORT")
    except Exception:
        port = free_port(settings.web_host)
    return settings.model_copy(
        update={
            "data_dir": settings.data_dir / "demo",
            "web_port": port,
            # A simulated hour passes each second: pace the sender like a large sender
            # (1,000/s, Meta's upgraded tier) so a day's campaign fits in seconds.
            "whatsapp_throughput_profile": "high",
            # The report attributes everything once at the end; meanwhile the periodic job
            # would only take CPU from the sender (no dashboard watches the demo).
            "attribution_refresh_seconds": 600.0,
        }
    )


def run_demo(settings: Settings, *, scenario: DemoScenario, console: Console) -> DemoOutcome:
    settings = demo_settings(settings)
    if settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)  # the demo's own directory: start from nothing
    log_path = settings.data_dir / "logs" / "worker.log"
    configure_logging(fmt="json", level=settings.log_level, log_file=log_path)
    outcome = DemoOutcome()
    web = f"http://{settings.web_host}:{settings.web_port}"
    sandbox = SandboxProcess(
        callback_url=f"{web}/webhooks/whatsapp",
        purchases_url=f"{web}/purchases",
        customers=scenario.customers,
        seed=scenario.seed,
        clock_speed=0,
        log_dir=settings.data_dir / "logs",
    )
    clock = SimulatedClock(start_ms=int(time.time()) * 1000, speed=0)
    report_path = settings.data_dir.parent / "report.html"
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    started = time.monotonic()

    async def driver(wapp: WapipeApp) -> None:
        url = sandbox.base_url
        with progress:
            await DemoDriver(
                wapp,
                scenario=scenario,
                sandbox_url=url,
                clock=clock,
                progress=progress,
                outcome=outcome,
                report_path=report_path,
            ).run()

    console.print(
        f"[bold]wapipe demo[/]: {scenario.customers:,} simulated customers, "
        f"{scenario.days:g} simulated days, on the embedded broker, chDB and sandbox"
    )
    run_worker(settings, driver=driver, clock=clock, sandbox=sandbox)
    outcome.phases_s["total"] = round(time.monotonic() - started, 1)
    console.print(
        "Phases (s): " + ", ".join(f"{name} {secs:g}" for name, secs in outcome.phases_s.items())
    )
    if outcome.report is not None:
        render_terminal(outcome.report, console)
        console.print(f"\nHTML report: [bold]{outcome.report_path}[/]")
    console.print(
        f"Finished in {outcome.phases_s['total']:.0f}s; broker, worker and sandbox stopped; "
        f"logs in {log_path}. "
        f"Explore the data: WAPIPE_DATA_DIR={settings.data_dir} .venv/bin/wapipe sql "
        '"SELECT campaign_id, outcome, count() FROM outbound_messages GROUP BY ALL"'
    )
    return outcome
