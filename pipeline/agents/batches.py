"""Batches of events from a Faust stream: the agents' unit of work (issue 6's benchmark).

Faust spends tens of microseconds on each event's path through the stream; the agents make
everything after that per batch: one table read and write per key per batch, one fold, one
judgement. ``take_events`` keeps each event (key, partition) and acks the whole batch after
the loop body, so a crash redelivers the batch (at-least-once, and the folds are idempotent).

An agent that reads whole fetches (a :class:`~pipeline.runtime.faust_fetch_batches.FetchBatchTopic`)
decodes each at once with :func:`decode_by_key`: Avro straight to ``(record name, fields)``,
no event object.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import faust
import structlog
from faust.types import EventT

from pipeline.errors import SchemaError
from pipeline.policy.customer_batch import EventRecord
from pipeline.runtime.faust_fetch_batches import FetchedBatch
from pipeline.schemas.codec import AvroEventCodec, Projection

log = structlog.get_logger(__name__)


def event_batches(
    stream: faust.StreamT[Any], *, max_events: int, within_s: float
) -> AsyncIterator[Sequence[EventT]]:
    # StreamT (the type agents receive) does not declare take_events; Stream implements it.
    return cast(faust.Stream[Any], stream).take_events(max_events, within=within_s)


def group_by_key(batch: Sequence[EventT]) -> dict[str, tuple[int, list[Any]]]:
    """A batch's values grouped by (string) key, in arrival order, with the key's partition."""
    groups: dict[str, tuple[int, list[Any]]] = {}
    for event in batch:
        key = event.key
        if not isinstance(key, str):
            continue  # customer topics are always keyed; an unkeyed record has no owner
        group = groups.get(key)
        if group is None:
            groups[key] = (event.message.partition, [event.value])
        else:
            group[1].append(event.value)
    return groups


def decode_by_key(
    batch: FetchedBatch, codec: AvroEventCodec | Projection
) -> dict[str, tuple[int, list[EventRecord]]]:
    """A fetched batch's values decoded and grouped by key, in arrival order, with the
    key's partition. A value no schema decodes is logged (by offset) and skipped. With a
    :class:`~pipeline.schemas.codec.Projection`, records hold only its fields."""
    groups: dict[str, tuple[int, list[EventRecord]]] = {}
    decode = codec.decode_dict
    for tp, records in batch.parts:
        partition = tp.partition
        for record in records:
            raw_key = record.key
            if raw_key is None:
                continue  # customer topics are always keyed; an unkeyed record has no owner
            try:
                key = raw_key.decode("utf-8")
                event = decode(record.value)
            except (SchemaError, UnicodeDecodeError) as exc:
                log.warning(
                    "batch.undecodable",
                    topic=tp.topic,
                    partition=partition,
                    offset=record.offset,
                    error=str(exc),
                )
                continue
            group = groups.get(key)
            if group is None:
                groups[key] = (partition, [event])
            else:
                group[1].append(event)
    return groups


__all__ = ["decode_by_key", "event_batches", "group_by_key"]
