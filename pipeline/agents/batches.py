"""Batches of events from a Faust stream: the agents' unit of work (issue 6's benchmark).

Faust spends tens of microseconds on each event's path through the stream; the agents make
everything after that per batch: one table read and write per key per batch, one fold, one
judgement. ``take_events`` keeps each event (key, partition) and acks the whole batch after
the loop body, so a crash redelivers the batch (at-least-once, and the folds are idempotent).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import faust
from faust.types import EventT


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


__all__ = ["event_batches", "group_by_key"]
