"""All configuration, read once from the environment (prefix ``WAPIPE_``).

Every field documents itself; ``wapipe settings`` prints the table and the README's
configuration table is checked against this module by a test. Code below the CLI never reads
``os.environ``: it receives a :class:`Settings` (or one of the small frozen views it hands out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.errors import ConfigError

ENV_PREFIX = "WAPIPE_"


class Settings(BaseSettings):
    """wapipe's settings. Environment variable = ``WAPIPE_`` + the field name in capitals."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=None,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    # --- runtime -----------------------------------------------------------------------------
    app_id: str = Field("wapipe", description="Faust app id: consumer group and table prefix.")
    data_dir: Path = Field(Path("var"), description="Where embedded state lives (chDB, tables).")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="Log lines: JSON when not on a terminal, readable on one (auto)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest log level written."
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop",
        description="Event loop of `wapipe run` and `wapipe sandbox`: uvloop (if installed) or "
        "asyncio.",
    )
    worker_gc_gen0: int = Field(
        50_000,
        ge=0,
        description="Young-generation threshold of the cyclic garbage collector in `wapipe run` "
        "workers, which also freeze what exists at start-up (pipeline/runtime/gc_tuning.py); "
        "0 keeps CPython's defaults.",
    )
    web_host: str = Field("127.0.0.1", description="Address the worker's web server binds.")
    web_port: int = Field(
        8066, ge=1, le=65535, description="Worker web server port (webhooks, /metrics, SQL)."
    )

    # --- Kafka -------------------------------------------------------------------------------
    kafka_bootstrap_servers: str | None = Field(
        None,
        description="host:port[,host:port]. Unset: start the embedded Tansu broker on loopback.",
    )
    kafka_partitions: int = Field(12, ge=1, le=1000, description="Partitions per topic.")
    kafka_replication: int = Field(1, ge=1, le=10, description="Replication factor of topics.")
    broker_port: int = Field(
        0, ge=0, le=65535, description="Embedded broker port; 0 picks a free loopback port."
    )
    consumer_fetch_wait_ms: int = Field(
        50,
        ge=1,
        le=10_000,
        description="Longest wait of a worker's empty fetch (Faust's own: 1500). Tansu holds "
        "it to the end, so each agent hop adds up to this much latency; lower costs idle CPU.",
    )

    # --- ClickHouse --------------------------------------------------------------------------
    clickhouse_url: str | None = Field(
        None,
        description="http(s)://user:password@host:port/database. Unset: embedded chDB.",
    )
    sink_batch_size: int = Field(
        20_000, ge=1, le=1_000_000, description="Rows per ClickHouse insert, at most."
    )
    sink_batch_seconds: float = Field(
        1.0, gt=0, le=300, description="Longest wait before a partial batch is inserted."
    )
    attribution_refresh_seconds: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="Seconds between runs of the job that re-attributes changed customers "
        "(funnel, ROI and segment queries read its facts).",
    )

    # --- WhatsApp ----------------------------------------------------------------------------
    whatsapp_access_token: SecretStr | None = Field(
        None, description="Cloud API token. Unset: send to the built-in sandbox."
    )
    whatsapp_api_base_url: str = Field(
        "https://graph.facebook.com", description="Cloud API base URL (the sandbox's when unset)."
    )
    whatsapp_api_version: str = Field("v24.0", description="Graph API version in send URLs.")
    whatsapp_app_secret: SecretStr = Field(
        SecretStr("wapipe-dev-app-secret"),
        description="App secret: HMAC key of X-Hub-Signature-256 on webhooks.",
    )
    whatsapp_verify_token: SecretStr = Field(
        SecretStr("wapipe-dev-verify-token"),
        description="Token Meta echoes in the webhook verification GET.",
    )
    webhook_max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest webhook body accepted (Meta sends ≤3 MB)."
    )
    purchases_api_key: SecretStr = Field(
        SecretStr("wapipe-dev-purchases-key"),
        description="Bearer key for POST /purchases.",
    )
    default_region: str = Field(
        "KR", min_length=2, max_length=2, description="Region for phone numbers without +."
    )
    sandbox_port: int = Field(
        0, ge=0, le=65535, description="Embedded sandbox port; 0 picks a free loopback port."
    )
    ingest_ack_timeout_s: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Longest wait for broker acks before a webhook/purchase POST answers 503.",
    )
    ingest_produce: Literal["bulk", "faust"] = Field(
        "bulk",
        description="How ingest produces a POST's records: bulk (straight to the Kafka producer, "
        "acks awaited together) or faust (topic.send each; the earlier path, for benchmarks).",
    )

    # --- sender and auto-replies -------------------------------------------------------------
    whatsapp_throughput_profile: str = Field(
        "default",
        description="Send rate per business number: default (80/s), warmup (30/min), "
        "shared-app (20/s) or high (1000/s).",
    )
    whatsapp_rate_per_s: int | None = Field(
        None, ge=1, le=10_000, description="Messages per second per number; overrides the profile."
    )
    whatsapp_rate_guard_ms: int = Field(
        20, ge=0, le=1000, description="Added to the 1 s rate window to absorb network jitter."
    )
    whatsapp_http_connections: int = Field(
        64,
        ge=1,
        le=1000,
        description="Pooled HTTP connections of the sender to the Cloud API; over HTTP/1.1 also "
        "the sends in flight at once (keep it above the summed rate × round trip).",
    )
    whatsapp_send_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Timeout of one send request to the Cloud API."
    )
    sender_crash_evidence_wait_s: float = Field(
        10.0,
        ge=0,
        le=600,
        description="After a crash, how long an in-flight command waits for a status webhook.",
    )
    sender_ledger_retention_hours: float = Field(
        192.0,
        ge=0,
        description="How long the sender remembers a finished command id (its done mark) before "
        "forgetting it; a copy redelivered later is sent again. Keep it longer than the commands "
        "topic's retention (Kafka's default: 7 days). 0 keeps them forever.",
    )
    autoreply_rules_path: Path = Field(
        Path("infra/autoreply/rules.yaml"),
        description="Auto-reply rules (YAML); re-read when the file changes or on SIGHUP.",
    )

    # --- engagement, alarms (issue 6) ---------------------------------------------------------
    tag_hot_days: int = Field(7, ge=0, description="heat:hot = last interaction within N days.")
    tag_warm_days: int = Field(30, ge=0, description="heat:warm = last interaction within N days.")
    tag_dormant_days: int = Field(90, ge=0, description="dormant = no interaction for N days.")
    tag_frequency_days: int = Field(90, ge=1, description="Window of freq:* purchase counts.")
    tag_monthly_min_purchases: int = Field(
        3, ge=2, description="freq:monthly = at least N purchases in the frequency window."
    )
    tag_value_bands: str = Field(
        "KRW:100000:30000,USD:10000:3000,EUR:10000:3000",
        description="value:high/mid average order per currency, minor units: CUR:high:mid,...",
    )
    engagement_sweep_s: float = Field(
        60.0, gt=0, description="Seconds between sweeps that apply time-driven tag and SLA changes."
    )
    engagement_batch_max: int = Field(
        20_000,
        ge=1,
        le=100_000,
        description="Events an engagement agent folds per batch, at most (a customer's events "
        "in one batch are judged once: larger batches, less work per event).",
    )
    engagement_batch_s: float = Field(
        0.2, gt=0, le=10, description="Longest wait before an agent folds a partial batch."
    )
    rate_window_hours: float = Field(
        24.0, gt=0, description="Sliding window of the reply-rate and delivery-rate alarms."
    )
    rate_min_sample: int = Field(
        100, ge=1, description="Delivered (or sent) messages a rate alarm needs to fire."
    )
    reply_rate_alarm_below: float = Field(
        0.05, ge=0, le=1, description="Reply-rate alarm fires below this rate (spam signal)."
    )
    reply_rate_resolve_at: float = Field(
        0.06, ge=0, le=1, description="A firing reply-rate alarm resolves at this rate or above."
    )
    delivery_rate_alarm_below: float = Field(
        0.85, ge=0, le=1, description="Delivery-rate alarm fires below this rate (throttling)."
    )
    delivery_rate_resolve_at: float = Field(
        0.88, ge=0, le=1, description="A firing delivery-rate alarm resolves at this rate or above."
    )
    judge_lateness_s: float = Field(
        300.0,
        ge=0,
        description="Event-time lag before rate windows and SLAs are judged: late events count.",
    )
    sla_unanswered_hours: float = Field(
        2.0, gt=0, description="A customer waiting this long for a business reply raises an alarm."
    )

    @field_validator("kafka_bootstrap_servers", "clickhouse_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # docker-compose passes `VAR=` for unset values; treat it as "use the embedded part".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_bootstrap_servers is None

    @property
    def embedded_store(self) -> bool:
        return self.clickhouse_url is None

    @property
    def use_sandbox(self) -> bool:
        return self.whatsapp_access_token is None


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    return ENV_PREFIX + field.upper()


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise :class:`ConfigError` naming the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "?"
            problems.append(f"{env_name(field)}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError(
            "invalid configuration: " + "; ".join(problems) + ". Fix the variable and retry."
        ) from None


def settings_markdown_table() -> str:
    """The README's configuration table, generated so it can never drift from the code."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = info.default
        shown = "(dev value)" if isinstance(default, SecretStr) else default
        rows.append(f"| `{env_name(name)}` | `{shown}` | {info.description} |")
    return "\n".join(rows) + "\n"


def rewrite_readme_table(readme: Path) -> None:
    """Replace the table between the README's settings-table markers."""
    start, end = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"
    text = readme.read_text("utf-8")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + start + settings_markdown_table() + end + tail, "utf-8")


if __name__ == "__main__":  # `python -m pipeline.settings` regenerates the README's table
    rewrite_readme_table(Path("README.md"))
