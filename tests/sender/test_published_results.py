"""After a crash the sender asks the results topic which commands already have their result."""

from __future__ import annotations

import time

from pipeline.events import SendResult
from pipeline.runtime.broker import EmbeddedBroker
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.sinks.published_results import PublishedResults
from pipeline.topics import RESULTS
from tests.sender.harness import produce_events


def result(command_id: str, customer: str) -> SendResult:
    return SendResult(
        command_id=command_id,
        wamid=f"wamid.{command_id}",
        customer=customer,
        business_number_id="106540352242922",
        outcome="accepted",
        ts_ms=int(time.time() * 1000),
    )


async def test_finds_results_on_every_partition_and_nothing_else(broker: EmbeddedBroker) -> None:
    ensure_topics(broker.bootstrap_servers, [RESULTS], partitions=4, replication=1)
    since_ms = int(time.time() * 1000)
    # Customers are the key: 40 of them spread the results over the 4 partitions.
    produced = [result(f"c{i}", f"8210000{i:04d}") for i in range(40)]
    produce_events(broker.bootstrap_servers, RESULTS, [(r.customer, r) for r in produced])
    lookup = PublishedResults(bootstrap=broker.bootstrap_servers)
    for r in produced:
        assert await lookup.published(r.command_id, since_ms=since_ms)
    assert not await lookup.published("never-sent", since_ms=since_ms)
