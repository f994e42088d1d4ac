"""`wapipe import purchases FILE` against the real broker: valid rows produced, invalid rows
reported by line and dead-lettered, and a re-import adds nothing new (same order_ids)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import topics
from pipeline.cli import cli
from pipeline.runtime.broker import EmbeddedBroker
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.topics import ALL_TOPICS
from tests.ingest.broker_reading import read_topic

pytestmark = pytest.mark.broker

CSV = """order_id,phone,amount,currency,ts
csv-1,010-1234-5678,12000,KRW,2026-03-01T10:00:00+09:00
csv-2,010-1234-5678,12.5,KRW,2026-03-01T10:00:00+09:00
csv-3,+16502530000,19.99,USD,2026-03-01T01:00:00Z
csv-4,+16502530000,5,USD,2026-03-01T01:00:00
"""
JSONL = "\n".join(
    json.dumps(row)
    for row in (
        {
            "order_id": "jl-1",
            "phone": "+447911123456",
            "amount": "1.234",
            "currency": "BHD",
            "ts": "2026-03-01T01:00:00Z",
        },
        {"order_id": "jl-2", "phone": "+447911123456", "amount": "3", "currency": "GBP"},
    )
)


@pytest.fixture(scope="module")
def bootstrap(broker: EmbeddedBroker) -> str:
    ensure_topics(broker.bootstrap_servers, ALL_TOPICS, partitions=2, replication=1)
    return broker.bootstrap_servers


def run_import(path: Path, bootstrap: str | None) -> tuple[int, str, str]:
    env = {"WAPIPE_KAFKA_BOOTSTRAP_SERVERS": bootstrap} if bootstrap else {}
    result = CliRunner().invoke(cli, ["import", "purchases", str(path)], env=env)
    return result.exit_code, result.stdout, result.stderr


def purchases_by_order(bootstrap: str, expected: int) -> dict[str, list[tuple[str, object]]]:
    seen = read_topic(bootstrap, topics.PURCHASES.name, until=lambda s: len(s) >= expected)
    by_order: dict[str, list[tuple[str, object]]] = {}
    for key, event in seen:
        by_order.setdefault(event.order_id, []).append((key, event))
    return by_order


def test_csv_import_and_reimport(bootstrap: str, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    code, out, err = run_import(path, bootstrap)
    assert code == 0, err
    assert "imported 2 purchases; 2 invalid rows" in out
    assert "line 3:" in err and "more decimals than KRW" in err
    assert "line 5:" in err and "no zone" in err

    by_order = purchases_by_order(bootstrap, expected=2)
    assert set(by_order) == {"csv-1", "csv-3"}
    assert by_order["csv-1"][0][0] == "821012345678"
    assert by_order["csv-3"][0][1].amount_minor == 1999

    letters = read_topic(
        bootstrap,
        topics.DEADLETTER.name,
        until=lambda s: sum(e.source == "import" for _k, e in s) >= 2,
    )
    reasons = sorted(e.reason for _k, e in letters if e.source == "import")
    assert [r.split(":")[0] for r in reasons] == ["line 3", "line 5"]

    code, out, _err = run_import(path, bootstrap)
    assert code == 0 and "imported 2 purchases" in out
    again = purchases_by_order(bootstrap, expected=4)
    # The same records again: order_id is the idempotency key, so nothing new downstream.
    assert set(again) == {"csv-1", "csv-3"}
    assert all(len({e for _k, e in copies}) == 1 for copies in again.values())


def test_json_lines_import(bootstrap: str, tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_text(JSONL)
    code, out, err = run_import(path, bootstrap)
    assert code == 0, err
    assert "imported 1 purchases; 1 invalid rows" in out and "line 2:" in err
    seen = read_topic(
        bootstrap, topics.PURCHASES.name, until=lambda s: any(e.order_id == "jl-1" for _k, e in s)
    )
    bhd = next(e for _k, e in seen if e.order_id == "jl-1")
    assert (bhd.amount_minor, bhd.currency, bhd.source) == (1234, "BHD", "import")


def test_import_without_a_broker_says_what_to_set(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    code, _out, err = run_import(path, None)
    assert code == 2 and "WAPIPE_KAFKA_BOOTSTRAP_SERVERS" in err
