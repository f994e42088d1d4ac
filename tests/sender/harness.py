"""Real parts for the sender's integration tests: a sandbox on its own thread, a worker
process, and plain Kafka clients to put commands in and read results and consent out."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any, TypeVar

import httpx
from confluent_kafka import Consumer, Producer

from pipeline import event_loop
from pipeline.events import OutboundCommand
from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS
from pipeline.sandbox import SandboxConfig, SandboxServer
from pipeline.sandbox.record import RequestRecord
from pipeline.schemas.codec import AvroEventCodec
from pipeline.topics import COMMANDS, TopicSpec

T = TypeVar("T")
NUMBER_ID = "106540352242922"
SANDBOX_TOKEN = "wapipe-sandbox-token"
QUIET = {"log_level": 0}


def _serve(config: SandboxConfig, ready: Any, stop: Any) -> None:
    async def main() -> None:
        server = SandboxServer(config)
        ready.put(await server.start())
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await server.stop()

    event_loop.run(main())  # the loop `wapipe sandbox` runs on (uvloop), as beside a worker


class SandboxProcess:
    """The sandbox in its own process, as beside a real pipeline: its clock stamps arrivals
    without sharing a GIL with the test's Kafka clients, so the record's timing is the
    sandbox's, not the test's. Records and admin go through the sandbox's HTTP endpoints."""

    def __init__(self, config: SandboxConfig) -> None:
        ctx = mp.get_context("spawn")
        self._ready = ctx.Queue()
        self._stop = ctx.Event()
        self._proc = ctx.Process(target=_serve, args=(config, self._ready, self._stop))
        self._proc.start()
        self.base_url: str = self._ready.get(timeout=60)
        self._http = httpx.Client(base_url=self.base_url, timeout=60)

    def requests(self, **filters: Any) -> list[SimpleNamespace]:
        out = self.requests_since(0)
        for name, value in filters.items():
            out = [r for r in out if getattr(r, name) == value]
        return out

    def requests_since(self, seq: int) -> list[SimpleNamespace]:
        """The requests recorded from ``seq`` on (a poller's cursor: the last seq + 1)."""
        params: dict[str, Any] = {"only": "requests", "since_seq": seq, "limit": 10_000_000}
        body = self._http.get("/_sandbox/record", params=params).json()
        return [SimpleNamespace(**r) for r in body["requests"]]

    def customer(self, wa_id: str, **state: bool) -> None:
        response = httpx.post(f"{self.base_url}/_sandbox/customers/{wa_id}", json=state)
        response.raise_for_status()

    def stop(self) -> None:
        self._http.close()
        self._stop.set()
        self._proc.join(20)


class RequestTail:
    """The sandbox's requests as they arrive: each :meth:`poll` fetches only those recorded
    since the last, so polling in a loop costs the sandbox what is new, not its whole record
    (which competes for the CPU with the worker under test)."""

    def __init__(self, sandbox: SandboxProcess) -> None:
        self._sandbox = sandbox
        self._next_seq = 0
        self.seen: list[SimpleNamespace] = []

    def poll(self) -> list[SimpleNamespace]:
        new = self._sandbox.requests_since(self._next_seq)
        if new:
            self._next_seq = new[-1].seq + 1
            self.seen.extend(new)
        return new


class SandboxThread:
    """A :class:`SandboxServer` serving from a background event loop."""

    def __init__(self, config: SandboxConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server = SandboxServer(config)
        self.base_url: str = self.call(self.server.start())

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=30)

    def run(self, fn: Callable[[], T]) -> T:
        async def wrapped() -> T:
            return fn()

        return self.call(wrapped())

    @property
    def world(self) -> Any:
        return self.server.world

    def requests(self, **filters: Any) -> list[RequestRecord]:
        return self.run(lambda: self.server.record.requests(**filters))

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def command(
    customer: str,
    *,
    kind: str = "template",
    category: str = "utility",
    body: str | None = None,
    template_name: str | None = "order_shipped",
    template_language: str | None = "en_US",
    template_params: tuple[str, ...] = ("Mina", "A-1"),
    **fields: Any,
) -> OutboundCommand:
    if kind == "text":
        template_name, template_language, template_params = None, None, ()
        body = body or "hello"
    values: dict[str, Any] = {
        "command_id": fields.pop("command_id", uuid.uuid4().hex),
        "customer": customer,
        "business_number_id": fields.pop("business_number_id", NUMBER_ID),
        "kind": kind,
        "body": body,
        "template_name": template_name,
        "template_language": template_language,
        "template_params": template_params,
        "category": category,
        "created_ms": int(time.time() * 1000),
    }
    values.update(fields)
    return OutboundCommand(**values)


def produce_commands(bootstrap: str, commands: Iterable[OutboundCommand]) -> None:
    codec = AvroEventCodec()
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, **CONFLUENT_PRODUCER_DEFAULTS, **QUIET}
    )
    for c in commands:
        producer.produce(COMMANDS.name, key=c.business_number_id.encode(), value=codec.encode(c))
        producer.poll(0)
    if producer.flush(30) != 0:
        raise TimeoutError("commands were not all acknowledged by the broker in 30 s")


def produce_events(bootstrap: str, spec: TopicSpec, events: Iterable[tuple[str, Any]]) -> None:
    codec = AvroEventCodec()
    producer = Producer({"bootstrap.servers": bootstrap, **CONFLUENT_PRODUCER_DEFAULTS, **QUIET})
    for key, event in events:
        producer.produce(spec.name, key=key.encode(), value=codec.encode(event))
    if producer.flush(30) != 0:
        raise TimeoutError(f"{spec.name}: records not acknowledged in 30 s")


class TopicReader:
    """Reads a topic from the beginning (own group) and keeps every decoded record."""

    def __init__(self, bootstrap: str, spec: TopicSpec) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"test-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                **QUIET,
            }
        )
        self._consumer.subscribe([spec.name])
        self._codec = AvroEventCodec()
        self.events: list[Any] = []

    def poll(self, timeout_s: float = 0.2) -> None:
        for message in self._consumer.consume(10_000, timeout=timeout_s):
            if message.error() is None and message.value() is not None:
                self.events.append(self._codec.decode(message.value()))

    def wait_for(self, done: Callable[[list[Any]], bool], *, timeout_s: float) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.poll()
            if done(self.events):
                return self.events
        raise TimeoutError(f"condition not met in {timeout_s}s; have {len(self.events)} records")

    def close(self) -> None:
        self._consumer.close()


def worker_env(base_url: str, **extra: str) -> dict[str, str]:
    return {"WAPIPE_WHATSAPP_API_BASE_URL": base_url, **extra}
