"""Topics: wapipe creates every topic at start-up with AdminClient and trusts Metadata."""

from __future__ import annotations

from confluent_kafka import KafkaError

from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.topics import TopicSpec
from tests.broker.conftest import BrokerUnderTest
from tests.broker.kafka_io import admin, create_topic, partition_count


def test_created_topic_reports_its_partitions_in_metadata(
    kafka: BrokerUnderTest, unique: str
) -> None:
    for partitions in (1, 4, 12):
        name = f"conf.topics.{partitions}.{unique}"
        error = create_topic(kafka.bootstrap, name, partitions=partitions)
        assert error is None, f"CreateTopics({name}, {partitions} partitions) failed: {error}"
        reported = partition_count(kafka.bootstrap, name)
        assert reported == partitions, (
            f"Metadata reports {reported} partitions for {name}, created with {partitions}: "
            "Faust and the importers would route keys to the wrong partitions"
        )


def test_creating_an_existing_topic_answers_topic_already_exists(
    kafka: BrokerUnderTest, unique: str
) -> None:
    name = f"conf.topics.again.{unique}"
    assert create_topic(kafka.bootstrap, name, partitions=3) is None
    again = create_topic(kafka.bootstrap, name, partitions=3)
    assert again is not None and again.code() == KafkaError.TOPIC_ALREADY_EXISTS, (
        f"re-creating {name} answered {again!r}, not TOPIC_ALREADY_EXISTS: "
        "ensure_topics treats only that code as the idempotent outcome"
    )
    assert partition_count(kafka.bootstrap, name) == 3, "re-creation changed the topic"


def test_ensure_topics_is_idempotent_against_the_broker(
    kafka: BrokerUnderTest, unique: str
) -> None:
    specs = [
        TopicSpec(f"conf.ensure.events.{unique}", bytes, "customer"),
        TopicSpec(f"conf.ensure.state.{unique}", bytes, "customer", compacted=True),
    ]
    first = ensure_topics(kafka.bootstrap, specs, partitions=2, replication=1)
    second = ensure_topics(kafka.bootstrap, specs, partitions=2, replication=1)
    assert sorted(first) == sorted(s.name for s in specs), f"first start created {first}"
    assert second == [], f"second start created {second} again"
    for spec in specs:
        assert partition_count(kafka.bootstrap, spec.name) == 2


def test_compacted_topic_config_is_accepted_and_described(
    kafka: BrokerUnderTest, unique: str
) -> None:
    # wapipe declares its state topics with cleanup.policy=compact. The broker must accept the
    # config; whether it compacts is documented in docs/broker.md (Tansu keeps every record).
    from confluent_kafka.admin import ConfigResource

    name = f"conf.topics.compact.{unique}"
    error = create_topic(kafka.bootstrap, name, partitions=1, config={"cleanup.policy": "compact"})
    assert error is None, f"cleanup.policy=compact refused: {error}"
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    client = admin(kafka.bootstrap)
    described = client.describe_configs([resource])[resource].result(10)
    assert described["cleanup.policy"].value == "compact", (
        f"DescribeConfigs says cleanup.policy={described['cleanup.policy'].value!r}"
    )
