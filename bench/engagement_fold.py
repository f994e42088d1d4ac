"""The engagement agent's own work per batch, without a broker: µs of CPU per event.

    .venv/bin/python bench/engagement_fold.py [--events 300000] [--customers 15000]
        [--batch-max 20000] [--rounds 6] [--compare-init]

The bench's mixed events (bench/engagement.py's ``make_event``) are Avro-encoded once, then
each pass does what the agent does to a fetch: ``decode_by_key`` with the fold's projection,
``fold_batch`` per customer into a dict standing for the table, the table value's
``state-json`` bytes and each TagChange's Avro bytes, with the collector paused as in the
agent. No Kafka, no Faust: its figure moves only with this code (and the VM's speed).

``--compare-init`` builds the frozen values with the generated dataclass ``__init__``
(``object.__setattr__`` per field) and with ``fast_init`` (pipeline/policy/frozen_init.py) by
turns, batch by batch, in one process: the VM's speed drifts by ±15% within minutes, so an
A/B between two processes, or even between two passes, could not resolve a few percent.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faust.types import TP

from bench.engagement import make_event
from pipeline.agents.batches import decode_by_key
from pipeline.agents.engagement import partition_of, tag_change_fields, tag_thresholds
from pipeline.agents.state_codec import StateJsonCodec
from pipeline.events import TagChange
from pipeline.policy.customer_batch import FOLDED_FIELDS
from pipeline.policy.customer_state import CurrencyTotal, CustomerState, PurchaseRecord
from pipeline.policy.tag_timeline import TaggedCustomer, TimedDelta, fold_batch
from pipeline.policy.tags import TagDelta
from pipeline.runtime.faust_fetch_batches import FetchedBatch
from pipeline.runtime.gc_tuning import GC_GEN0_THRESHOLD, collector_paused
from pipeline.schemas.codec import AvroEventCodec
from pipeline.settings import Settings

FAST_INIT_CLASSES = (CustomerState, CurrencyTotal, PurchaseRecord, TaggedCustomer, TimedDelta)
FAST_INIT_CLASSES += (TagDelta,)


class FetchedRecord:
    """What the agent reads of an aiokafka record."""

    __slots__ = ("key", "offset", "value")

    def __init__(self, key: bytes, value: bytes, offset: int) -> None:
        self.key, self.value, self.offset = key, value, offset


def fetched_records(events: int, customers: int) -> list[tuple[TP, FetchedRecord]]:
    codec = AvroEventCodec()
    rng = random.Random(6)
    out = []
    for i in range(events):
        topic, key, event = make_event(i, rng, customers)
        tp = TP(topic, partition_of(key, 4))
        out.append((tp, FetchedRecord(key.encode(), codec.encode(event), i)))
    return out


def one_pass(
    records: list[tuple[TP, FetchedRecord]],
    batch_max: int,
    variants: dict[str, dict[type, Callable[..., None]]],
) -> dict[str, float]:
    """Fold every record in batches of ``batch_max``, the variants taking turns batch by
    batch (each installs its ``__init__``s); µs of CPU per event of each variant."""
    codec = AvroEventCodec()
    folded = codec.projection(FOLDED_FIELDS)
    tag_schema = codec.registry.current(TagChange.__name__)
    thresholds = tag_thresholds(Settings())
    state_codec = StateJsonCodec()
    table: dict[str, TaggedCustomer] = {}
    names = list(variants)
    spent = dict.fromkeys(names, 0.0)
    events = dict.fromkeys(names, 0)
    for number, start in enumerate(range(0, len(records), batch_max)):
        name = names[number % len(names)]
        for cls, init in variants[name].items():
            cls.__init__ = init  # type: ignore[misc]
        parts: dict[TP, list[FetchedRecord]] = {}
        chunk = records[start : start + batch_max]
        for tp, record in chunk:
            parts.setdefault(tp, []).append(record)
        batch = FetchedBatch(generation_id=1, parts=list(parts.items()))
        out: list[bytes] = []
        started = time.process_time()
        with collector_paused():
            for customer, (_, group) in decode_by_key(batch, folded).items():
                before = table.get(customer) or TaggedCustomer()
                after, deltas = fold_batch(before, group, thresholds)
                if after is not before:
                    table[customer] = after
                    out.append(state_codec.dumps(after))
                    for timed in deltas:
                        fields = tag_change_fields(customer, timed)
                        out.append(codec.encode_dict(tag_schema, fields))
        spent[name] += time.process_time() - started
        events[name] += len(chunk)
    table.clear()
    gc.collect()
    return {name: spent[name] / events[name] * 1e6 for name in names}


def generated_inits() -> dict[type, Callable[..., None]]:
    """The ``__init__`` dataclasses generated for the frozen classes (``object.__setattr__``
    per field), which ``fast_init`` keeps as its ``__wrapped__``."""
    return {cls: cls.__init__.__wrapped__ for cls in FAST_INIT_CLASSES}  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--customers", type=int, default=15_000)
    parser.add_argument("--batch-max", type=int, default=Settings().engagement_batch_max)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--compare-init",
        action="store_true",
        help="alternate passes with the generated frozen __init__ and with fast_init",
    )
    args = parser.parse_args()
    if args.compare_init and args.events <= args.batch_max:
        parser.error("--compare-init takes turns batch by batch: --events must exceed --batch-max")
    records = fetched_records(args.events, args.customers)
    gc.collect()
    gc.freeze()  # as a worker does at start-up (pipeline/runtime/gc_tuning.py)
    gc.set_threshold(GC_GEN0_THRESHOLD, 10, 10)
    fast = {cls: cls.__init__ for cls in FAST_INIT_CLASSES}
    variants: dict[str, dict[type, Callable[..., None]]] = {"fast_init": fast}
    if args.compare_init:
        variants = {"generated __init__": generated_inits(), **variants}
    figures: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(args.rounds):
        # Batch by batch the variants take turns, first one then the other each round.
        order = names if round_ % 2 == 0 else names[::-1]
        for name, figure in one_pass(
            records, args.batch_max, {n: variants[n] for n in order}
        ).items():
            figures[name].append(figure)
    for cls, init in fast.items():
        cls.__init__ = init  # type: ignore[misc]
    print(
        f"{args.events:,} events, {args.customers:,} customers, batches of {args.batch_max:,}, "
        f"{args.rounds} rounds"
    )
    for name, values in figures.items():
        runs = " ".join(f"{v:.1f}" for v in values)
        print(f"{name}: median {statistics.median(values):.1f} µs CPU per event ({runs})")
    if args.compare_init:
        before, after = (figures[name] for name in names)
        paired = [100 * (a - b) / b for a, b in zip(after, before, strict=True)]
        print(
            f"fast_init against the generated __init__, per round: "
            f"{' '.join(f'{d:+.1f}%' for d in paired)}; median {statistics.median(paired):+.1f}%"
        )


if __name__ == "__main__":
    main()
