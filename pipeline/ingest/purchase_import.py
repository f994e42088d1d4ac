"""``wapipe import purchases FILE``: CSV or JSON lines onto ``commerce.purchases.v1``.

Valid rows are produced keyed by customer; invalid rows are reported with their line number
and sent to the dead-letter topic. Nothing is skipped silently and nothing is deduplicated
here: ``order_id`` is the idempotency key downstream, so importing a file twice adds nothing
new. Uses a plain confluent-kafka producer, since no Faust worker runs in the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from confluent_kafka import KafkaError, Producer

from pipeline import topics
from pipeline.clock import Clock, SystemClock
from pipeline.deadletter import make_dead_letter
from pipeline.errors import BrokerUnavailable, ConfigError
from pipeline.ingest.purchases import ParsedRow, RowError, parse_rows, read_rows
from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS
from pipeline.schemas.codec import AvroEventCodec
from pipeline.settings import Settings, env_name

log = structlog.get_logger(__name__)

SOURCE = "import"
FLUSH_TIMEOUT_S = 30.0


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)


def kafka_producer(settings: Settings) -> Producer:
    if settings.kafka_bootstrap_servers is None:
        raise ConfigError(
            "importing needs a broker: set "
            f"{env_name('kafka_bootstrap_servers')} to the broker of the running pipeline "
            "(the embedded broker lives only inside `wapipe run`)"
        )
    return Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "enable.idempotence": True,  # no duplicates from the producer's own retries
            "linger.ms": 5,
            "log_level": 0,
            # Same partition for a customer as Faust's producers (tests/broker).
            **CONFLUENT_PRODUCER_DEFAULTS,
        }
    )


def import_rows(
    rows: Iterable[ParsedRow],
    producer: Producer,
    *,
    codec: AvroEventCodec | None = None,
    clock: Clock | None = None,
    on_row: Callable[[ParsedRow], None] | None = None,
) -> ImportReport:
    """Produce every row (purchase or dead letter) and wait for all acks."""
    codec = codec or AvroEventCodec()
    clock = clock or SystemClock()
    report = ImportReport()
    failures: list[str] = []

    def delivered(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    for row in rows:
        if row.purchase is not None:
            topic, key = topics.PURCHASES.name, row.purchase.customer
            value = codec.encode(row.purchase)
            report.imported += 1
        elif row.error is not None:
            report.errors.append(row.error)
            letter = make_dead_letter(
                source=SOURCE,
                reason=f"line {row.error.line}: {row.error.reason}",
                raw=row.error.raw,
                ts_ms=clock.now_ms(),
            )
            topic, key, value = topics.DEADLETTER.name, SOURCE, codec.encode(letter)
        else:
            continue
        _produce(producer, topic, key.encode("utf-8"), value, delivered)
        if on_row is not None:
            on_row(row)
    remaining = producer.flush(FLUSH_TIMEOUT_S)
    if remaining or failures:
        raise BrokerUnavailable(
            f"{remaining} records not acknowledged and {len(failures)} refused by the broker "
            f"({failures[:1]}); nothing is lost by importing the file again (order_id is the "
            "idempotency key): check the broker and rerun"
        )
    return report


def _produce(producer: Producer, topic: str, key: bytes, value: bytes, callback: Any) -> None:
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=callback)
            return
        except BufferError:  # local queue full: let deliveries drain, then retry this record
            producer.poll(0.1)


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def import_purchase_file(
    path: Path,
    settings: Settings,
    *,
    producer: Producer | None = None,
    on_row: Callable[[ParsedRow], None] | None = None,
) -> ImportReport:
    rows = parse_rows(read_rows(path), default_region=settings.default_region, source=SOURCE)
    report = import_rows(rows, producer or kafka_producer(settings), on_row=on_row)
    log.info(
        "purchases.imported", file=path.name, imported=report.imported, invalid=len(report.errors)
    )
    return report
