"""The WAPIPE_ block of .env.example, generated from pipeline.settings so it never drifts.

    python -m tests.deploy.env_example     # rewrite the block between the markers

Each setting gets its description as a comment and, below it, either a value production must
set (secrets) or the commented default. Settings docker-compose.yml decides itself (where
Kafka and ClickHouse are, the bind address) are listed with the value compose gives them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from pipeline.settings import Settings, env_name

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
START = "# --- generated from pipeline/settings.py (python -m tests.deploy.env_example) ---\n"
END = "# --- end of generated settings ---"

#: Production must change these: .env.example ships placeholders, never the dev defaults.
PRODUCTION_VALUES = {
    "whatsapp_app_secret": "change-me-app-secret",
    "whatsapp_verify_token": "change-me-verify-token",
    "purchases_api_key": "change-me-purchases-key",
}

#: docker-compose.yml sets these under `environment:`, which wins over .env.
SET_BY_COMPOSE = {
    "kafka_bootstrap_servers": "kafka:9092",
    "clickhouse_url": "http://wapipe:${CLICKHOUSE_PASSWORD}@clickhouse:8123/wapipe",
    "web_host": "0.0.0.0",
    "web_port": "8066",
    "data_dir": "/var/lib/wapipe",
    "log_format": "json",
}


def _default(value: object) -> str:
    if value is None or isinstance(value, SecretStr):
        return ""
    return str(value)


def settings_block() -> str:
    lines = []
    for name, info in Settings.model_fields.items():
        var = env_name(name)
        lines.append(f"# {info.description}")
        if name in PRODUCTION_VALUES:
            lines.append(f"{var}={PRODUCTION_VALUES[name]}")
        elif name in SET_BY_COMPOSE:
            lines.append(f"# (set by docker-compose.yml) {var}={SET_BY_COMPOSE[name]}")
        else:
            lines.append(f"# {var}={_default(info.default)}")
    return "\n".join(lines) + "\n"


def rendered(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + START + settings_block() + END + tail


if __name__ == "__main__":
    ENV_EXAMPLE.write_text(rendered(ENV_EXAMPLE.read_text("utf-8")), "utf-8")
