from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import Settings, env_name, load_settings


def test_defaults_select_the_embedded_parts() -> None:
    settings = load_settings()
    assert settings.embedded_broker and settings.embedded_store and settings.use_sandbox


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAPIPE_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("WAPIPE_KAFKA_PARTITIONS", "24")
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.kafka_partitions == 24
    assert not settings.embedded_broker


def test_empty_value_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAPIPE_CLICKHOUSE_URL", "")
    assert load_settings().embedded_store


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("WAPIPE_KAFKA_PARTITIONS", "zero"),
        ("WAPIPE_KAFKA_PARTITIONS", "0"),
        ("WAPIPE_WEB_PORT", "70000"),
        ("WAPIPE_LOG_FORMAT", "xml"),
        ("WAPIPE_SINK_BATCH_SECONDS", "-1"),
    ],
)
def test_a_bad_variable_is_named_in_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert var in message and "Fix the variable" in message
    assert "\n" not in message


def test_secret_values_never_appear_in_errors_or_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAPIPE_WHATSAPP_ACCESS_TOKEN", "EAAG-very-secret")
    settings = load_settings()
    assert "EAAG-very-secret" not in repr(settings)
    assert not settings.use_sandbox


def test_every_field_is_documented() -> None:
    undocumented = [n for n, f in Settings.model_fields.items() if not f.description]
    assert not undocumented, f"add a description= to these settings: {undocumented}"


def test_env_name() -> None:
    assert env_name("kafka_bootstrap_servers") == "WAPIPE_KAFKA_BOOTSTRAP_SERVERS"


def test_readme_configuration_table_matches_the_settings() -> None:
    from pathlib import Path

    from pipeline.settings import settings_markdown_table

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start, end = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"
    table = readme[readme.index(start) + len(start) : readme.index(end)]
    assert table == settings_markdown_table(), (
        "README.md's configuration table is out of date: regenerate it with "
        "`.venv/bin/python -m pipeline.settings` (it rewrites the table in place)"
    )
