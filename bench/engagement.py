"""Engagement agent throughput: Faust worker vs a plain confluent-kafka loop (the ceiling).

    .venv/bin/python bench/engagement.py --events 200000 [--baseline] [--profile]

1. Start an embedded broker (or use --bootstrap), create the topics, produce ``--events``
   mixed Avro events (purchases, inbound, receipts, send results, consent) for
   ``--customers`` customers, keyed and partitioned like production.
2. Ceiling: one confluent-kafka consumer reads them all, decodes, groups each batch by
   customer and folds it with the agent's pure policy (``decode_dict`` + ``fold_batch``)
   into a dict; with --baseline also with the per-event path (``decode`` + ``fold_events``).
3. Faust: one in-process worker with the ``engagement`` role reads the same topics from the
   start; events/s counts from the agent's first batch to its last, and "drained" also
   waits for the producer to flush what the agent wrote.
4. With --baseline, the same again with the agent as it was before the batch design (Avro
   values decoded by Faust per event, ``fold_events``, one ``table[key] =`` and one
   ``send_soon`` per TagChange), kept in this file as :func:`register_baseline`.

Prints the rates and, with --profile, the top of cProfile's own-time listing of the (new)
Faust run. Figures are recorded in docs/benchmarks.md under "Engagement".
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import multiprocessing
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faust
from confluent_kafka import Consumer, Producer, TopicPartition

from pipeline import topics
from pipeline.agents.batch_output import BatchOutput
from pipeline.agents.batches import event_batches, group_by_key
from pipeline.agents.engagement import (
    SOURCES,
    TABLE,
    EngagementStats,
    register,
    tag_change,
    tag_thresholds,
)
from pipeline.agents.state_codec import use_state_codec
from pipeline.app import WapipeApp
from pipeline.events import (
    ConsentChange,
    DeliveryReceipt,
    InboundMessage,
    Purchase,
    SendResult,
)
from pipeline.policy.tag_timeline import TaggedCustomer, fold_batch, fold_events
from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS, EmbeddedBroker, free_port
from pipeline.runtime.faust_fetch_batches import FetchBatchTopic, FetchedBatch, ack_fetched
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.schemas.codec import AvroEventCodec
from pipeline.settings import Settings
from pipeline.topics import ALL_TOPICS, CONSENT, INBOUND, PURCHASES, RESULTS, STATUS

T0 = 1_750_000_000_000
DAY_MS = 86_400_000


def make_event(i: int, rng: random.Random, customers: int) -> tuple[str, str, Any]:
    customer = f"8210{rng.randrange(customers):08d}"
    ts = T0 + i * 5_000  # 1M events span ~58 days of event time
    roll = rng.random()
    if roll < 0.2:
        return (
            PURCHASES.name,
            customer,
            Purchase(
                order_id=f"o{i}",
                customer=customer,
                amount_minor=rng.choice([9_000, 45_000, 150_000]),
                currency="KRW",
                ts_ms=ts,
            ),
        )
    if roll < 0.5:
        return (
            INBOUND.name,
            customer,
            InboundMessage(
                event_id=f"in{i}",
                business_number_id="15550001111",
                customer=customer,
                text="hi",
                ts_ms=ts,
            ),
        )
    if roll < 0.9:
        status = rng.choice(["sent", "delivered", "read"])
        return (
            STATUS.name,
            customer,
            DeliveryReceipt(
                event_id=f"w{i}.{status}",
                wamid=f"w{i}",
                business_number_id="15550001111",
                customer=customer,
                status=status,
                ts_ms=ts,
            ),
        )
    if roll < 0.97:
        return (
            RESULTS.name,
            customer,
            SendResult(
                command_id=f"c{i}",
                wamid=f"w{i}",
                customer=customer,
                business_number_id="15550001111",
                outcome="accepted",
                category="marketing",
                ts_ms=ts,
            ),
        )
    return (
        CONSENT.name,
        customer,
        ConsentChange(
            event_id=f"k{i}",
            customer=customer,
            business_number_id=None,
            consent=rng.choice(["opted_out", "opted_in"]),
            source="keyword",
            ts_ms=ts,
        ),
    )


def produce_events(bootstrap: str, n: int, customers: int) -> float:
    codec = AvroEventCodec()
    rng = random.Random(6)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 500_000,
            "log_level": 0,
            **CONFLUENT_PRODUCER_DEFAULTS,
        }
    )
    started = time.perf_counter()
    for i in range(n):
        topic, key, event = make_event(i, rng, customers)
        while True:
            try:
                producer.produce(topic, key=key.encode(), value=codec.encode(event))
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(120)
    return time.perf_counter() - started


def ceiling(
    bootstrap: str, n: int, partitions: int, *, batch_max: int, per_event: bool = False
) -> tuple[float, float]:
    """Plain confluent-kafka: consume up to ``batch_max`` records (the agent's batch bound),
    decode, group by customer, fold: (events/s, µs CPU per event)."""
    codec = AvroEventCodec()
    thresholds = tag_thresholds(Settings())
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-ceiling-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    consumer.assign(
        [TopicPartition(spec.name, p, 0) for spec in SOURCES for p in range(partitions)]
    )
    decode = codec.decode if per_event else codec.decode_dict
    fold = fold_events if per_event else fold_batch
    state: dict[str, TaggedCustomer] = {}
    seen = 0
    started = started_cpu = 0.0
    while seen < n:
        batch = consumer.consume(batch_max, timeout=1.0)
        if not batch:
            continue
        if not started:
            started, started_cpu = time.perf_counter(), time.process_time()
        groups: dict[str, list[Any]] = {}
        for msg in batch:
            groups.setdefault(msg.key().decode(), []).append(decode(msg.value()))
        for customer, values in groups.items():
            state[customer] = fold(state.get(customer) or TaggedCustomer(), values, thresholds)[0]
        seen += len(batch)
    took, took_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    consumer.close()
    return seen / took, took_cpu / seen * 1e6


def register_baseline(wapp: WapipeApp) -> None:
    """The engagement agent before the batch design (commit ebbad49), for --baseline.

    Faust decodes each value to an event object; each customer's events are folded with
    ``fold_events`` (a new frozen state per event); every changed customer is one
    ``table[key] = value`` (one changelog send) and every TagChange one ``send_soon``.
    """
    app, settings = wapp.app, wapp.settings
    thresholds = tag_thresholds(settings)
    customers = app.Table(
        TABLE, default=None, partitions=settings.kafka_partitions, use_partitioner=True
    )
    use_state_codec(customers)
    source = app.topic(
        *(spec.name for spec in SOURCES), key_serializer="utf8", value_serializer="avro"
    )
    tags_out = wapp.topic(topics.TAGS)
    stats = EngagementStats()
    wapp.extras["engagement_stats"] = stats

    @app.agent(source, name="engagement")
    async def fold_customer_events(stream: faust.StreamT[Any]) -> None:
        async for batch in event_batches(
            stream, max_events=settings.engagement_batch_max, within_s=settings.engagement_batch_s
        ):
            stats.events += len(batch)
            stats.batches += 1
            for customer, (_partition, values) in group_by_key(batch).items():
                before = customers.get(customer) or TaggedCustomer()
                after, deltas = fold_events(before, values, thresholds)
                if after is not before:
                    customers[customer] = after
                    stats.writes += 1
                    stats.changes += len(deltas)
                    for timed in deltas:
                        tags_out.send_soon(key=customer, value=tag_change(customer, timed))


def register_bare(wapp: WapipeApp) -> None:
    """Faust's floor (--bare): the same raw-bytes ``take_events`` batches, counted, no work."""
    app, settings = wapp.app, wapp.settings
    source = app.topic(
        *(spec.name for spec in SOURCES), key_serializer="utf8", value_serializer="raw"
    )
    stats = EngagementStats()
    wapp.extras["engagement_stats"] = stats

    @app.agent(source, name="engagement")
    async def count_events(stream: faust.StreamT[Any]) -> None:
        async for batch in event_batches(
            stream, max_events=settings.engagement_batch_max, within_s=settings.engagement_batch_s
        ):
            stats.events += len(batch)
            stats.batches += 1


def register_counter(wapp: WapipeApp) -> None:
    """--quix's like-for-like partner of Quix's counter app: a count per customer in a table
    with its changelog, written the way the engagement agent writes (whole fetches, one value
    per key per batch through ``BatchOutput``, acknowledged after the flush)."""
    app, settings = wapp.app, wapp.settings
    counts = app.Table(
        "bench-counts", default=None, partitions=settings.kafka_partitions, use_partitioner=True
    )
    use_state_codec(counts)
    source = FetchBatchTopic(
        app, topics=[spec.name for spec in SOURCES], max_records=settings.engagement_batch_max
    )
    output = BatchOutput(app, partitions=settings.kafka_partitions)
    stats = EngagementStats()
    wapp.extras["engagement_stats"] = stats

    @app.agent(source, name="engagement")
    async def count_per_customer(stream: faust.StreamT[FetchedBatch]) -> None:
        async for batch in stream:
            stats.events += len(batch)
            stats.batches += 1
            seen: dict[bytes, tuple[int, int]] = {}
            for tp, records in batch.parts:
                for record in records:
                    n, _ = seen.get(record.key, (0, tp.partition))
                    seen[record.key] = (n + 1, tp.partition)
            data = counts.data
            for raw, (n, partition) in seen.items():
                key = raw.decode()
                output.put(counts, key, (data.get(key) or 0) + n, partition=partition)
            stats.writes += len(seen)
            await output.flush()
            ack_fetched(app, batch)


def install_eager_drain() -> None:
    """--eager-drain, a measurement only: Faust's consumer loop without its per-record
    ``wait_first(callback(message), suspend_flow.wait())`` (two tasks and an asyncio.wait
    per record), to size that part of Faust's floor. Not safe in production: it drops the
    suspension on rebalance and the gap tracking of acked topics; the bench has neither."""
    from faust.transport import consumer as faust_consumer

    async def _drain_messages(self: Any, fetcher: Any) -> None:
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        while not (self._stopped.is_set() or fetcher._stopped.is_set()):
            records = self.getmany(timeout=1.0)
            await self.sleep(0)
            if self.should_stop:
                continue
            since_yield = 0
            async for tp, message in records:
                since_yield += 1
                if since_yield > 100:
                    await asyncio.sleep(0)
                    since_yield = 0
                offset = message.offset
                read = get_read_offset(tp)
                if read is None or offset >= read:
                    await self.callback(message)
                    set_read_offset(tp, offset)

    faust_consumer.Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]


#: The agents a Faust run can measure: kind → (the name its figures are printed under, the
#: registration). "after" is the engagement role's own module; the others live here.
AGENTS: dict[str, tuple[str, Callable[[WapipeApp], None]]] = {
    "after": ("faust", register),
    "before": ("faust baseline", register_baseline),
    "bare": ("faust bare", register_bare),
    "counter": ("faust counter", register_counter),
}


def faust_run(
    bootstrap: str,
    n: int,
    partitions: int,
    *,
    kind: str,
    profile: bool,
    batch_max: int,
    eager_drain: bool = False,
    batch_s: float,
    conf: dict[str, int],
) -> tuple[float, float, Any]:
    """One in-process worker from the start of the topics, running the agent of ``kind``
    (a key of :data:`AGENTS`): (events/s, drained events/s)."""
    from pipeline.runtime.worker import run_worker

    if eager_drain:
        install_eager_drain()

    name, register_agent = AGENTS[kind]
    data_dir = Path(tempfile.mkdtemp(prefix="bench-engagement-"))
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        kafka_partitions=partitions,
        data_dir=data_dir,
        app_id=f"bench-engagement-{kind}-{os.getpid()}",
        web_port=free_port(),
        log_level="warning",
        engagement_sweep_s=3600,
        engagement_batch_max=batch_max,
        engagement_batch_s=batch_s,
    )
    timing: dict[str, float] = {}

    async def drive(wapp: WapipeApp) -> None:
        stats: EngagementStats = wapp.extras["engagement_stats"]
        deadline = time.monotonic() + 1800
        while stats.events < n and time.monotonic() < deadline:
            if stats.events and "first" not in timing:
                timing["first"], timing["first_events"] = time.perf_counter(), stats.events
                timing["first_cpu"] = time.process_time()
            await asyncio.sleep(0.01)
        timing["last"] = time.perf_counter()
        timing["last_cpu"] = time.process_time()
        timing["main_cpu"] = time.thread_time()
        if os.environ.get("BENCH_THREADS"):
            for task in sorted(Path("/proc/self/task").iterdir()):
                stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
                name = (task / "comm").read_text().strip()
                print(f"thread {task.name} {name}: {(int(stat[11]) + int(stat[12])) / 100:.1f} s")
        await wapp.app.producer.flush()  # what the agent wrote is with the broker
        timing["drained"] = time.perf_counter()
        timing["events"] = stats.events
        timing["writes"] = stats.writes
        timing["changes"] = stats.changes
        timing["batches"] = stats.batches

    def configure(wapp: WapipeApp) -> None:
        for name, value in conf.items():  # Faust settings to try (--conf), before start
            setattr(wapp.app.conf, name, value)
        register_agent(wapp)

    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    run_worker(settings, roles=[], driver=drive, configure=configure)
    if profiler:
        profiler.disable()
    counted = timing["events"] - timing["first_events"]
    rate = counted / (timing["last"] - timing["first"])
    drained = counted / (timing["drained"] - timing["first"])
    # CPU seconds of this process per event: less sensitive than wall time to other
    # engineers' load on the shared 2 cores.
    cpu_us = (timing["last_cpu"] - timing["first_cpu"]) / counted * 1e6
    print(f"{name}: {cpu_us:,.0f} µs CPU per event")
    print(
        f"{name}: {timing['events']:,.0f} events in "
        f"{timing['batches']:,.0f} batches, {timing['writes']:,.0f} table writes, "
        f"{timing['changes']:,.0f} tag changes"
    )
    return rate, drained, profiler


def _child(out: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    rate, drained, profiler = faust_run(*args, **kwargs)
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    sys.stdout.flush()
    out.put((rate, drained))


def faust_in_child(*args: Any, **kwargs: Any) -> tuple[float, float]:
    """:func:`faust_run` in a fresh process: a Faust worker runs once per process."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_child, args=(out, args, kwargs))
    child.start()
    result: tuple[float, float] = out.get(timeout=3600)
    child.join(60)
    return result


def quix_run(python: str, bootstrap: str, n: int, mode: str) -> dict[str, Any]:
    """bench/quix_engagement.py in ``python`` (an interpreter with Quix Streams): its result."""
    script = Path(__file__).with_name("quix_engagement.py")
    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run(
        [python, str(script), bootstrap, str(n), mode],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "PYTHONPATH": root},
        check=False,
    )
    last = done.stdout.strip().splitlines()[-1:] or [""]
    if done.returncode != 0 or not last[0].startswith("{"):
        raise SystemExit(f"quix_engagement.py {mode} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(last[0])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--batch-max",
        type=int,
        default=Settings().engagement_batch_max,
        help="engagement_batch_max (default: the setting's)",
    )
    parser.add_argument("--batch-s", type=float, default=0.2, help="engagement_batch_s")
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="NAME=INT",
        help="a Faust setting for both runs, e.g. stream_buffer_maxsize=20000 (repeatable)",
    )
    parser.add_argument("--bootstrap", help="an existing broker (default: embedded Tansu)")
    parser.add_argument(
        "--baseline", action="store_true", help="also run the per-event agent and fold"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the Faust run")
    parser.add_argument(
        "--bare", action="store_true", help="also run a Faust agent that only counts (the floor)"
    )
    parser.add_argument(
        "--eager-drain",
        action="store_true",
        help="measurement only: Faust's consumer loop without its per-record wait_first",
    )
    parser.add_argument(
        "--quix",
        metavar="PYTHON",
        help="also run bench/quix_engagement.py (fold and count) with this interpreter, "
        "one that has Quix Streams (docs/benchmarks.md, 'Against Quix Streams')",
    )
    args = parser.parse_args()

    broker = None if args.bootstrap else EmbeddedBroker().__enter__()
    bootstrap = args.bootstrap or broker.bootstrap_servers  # type: ignore[union-attr]

    def load() -> str:
        return f"load {os.getloadavg()[0]:.1f}"

    conf = {name: int(value) for name, value in (c.split("=", 1) for c in args.conf)}
    try:
        ensure_topics(bootstrap, ALL_TOPICS, partitions=args.partitions, replication=1)
        took = produce_events(bootstrap, args.events, args.customers)
        print(f"produced {args.events:,} events in {took:.1f}s; {load()}")
        if args.baseline:
            old, old_cpu = ceiling(
                bootstrap, args.events, args.partitions, batch_max=args.batch_max, per_event=True
            )
            print(
                f"ceiling before (confluent-kafka loop, fold_events): {old:,.0f} events/s, "
                f"{old_cpu:,.0f} µs CPU per event; {load()}"
            )
        ceiling_rate, ceiling_cpu = ceiling(
            bootstrap, args.events, args.partitions, batch_max=args.batch_max
        )
        print(
            f"ceiling (confluent-kafka loop, same fold): {ceiling_rate:,.0f} events/s, "
            f"{ceiling_cpu:,.0f} µs CPU per event; {load()}"
        )
        runs = ["before"] if args.baseline else []
        runs += ["bare"] if args.bare else []
        runs += ["after"]
        runs += ["counter"] if args.quix else []
        for kind in runs:
            rate, drained = faust_in_child(
                bootstrap,
                args.events,
                args.partitions,
                kind=kind,
                profile=args.profile and kind == "after",
                batch_max=args.batch_max,
                batch_s=args.batch_s,
                conf=conf,
                eager_drain=args.eager_drain,
            )
            label = {
                "before": "engagement agent before",
                "bare": "bare Faust agent, counting only",
                "after": "engagement agent",
                "counter": "a counter per customer, the engagement agent's way",
            }[kind]
            if args.eager_drain:
                label += " [eager drain, measurement only]"
            print(
                f"{label} (Faust, one worker): {rate:,.0f} events/s; "
                f"drained {drained:,.0f} events/s; {load()}"
            )
        for mode in ("fold", "count") if args.quix else ():
            quix = quix_run(args.quix, bootstrap, args.events, mode)
            what = "the same fold" if mode == "fold" else "a counter per customer"
            print(
                f"Quix Streams ({what}, RocksDB state with changelog): {quix['rate']:,.0f} "
                f"events/s, {quix['cpu_us']:,.0f} µs CPU per event; {load()}"
            )
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
