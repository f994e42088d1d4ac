"""How long the worker's consumer lets the broker hold an empty fetch, as a setting.

Faust builds its aiokafka consumer with ``fetch_max_wait_ms=1500``, fixed. Kafka answers a
long-poll fetch as soon as data arrives, so on Kafka the wait costs nothing. Tansu (the
embedded broker) holds an empty fetch for the whole wait and does not wake it when a record
is produced: a record that lands during the wait is delivered when the wait ends. Measured here
(aiokafka, 4 partitions, one message every 130 ms): p50 per hop 395 ms at 1500, 132 ms at 500,
28 ms at 100, 10 ms at 10. A keyword reply crosses two hops (inbound → auto-reply → sender),
so this wait alone decided its latency (docs/autoreplies.md, "Latency").

A shorter wait means more fetch requests from an idle worker (one per wait per broker), a
cost the broker pays in CPU; ``WAPIPE_CONSUMER_FETCH_WAIT_MS`` chooses the trade.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

from pipeline.runtime.faust_end_offsets import (
    EndOffsetsConsumer,
    EndOffsetsConsumerThread,
    EndOffsetsTransport,
)
from pipeline.runtime.faust_owned_acks import OwnedAcksConsumer

FAUST_FETCH_WAIT_MS = 1500  # what Faust hard-codes: the baseline of bench/autoreply_latency.py


class FetchWaitConsumerThread(EndOffsetsConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this when start() builds its Fetcher, which comes after this call;
        # Faust offers no argument for it.
        consumer._fetch_max_wait_ms = cast(FetchWaitTransport, self.transport).fetch_wait_ms
        return consumer


class FetchWaitConsumer(OwnedAcksConsumer, EndOffsetsConsumer):  # owned acks: the sender
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)


class FetchWaitTransport(EndOffsetsTransport):
    """:class:`EndOffsetsTransport` whose worker consumer waits ``fetch_wait_ms`` at most."""

    Consumer: ClassVar[Any] = FetchWaitConsumer

    def __init__(self, *args: Any, fetch_wait_ms: int = FAUST_FETCH_WAIT_MS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_wait_ms = fetch_wait_ms
