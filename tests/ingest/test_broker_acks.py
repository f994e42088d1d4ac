"""The bulk produce path hands the producer the bytes Faust's serializers would have made."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from faust.serializers import codecs

from pipeline import topics
from pipeline.clock import SystemClock
from pipeline.events import InboundMessage
from pipeline.ingest.broker_acks import produce_acked
from pipeline.ingest.webhook_parser import Outgoing, parse_webhook
from pipeline.schemas.codec import AvroEventCodec, register_faust_codecs
from tests.ingest import meta_examples as meta


class RecordingProducer:
    """Stands in for the worker's Kafka producer: acks everything, remembers what it got."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, key: bytes, value: bytes, **_: Any) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack


class _FaustApp:
    def __init__(self, producer: RecordingProducer) -> None:
        self.producer = producer

    async def maybe_start_producer(self) -> RecordingProducer:
        return self.producer


@dataclasses.dataclass
class _Wapp:
    app: _FaustApp
    clock: SystemClock = dataclasses.field(default_factory=SystemClock)


def _records() -> list[Outgoing]:
    body = meta.body_of(
        meta.envelope(
            meta.messages_value(meta.text_message("wamid.a"), meta.text_message("wamid.b"))
        )
    )
    parsed = parse_webhook(body, received_ms=1_772_431_200_000)
    return list(parsed.outgoing())


async def test_bulk_path_sends_faust_serializer_bytes_for_every_record() -> None:
    register_faust_codecs()
    records = _records()
    producer = RecordingProducer()
    unencodable = await produce_acked(
        _Wapp(_FaustApp(producer)),  # type: ignore[arg-type]
        records,
        source="webhook",
        timeout_s=5,
    )
    assert unencodable == 0
    expected = [
        (
            r.topic.name,
            codecs.dumps("utf8", r.key),
            codecs.dumps("avro", r.event),
        )
        for r in records
    ]
    assert producer.sent == expected
    assert [AvroEventCodec().decode(v).event_id for _, _, v in producer.sent] == [
        "wamid.a",
        "wamid.b",
    ]


async def test_an_unencodable_record_becomes_a_dead_letter_and_the_rest_are_sent() -> None:
    good, other = _records()
    assert isinstance(other.event, InboundMessage)
    broken = Outgoing(
        other.topic, other.key, dataclasses.replace(other.event, ts_ms="not a number")
    )
    producer = RecordingProducer()
    unencodable = await produce_acked(
        _Wapp(_FaustApp(producer)),  # type: ignore[arg-type]
        [good, broken],
        source="webhook",
        timeout_s=5,
    )
    assert unencodable == 1
    assert [topic for topic, _, _ in producer.sent] == [topics.INBOUND.name, topics.DEADLETTER.name]
    letter = AvroEventCodec().decode(producer.sent[1][2])
    assert letter.source == "webhook"
    assert "cannot encode InboundMessage" in letter.reason
