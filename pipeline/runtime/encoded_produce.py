"""Records encoded here and handed straight to the worker's Kafka producer.

``Topic.send`` builds a ``FutureMessage`` and a ``PendingMessage``, looks up the codecs,
calls the sensors and goes through Faust's channel machinery for every record. Measured in
issue 5's auto-reply benchmark (py-spy of the worker at 150 replies/s on a quiet machine),
Faust's ``Topic.send`` was ~12% of the event loop's CPU, five records per reply: the sender's
in-flight and done marks, its SendResult, the reply command and the cooldown. The ingest
endpoints already skip it (pipeline/ingest/broker_acks.py); the sender and the auto-reply agent
do too through :class:`EncodedProducer`. Same producer, same partitioner (murmur2), same
bytes: Avro values as Faust's ``avro`` serializer writes them, keys as UTF-8.

``send`` returns the broker's acknowledgement to await, like ``Topic.send``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import faust

from pipeline.schemas.codec import AvroEventCodec


class EncodedProducer:
    def __init__(self, app: faust.App, codec: AvroEventCodec | None = None) -> None:
        self.app = app
        self.codec = codec or AvroEventCodec()

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, *, partition: int | None = None
    ) -> Awaitable[Any]:
        """Send encoded bytes; ``partition`` None lets the producer's partitioner choose."""
        producer = await self.app.maybe_start_producer()
        ack: Awaitable[Any] = await producer.send(
            topic, key, value, partition=partition, timestamp=None, headers=None
        )
        return ack

    async def send_event(
        self, topic: str, key: str, event: Any, *, partition: int | None = None
    ) -> Awaitable[Any]:
        """Send an event record (pipeline.events) Avro-encoded under a UTF-8 key."""
        return await self.send(
            topic, key.encode("utf-8"), self.codec.encode(event), partition=partition
        )


__all__ = ["EncodedProducer"]
