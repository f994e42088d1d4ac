"""estimate and status from ClickHouse (chDB), and the CLI commands that print them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.analytics.queries import run_named
from pipeline.analytics.refresh import refresh_attribution
from pipeline.campaigns import history
from pipeline.campaigns.estimate import INDUSTRY_AVERAGES, estimate_campaign
from pipeline.campaigns.expansion import expand
from pipeline.events import (
    DeliveryReceipt,
    InboundMessage,
    Purchase,
    SendResult,
    TagChange,
)
from pipeline.policy.pricing import DEFAULT_PRICE_TABLE, PROVIDERS
from pipeline.runtime.store import Store, apply_migrations, events_to_arrow, open_store, table_for
from pipeline.settings import Settings
from tests.campaigns.audiences import HOUR_MS, KR_PRICE_MICROS, kr, spec, us

T0_MS = 1_767_571_200_000  # 2026-01-05 00:00 UTC
HISTORY = 120  # messages of the past campaign "old-spring", template spring_sale
DELIVERED, READ, REPLIED, CONVERTED = 100, 50, 10, 5


def _insert(store: Store, events: list[Any]) -> None:
    by_table: dict[str, list[Any]] = {}
    for event in events:
        by_table.setdefault(table_for(event), []).append(event)
    for table, batch in by_table.items():
        store.insert_arrow(table, events_to_arrow(batch))


def _tags(customer: str, *tags: str) -> list[TagChange]:
    return [
        TagChange(
            event_id=f"{customer}-{t}",
            customer=customer,
            tag=t,
            change="added",
            reason="x",
            ts_ms=T0_MS,
        )
        for t in tags
    ]


def _history() -> list[Any]:
    """A past campaign whose funnel is known: 120 sent, 100 delivered, 50 read, 10 replied,
    5 converted (purchases 1 h after delivery)."""
    events: list[Any] = []
    for n in range(HISTORY):
        customer, wamid, sent = us(n), f"wamid.old{n}", T0_MS - 10 * 24 * HOUR_MS + n * 1000
        events.append(
            SendResult(
                command_id=f"old-{n}",
                wamid=wamid,
                customer=customer,
                business_number_id="100",
                outcome="accepted",
                category="marketing",
                campaign_id="old-spring",
                template_name="spring_sale",
                origin="campaign",
                attempts=1,
                ts_ms=sent,
            )
        )
        statuses = (["delivered"] if n < DELIVERED else []) + (["read"] if n < READ else [])
        events += [
            DeliveryReceipt(
                event_id=f"{wamid}:{s}",
                wamid=wamid,
                business_number_id="100",
                customer=customer,
                status=s,
                ts_ms=sent + 1000,
            )
            for s in statuses
        ]
        if n < REPLIED:
            events.append(
                InboundMessage(
                    event_id=f"in-{n}",
                    business_number_id="100",
                    customer=customer,
                    text="yes",
                    ts_ms=sent + HOUR_MS,
                )
            )
        if n < CONVERTED:
            events.append(
                Purchase(
                    order_id=f"o-{n}",
                    customer=customer,
                    amount_minor=5000,
                    currency="USD",
                    ts_ms=sent + HOUR_MS,
                )
            )
    return events


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("campaign-store")
    store = open_store(Settings(data_dir=data_dir))
    try:
        apply_migrations(store)
        events = _history()
        events += _tags(kr(1), "vip", "heat:hot") + _tags(kr(2), "vip", "dormant")
        events += _tags(kr(3), "vip", "opted-out") + _tags(kr(4), "heat:cold")
        events += _tags(us(500), "vip")
        live = spec(id="live", send_windows=[])
        commands = expand(live, [history.CampaignCustomer(customer=kr(9))], T0_MS).commands
        events += list(commands)
        events += [
            SendResult(
                command_id=commands[0].command_id,
                wamid="wamid.live",
                customer=kr(9),
                business_number_id="100",
                outcome="accepted",
                category="marketing",
                campaign_id="live",
                template_name="spring_sale",
                origin="campaign",
                cost_micros=73_200,
                ts_ms=T0_MS + 1000,
            )
        ]
        _insert(store, events)
        refresh_attribution(store)  # the worker's attribution job: the funnel reads its facts
    finally:
        store.close()  # the CLI test's subprocess must be able to open it
    return data_dir


@pytest.fixture
def store(store_dir: Path) -> Iterator[Store]:
    opened = open_store(Settings(data_dir=store_dir), read_only=True)
    yield opened
    opened.close()


def test_inlined_named_queries_give_what_bound_parameters_give(store: Store) -> None:
    for grain in ("campaign", "template"):
        inlined = store.query(history.inline_named(history._named("funnel"), grain=grain))
        assert inlined.rows == run_named(store, "funnel", grain=grain).rows
    assert history.sql_literal("it's \\ odd", "String") == "'it\\'s \\\\ odd'"


def test_the_history_of_the_same_template_sets_the_funnel(store: Store) -> None:
    rates = history.similar_funnel(store.query, spec(segment="vip"))
    assert rates.sample_sent == HISTORY + 1  # old-spring and live share the template
    assert rates.delivery_rate == pytest.approx(DELIVERED / (HISTORY + 1))
    assert rates.read_rate == pytest.approx(READ / DELIVERED)
    assert rates.reply_rate == pytest.approx(REPLIED / DELIVERED)
    assert rates.conversion_rate == pytest.approx(CONVERTED / DELIVERED)
    assert "template spring_sale" in rates.basis


def test_same_category_is_the_fallback_then_the_industry_averages(store: Store) -> None:
    other_template = spec(template={"name": "brand_new", "language": "en_US"})
    rates = history.similar_funnel(store.query, other_template)
    assert "marketing campaign" in rates.basis
    assert rates.delivery_rate == pytest.approx(DELIVERED / (HISTORY + 1))
    utility = spec(category="utility", template={"name": "brand_new", "language": "en_US"})
    assert history.similar_funnel(store.query, utility) == INDUSTRY_AVERAGES


def test_estimate_counts_the_audience_policies_cost_and_funnel(store: Store) -> None:
    campaign = spec(segment="vip", send_windows=[])
    customers = history.audience(store.query)
    result = estimate_campaign(
        campaign, customers, T0_MS, funnel=history.similar_funnel(store.query, campaign)
    )
    assert result.audience == 4  # kr(1), kr(2), kr(3), us(500)
    assert result.messages == 2  # kr(3) opted out, kr(2) dormant
    assert result.skipped == {"opted-out": 1, "dormant": 1}
    list_cost = KR_PRICE_MICROS + DEFAULT_PRICE_TABLE.prices_for("US").marketing_micros
    assert result.list_cost_micros == list_cost
    assert result.meta_cost_micros == round(list_cost * result.funnel.delivery_rate)
    assert result.provider_fees_micros == {
        name: p.per_message_micros * 2 for name, p in PROVIDERS.items()
    }
    assert result.expected_delivered == round(2 * result.funnel.delivery_rate)


def test_status_reports_commands_outcomes_and_funnel(store: Store) -> None:
    status = history.campaign_status(store.query, "live")
    assert status.commands == 1
    assert [(o.outcome, o.messages, o.cost_micros) for o in status.outcomes] == [
        ("accepted", 1, 73_200)
    ]
    assert status.funnel is not None and status.funnel.sent == 1
    assert not history.campaign_status(store.query, "nope").known


def _cli(store_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAPIPE_")}
    env.update({"WAPIPE_DATA_DIR": str(store_dir), "COLUMNS": "160"})
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "campaign", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_estimate_and_status_print_from_clickhouse(store_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text(
        "id: next\nbusiness_number_id: '100'\ntemplate: {name: spring_sale}\nsegment: vip\n"
        "send_windows: []\n"
    )
    estimate = _cli(store_dir, "estimate", str(file), "--provider", "twilio")
    assert estimate.returncode == 0, estimate.stderr
    out = estimate.stdout
    assert "in the segment" in out and "left out: opted-out" in out
    assert "twilio per-message fees (current)" in out
    assert "history of template spring_sale" in out
    status = _cli(store_dir, "status", "live")
    assert status.returncode == 0, status.stderr
    assert "accepted" in status.stdout and "$0.07" in status.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: b\nbusiness_number_id: '1'\ntemplate: {name: t}\nsegment: vip and\n")
    refused = _cli(store_dir, "estimate", str(bad))
    assert refused.returncode == 2 and "position 7" in refused.stderr
