"""The ``wapipe`` command line.

Every command reads settings once (a bad variable is one line, not a traceback), and every
expected failure (a :class:`WapipeError`) ends as one red line with what to do and exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from pipeline.errors import WapipeError
from pipeline.logs import configure_logging
from pipeline.settings import Settings, env_name, load_settings

cli = typer.Typer(
    name="wapipe",
    help="Event-sourced stream processing for WhatsApp Business marketing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # one error = one line, never wrapped

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WapipeError as exc:
            err_console.print(f"[bold red]wapipe:[/] {exc}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _settings() -> Settings:
    settings = load_settings()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    return settings


@cli.command()
@friendly_errors
def run(
    roles: Annotated[
        str | None, typer.Option(help="Comma-separated roles to run (default: all).")
    ] = None,
) -> None:
    """Run a worker: embedded broker and chDB unless configured otherwise."""
    from pipeline import event_loop
    from pipeline.runtime.worker import run_worker

    settings = _settings()
    event_loop.install_policy(settings.event_loop)  # before Faust creates its loop
    run_worker(settings, roles=roles.split(",") if roles else None)


@cli.command()
@friendly_errors
def demo(
    customers: Annotated[int, typer.Option(help="Simulated customers.")] = 5000,
    days: Annotated[float, typer.Option(help="Simulated days.")] = 2.5,
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second once campaigns run.")
    ] = 7200.0,
    seed: Annotated[int, typer.Option(help="The same seed gives the same customers.")] = 7,
) -> None:
    """The main job of `make run`: the whole system on simulated customers, then a report."""
    from pipeline.demo import DemoScenario, run_demo

    settings = load_settings()  # logging goes to a file: the progress bars own the terminal
    run_demo(
        settings,
        scenario=DemoScenario(customers=customers, days=days, speed=speed, seed=seed),
        console=console,
    )


@cli.command()
@friendly_errors
def sql(
    statement: Annotated[str, typer.Argument(help="A read-only SQL statement.")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Run read-only SQL: through the running worker if one owns chDB, directly otherwise."""
    from pipeline.runtime.sql_client import run_sql

    settings = _settings()
    result = run_sql(settings, statement)
    if fmt == "json":
        console.print_json(json.dumps(result.to_dicts(), default=str))
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    else:
        table = Table(*result.columns)
        for row in result.rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)


@cli.command()
@friendly_errors
def report(
    html: Annotated[
        Path | None, typer.Option(help="Also write a self-contained HTML report here.")
    ] = None,
) -> None:
    """Funnel, segment efficiency, LTV, provider cost and alarms, from ClickHouse."""
    from pipeline.analytics.report import build_report, render_html, render_terminal
    from pipeline.runtime.sql_client import reader

    settings = _settings()
    with reader(settings) as store:
        built = build_report(store)
    render_terminal(built, console)
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(built), "utf-8")
        console.print(f"HTML report: [bold]{html}[/]")


@cli.command()
@friendly_errors
def topics() -> None:
    """List wapipe's topics with end offsets and the worker group's lag."""
    from pipeline.runtime.kafka_admin import topic_offsets
    from pipeline.topics import ALL_TOPICS

    settings = _settings()
    if settings.kafka_bootstrap_servers is None:
        raise WapipeError(
            "no broker configured: the embedded broker lives only inside `wapipe run`; set "
            "WAPIPE_KAFKA_BOOTSTRAP_SERVERS to the broker to inspect"
        )
    rows = {
        o.topic: o
        for o in topic_offsets(
            settings.kafka_bootstrap_servers,
            [t.name for t in ALL_TOPICS],
            group_id=settings.app_id,
        )
    }
    table = Table("topic", "key", "partitions", "end offset", "lag", "what")
    for spec in ALL_TOPICS:
        o = rows.get(spec.name)
        table.add_row(
            spec.name,
            spec.key,
            str(o.partitions) if o else "-",
            str(o.end_offset) if o else "missing",
            "-" if o is None or o.lag is None else str(o.lag),
            spec.doc,
        )
    console.print(table)


@cli.command()
@friendly_errors
def sandbox(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind (0 picks a free one).")] = 8077,
    callback_url: Annotated[
        str | None, typer.Option(help="Where status and inbound webhooks are POSTed.")
    ] = None,
    purchases_url: Annotated[
        str | None, typer.Option(help="Where simulated purchases are POSTed.")
    ] = None,
    customers: Annotated[int, typer.Option(help="Simulated customers.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same traffic.")] = 7,
    clock_speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    publish_history: Annotated[
        bool, typer.Option(help="POST every customer's past orders at start.")
    ] = False,
) -> None:
    """Run the WhatsApp Cloud API sandbox with simulated customers (see docs/sandbox.md)."""
    from pipeline.sandbox import PopulationSpec, SandboxConfig
    from pipeline.sandbox.server import run_sandbox

    settings = _settings()
    config = SandboxConfig(
        app_secret=settings.whatsapp_app_secret.get_secret_value(),
        purchases_api_key=settings.purchases_api_key.get_secret_value(),
        callback_url=callback_url,
        purchases_url=purchases_url,
        host=host,
        port=port,
        seed=seed,
        clock_speed=clock_speed,
        population=PopulationSpec(size=customers),
    )
    err_console.print(f"sandbox on http://{host}:{port} ({customers} customers, seed {seed})")
    run_sandbox(config, publish_history=publish_history, loop=settings.event_loop)


@cli.command("settings")
def show_settings() -> None:
    """Print every setting: variable, current value (secrets hidden) and meaning."""
    current: Settings | None
    try:
        current = load_settings()
    except WapipeError as exc:
        err_console.print(f"[bold red]wapipe:[/] {exc}")
        current = None
    table = Table("variable", "value", "meaning")
    for name, info in Settings.model_fields.items():
        value = getattr(current, name) if current else info.default
        table.add_row(env_name(name), str(value), info.description or "")
    console.print(table)


import_cli = typer.Typer(help="Load data from files onto the pipeline's topics.")
cli.add_typer(import_cli, name="import")


@import_cli.command("purchases")
@friendly_errors
def import_purchases(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON lines (.jsonl).")
    ],
) -> None:
    """Import purchases; invalid rows are listed by line and dead-lettered, the rest sent."""
    from rich.progress import Progress

    from pipeline.ingest.purchase_import import count_lines, import_purchase_file

    settings = _settings()
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task(f"importing {file.name}", total=count_lines(file))
        report = import_purchase_file(file, settings, on_row=lambda _row: progress.advance(task))
    for error in report.errors:
        err_console.print(f"[yellow]line {error.line}:[/] {error.reason}")
    console.print(
        f"imported {report.imported} purchases; {len(report.errors)} invalid rows sent to "
        "pipeline.deadletter.v1"
    )


rules_cli = typer.Typer(help="Auto-reply rules (WAPIPE_AUTOREPLY_RULES_PATH).")
cli.add_typer(rules_cli, name="rules")


@rules_cli.command("test")
@friendly_errors
def rules_test(
    message: Annotated[str, typer.Argument(help="A customer message, as typed.")],
    file: Annotated[
        Path | None, typer.Option(help="Rules file (default: WAPIPE_AUTOREPLY_RULES_PATH).")
    ] = None,
) -> None:
    """Show which auto-reply rule a message would fire, and the reply."""
    from pipeline.agents.autoreply_rules import load_rules, normalise

    book = load_rules(file or _settings().autoreply_rules_path)
    verdict = book.decide(message)
    console.print(f"normalised: {normalise(message)!r}")
    if verdict is None:
        console.print("no rule fires")
        return
    reply = verdict.reply
    what = reply.text if reply.text is not None else f"template {reply.template_name}"
    consent = f" ({verdict.consent})" if verdict.consent else ""
    console.print(f"rule: {verdict.rule_id}{consent}")
    console.print(f"reply: {what}")


campaign_cli = typer.Typer(help="Campaigns to segments: launch, estimate, follow.")
cli.add_typer(campaign_cli, name="campaign")


@campaign_cli.command("launch")
@friendly_errors
def campaign_launch(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The campaign's YAML file.")],
) -> None:
    """Publish the campaign to every partition; each worker expands the customers it owns."""
    import uuid

    from pipeline.agents.campaigns import launch_control, publish_control
    from pipeline.campaigns.spec import load_spec
    from pipeline.clock import SystemClock
    from pipeline.errors import ConfigError

    settings = _settings()
    spec = load_spec(file)
    if settings.kafka_bootstrap_servers is None:
        raise ConfigError(
            "launching needs a broker: set "
            f"{env_name('kafka_bootstrap_servers')} to the broker of the running pipeline "
            "(the embedded broker lives only inside `wapipe run`)"
        )
    control = launch_control(spec, event_id=uuid.uuid4().hex, ts_ms=SystemClock().now_ms())
    partitions = publish_control(settings.kafka_bootstrap_servers, control)
    console.print(f"launched {spec.id} on {partitions} partitions of campaigns.control.v1")


@campaign_cli.command("estimate")
@friendly_errors
def campaign_estimate(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The campaign's YAML file.")],
    provider: Annotated[
        str | None, typer.Option(help="Your provider (twilio, messagebird, zenvia), marked.")
    ] = None,
) -> None:
    """Audience, cost and expected funnel from ClickHouse, without sending anything."""
    from pipeline.campaigns import history
    from pipeline.campaigns.estimate import estimate_campaign
    from pipeline.campaigns.spec import load_spec
    from pipeline.campaigns.views import render_estimate
    from pipeline.clock import SystemClock
    from pipeline.runtime.sql_client import run_sql

    settings = _settings()
    spec = load_spec(file)

    def run(statement: str) -> Any:
        return run_sql(settings, statement)

    estimate = estimate_campaign(
        spec,
        history.audience(run),
        SystemClock().now_ms(),
        funnel=history.similar_funnel(run, spec),
    )
    render_estimate(console, spec, estimate, provider=provider)


@campaign_cli.command("status")
@friendly_errors
def campaign_status(
    campaign_id: Annotated[str, typer.Argument(help="The campaign's id.")],
) -> None:
    """Commands created, outcomes by variant and the funnel so far, from ClickHouse."""
    from pipeline.campaigns.errors import CampaignError
    from pipeline.campaigns.history import campaign_status as read_status
    from pipeline.campaigns.views import render_status
    from pipeline.runtime.sql_client import run_sql

    settings = _settings()
    status = read_status(lambda statement: run_sql(settings, statement), campaign_id)
    if not status.known:
        raise CampaignError(
            f"no campaign {campaign_id!r} in ClickHouse yet: check the id, or wait for the "
            "sink to store the launch"
        )
    render_status(console, status)


#: Latest state of every alarm: firing first, then priority (high-value customers), newest.
ALARMS_SQL = """
SELECT alarm_id, a.1 AS kind, a.2 AS scope, a.3 AS state, a.4 AS priority, a.5 AS value,
       a.6 AS threshold, a.7 AS sample, a.8 AS detail, latest_ms
FROM (
    SELECT alarm_id,
           argMax(
               (CAST(kind AS String), scope, CAST(state AS String), priority, value,
                threshold, sample, detail),
               (ts_ms, state)
           ) AS a,
           max(ts_ms) AS latest_ms
    FROM alarms
    GROUP BY alarm_id
)
WHERE a.3 = 'firing' OR {include_resolved}
ORDER BY a.3 = 'firing' DESC, a.4 DESC, latest_ms DESC
LIMIT {limit}
"""


@cli.command()
@friendly_errors
def alarms(
    resolved: Annotated[bool, typer.Option(help="Also list resolved alarms.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
) -> None:
    """List alarms: firing first, high-value customers' first, newest first."""
    from pipeline.runtime.sql_client import run_sql

    settings = _settings()
    statement = ALARMS_SQL.format(include_resolved="1" if resolved else "0", limit=int(limit))
    result = run_sql(settings, statement)
    table = Table("state", "!", "kind", "scope", "value", "threshold", "sample", "since", "detail")
    for row in result.to_dicts():
        table.add_row(
            "[red]firing[/]" if row["state"] == "firing" else "resolved",
            "★" if row["priority"] else "",
            str(row["kind"]),
            str(row["scope"]),
            f"{row['value']:g}",
            f"{row['threshold']:g}",
            str(row["sample"]),
            _utc(int(row["latest_ms"])),
            str(row["detail"] or ""),
        )
    console.print(table)


def _utc(ts_ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


# pause and resume join the `wapipe campaign` group defined above (launch, estimate, status).


def _campaign_control(campaign_id: str, action: str, reason: str) -> None:
    import time
    import uuid

    from confluent_kafka import Producer

    from pipeline.events import CampaignControl
    from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS
    from pipeline.schemas.codec import AvroEventCodec
    from pipeline.topics import CAMPAIGNS

    settings = _settings()
    if settings.kafka_bootstrap_servers is None:
        raise WapipeError(
            "no broker configured: the embedded broker lives only inside `wapipe run`; set "
            "WAPIPE_KAFKA_BOOTSTRAP_SERVERS to the broker the sender reads"
        )
    control = CampaignControl(
        event_id=str(uuid.uuid4()),
        campaign_id=campaign_id,
        action=action,
        reason=reason,
        ts_ms=time.time_ns() // 1_000_000,
    )
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "log_level": 0,
            **CONFLUENT_PRODUCER_DEFAULTS,
        }
    )
    producer.produce(
        CAMPAIGNS.name, key=campaign_id.encode(), value=AvroEventCodec().encode(control)
    )
    if producer.flush(15):
        raise WapipeError(
            f"the broker did not acknowledge the {action} of campaign {campaign_id} in 15 s; "
            "check WAPIPE_KAFKA_BOOTSTRAP_SERVERS and retry"
        )
    console.print(f"campaign {campaign_id}: {action} sent to {CAMPAIGNS.name}")


@campaign_cli.command("pause")
@friendly_errors
def campaign_pause(
    campaign_id: Annotated[str, typer.Argument(help="The campaign to pause.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the event).")] = "paused by hand",
) -> None:
    """Pause a campaign: the sender skips its commands until it is resumed."""
    _campaign_control(campaign_id, "pause", reason)


@campaign_cli.command("resume")
@friendly_errors
def campaign_resume(
    campaign_id: Annotated[str, typer.Argument(help="The campaign to resume.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the event).")] = "resumed by hand",
) -> None:
    """Resume a paused campaign (also after a reply-rate alarm paused it)."""
    _campaign_control(campaign_id, "resume", reason)


def main() -> None:
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
