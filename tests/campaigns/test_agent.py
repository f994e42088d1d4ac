"""The campaigns role through the real broker: a launch reaches every partition and each
partition expands the customers it owns into the commands the pure expansion predicts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from pipeline import topics
from pipeline.agents.campaigns import launch_control, publish_control
from pipeline.campaigns.audience import CampaignCustomer
from pipeline.campaigns.expansion import expand
from pipeline.campaigns.partitions import partition_for
from pipeline.events import InboundMessage, OutboundCommand, TagChange
from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS, EmbeddedBroker
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.schemas.codec import AvroEventCodec
from tests.campaigns.audiences import NOW_MS, kr, spec
from tests.support.workers import WorkerProcess

PARTITIONS = 4
CODEC = AvroEventCodec()
QUIET = {"log_level": 0}


@pytest.fixture
def fresh_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        ensure_topics(b.bootstrap_servers, topics.ALL_TOPICS, partitions=PARTITIONS, replication=1)
        yield b


def produce(bootstrap: str, records: list[tuple[topics.TopicSpec, str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, **CONFLUENT_PRODUCER_DEFAULTS, **QUIET})
    for spec_, key, event in records:
        producer.produce(spec_.name, key=key.encode(), value=CODEC.encode(event))
    assert producer.flush(15) == 0, "records not acknowledged by the broker"


def read_topic(bootstrap: str, spec_: topics.TopicSpec) -> list[tuple[int, Any]]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"r-{uuid.uuid4().hex}", **QUIET}
    )
    consumer.assign([TopicPartition(spec_.name, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    found: list[tuple[int, Any]] = []
    try:
        while True:
            batch = consumer.consume(500, timeout=1.0)
            if not batch:
                return found
            found += [(m.partition(), CODEC.decode(m.value())) for m in batch if not m.error()]
    finally:
        consumer.close()


def wait_for(what: str, check: Any, timeout_s: float = 150.0) -> Any:
    # Generous: under the full suite (3 workers on 2 cores) the worker start and the
    # expansion of every partition took over a minute once; the expectation is unchanged.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_launch_reaches_every_partition_and_expands_each_customer_once(
    fresh_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    bootstrap = fresh_broker.bootstrap_servers
    people = {
        kr(n): frozenset({"vip", "heat:hot"} if n % 3 else {"heat:cold"})
        | ({"dormant"} if n % 7 == 0 else frozenset())
        for n in range(1, 41)
    }
    assert len({partition_for(c, PARTITIONS) for c in people}) == PARTITIONS
    records: list[tuple[topics.TopicSpec, str, Any]] = [
        (
            topics.TAGS,
            customer,
            TagChange(
                event_id=f"{customer}-{tag}",
                customer=customer,
                tag=tag,
                change="added",
                reason="test",
                ts_ms=NOW_MS - 1000,
            ),
        )
        for customer, tags in people.items()
        for tag in sorted(tags)
    ]
    records += [
        (
            topics.INBOUND,
            customer,
            InboundMessage(
                event_id=f"in-{customer}",
                business_number_id="100",
                customer=customer,
                profile_name=f"Kim {customer[-2:]}",
                ts_ms=NOW_MS - 3 * 86_400_000,
            ),
        )
        for customer in people
    ]
    produce(bootstrap, records)

    worker = WorkerProcess(
        bootstrap=bootstrap,
        data_dir=tmp_path / "w",
        app_id=f"campaigns-{uuid.uuid4().hex[:8]}",
        roles="campaigns",
        env={"WAPIPE_LOG_LEVEL": "warning"},
        partitions=PARTITIONS,
    )
    try:
        worker.start()
        page = f"{worker.url}/campaigns/audience"
        wait_for(
            "the agent to fold every customer",
            lambda: httpx.get(page, timeout=2).json()["customers"] == len(people),
        )
        campaign = spec(segment="vip and not dormant", send_windows=[])
        control = launch_control(campaign, event_id="launch-1", ts_ms=NOW_MS)
        assert publish_control(bootstrap, control) == PARTITIONS

        launches = read_topic(bootstrap, topics.CAMPAIGNS)
        assert sorted(p for p, _ in launches) == list(range(PARTITIONS))

        expected = expand(
            campaign,
            [
                CampaignCustomer(customer=c, tags=t, profile_name=f"Kim {c[-2:]}")
                for c, t in people.items()
            ],
            NOW_MS,
        ).commands
        assert expected, "the test audience should produce commands"

        def commands() -> list[OutboundCommand]:
            found = [c for _, c in read_topic(bootstrap, topics.COMMANDS)]
            return found if len(found) >= len(expected) else []

        got = wait_for("the commands of every partition", commands)
        by_id = {c.command_id: c for c in got}
        assert len(got) == len(by_id), "a customer got two commands"
        assert sorted(by_id) == sorted(c.command_id for c in expected)
        for command in expected:
            assert by_id[command.command_id] == command
        assert {partition_for(c.customer, PARTITIONS) for c in got} == set(range(PARTITIONS))
        expansions = httpx.get(page, timeout=2).json()["expansions"]
        assert sorted(expansions) == [f"spring@{p}" for p in range(PARTITIONS)]
    finally:
        worker.kill()
