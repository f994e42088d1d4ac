"""Producer guarantees: idempotence and acks=all are accepted; transactions are not honoured.

Faust produces with acks=all (``producer_acks=-1``) and wapipe's importers enable
idempotence, so a retry after a lost acknowledgement never duplicates a record. Tansu 0.6.0
accepts transactional producers but shows aborted records to read_committed consumers, so
wapipe keeps Faust's at_least_once guarantee (docs/broker.md, "Transactions").
"""

from __future__ import annotations

from confluent_kafka import TopicPartition

from pipeline.app import faust_app
from pipeline.settings import Settings
from tests.broker.conftest import BrokerUnderTest
from tests.broker.kafka_io import QUIET, consumer, create_topic, drain, produce, read_partition


def test_idempotent_producer_with_acks_all_is_accepted(kafka: BrokerUnderTest, unique: str) -> None:
    topic = f"conf.idempotent.{unique}"
    assert create_topic(kafka.bootstrap, topic, partitions=3) is None
    sent = [(b"c%d" % (n % 17), b"%d" % n) for n in range(300)]
    delivered = produce(
        kafka.bootstrap,
        topic,
        sent,
        config={"enable.idempotence": True, "acks": "all", "max.in.flight": 5},
    )
    assert len(delivered) == len(sent), f"{len(delivered)} of {len(sent)} acknowledged"
    read = [r for p in range(3) for r in read_partition(kafka.bootstrap, topic, p)]
    assert sorted(r.value for r in read) == sorted(v for _k, v in sent), (
        f"idempotent producer: {len(sent)} sent, {len(read)} stored (duplicates or loss)"
    )


def test_faust_app_keeps_at_least_once_processing() -> None:
    # exactly_once needs transactions the broker honours; Tansu does not (see the next test).
    conf = faust_app(Settings(), bootstrap="127.0.0.1:9").conf
    assert conf.processing_guarantee.value == "at_least_once", (
        f"pipeline/app.py sets processing_guarantee={conf.processing_guarantee.value}: the "
        "embedded Tansu does not honour aborted transactions; keep at_least_once"
    )
    assert conf.producer_acks == -1, f"Faust producer acks={conf.producer_acks}, want all (-1)"


def test_tansu_shows_aborted_transactions_to_read_committed_consumers(
    kafka: BrokerUnderTest, unique: str, tansu_only: None
) -> None:
    # Pins the documented limitation. If this fails after a Tansu upgrade, transactions may
    # work now: update docs/broker.md before relying on them.
    from confluent_kafka import Producer

    topic = f"conf.tx.{unique}"
    assert create_topic(kafka.bootstrap, topic, partitions=1) is None
    producer = Producer(
        {"bootstrap.servers": kafka.bootstrap, "transactional.id": f"tx-{unique}", **QUIET}
    )
    producer.init_transactions(10)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"committed", partition=0)
    producer.commit_transaction(10)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"aborted", partition=0)
    producer.flush(10)
    producer.abort_transaction(10)

    reader = consumer(
        kafka.bootstrap, group=f"g.tx.{unique}", **{"isolation.level": "read_committed"}
    )
    try:
        reader.assign([TopicPartition(topic, 0, 0)])
        values = [r.value for r in drain(reader, at_least=1)]
    finally:
        reader.close()
    assert b"committed" in values, f"read_committed saw {values}"
    assert b"aborted" in values, (
        f"read_committed now hides aborted records ({values}): Tansu honours transactions"
    )
