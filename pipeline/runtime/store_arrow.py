"""Events → columnar Arrow batches for ClickHouse, and which table each record lands in.

The Arrow columns are named exactly like the event dataclass fields; the tables accept inserts
of exactly those columns and compute derived columns (``ts``, ``day``…) themselves, so the sink
never needs to know about them.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Sequence
from typing import Any

import pyarrow

from pipeline import events

#: Avro record name → ClickHouse raw table.
TABLE_FOR_RECORD: dict[str, str] = {
    "InboundMessage": "inbound_messages",
    "DeliveryReceipt": "message_status",
    "SendResult": "outbound_messages",
    "OutboundCommand": "outbound_commands",
    "Purchase": "purchases",
    "TagChange": "tag_changes",
    "Alarm": "alarms",
    "ConsentChange": "consent_changes",
    "DeadLetter": "dead_letters",
    "CampaignControl": "campaign_controls",
}

_SCALARS: dict[type, pyarrow.DataType] = {
    str: pyarrow.string(),
    int: pyarrow.int64(),
    float: pyarrow.float64(),
    bool: pyarrow.bool_(),
    bytes: pyarrow.binary(),
}


def _arrow_type(hint: Any) -> pyarrow.DataType:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"unsupported union {hint!r}")
        return _arrow_type(members[0])
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return pyarrow.list_(_arrow_type(item))
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = typing.get_type_hints(hint)
        return pyarrow.struct(
            [(f.name, _arrow_type(hints[f.name])) for f in dataclasses.fields(hint)]
        )
    if hint in _SCALARS:
        return _SCALARS[hint]
    raise TypeError(f"no Arrow type for {hint!r}")


@functools.cache
def arrow_schema(record: type) -> pyarrow.Schema:
    """The Arrow schema of one event dataclass: a column per field, same names, same order."""
    hints = typing.get_type_hints(record, vars(events))
    return pyarrow.schema(
        [(f.name, _arrow_type(hints[f.name])) for f in dataclasses.fields(record)]
    )


def _plain(value: Any) -> Any:
    # Nested dataclasses (Purchase.items) become dicts/lists that pyarrow builds structs from.
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def events_to_arrow(batch: Sequence[Any]) -> pyarrow.Table:
    """One Arrow table from events of one type; ``ValueError`` on an empty or mixed batch."""
    if not batch:
        raise ValueError("events_to_arrow needs at least one event (the type names the schema)")
    record: type = type(batch[0])
    if any(type(event) is not record for event in batch):
        kinds = sorted({type(event).__name__ for event in batch})
        raise ValueError(f"a batch holds one event type, got {kinds}; split it per table first")
    schema = arrow_schema(record)
    columns = []
    for column in schema:
        values = [getattr(event, column.name) for event in batch]
        if pyarrow.types.is_list(column.type):
            values = [_plain(value) for value in values]
        columns.append(pyarrow.array(values, type=column.type))
    return pyarrow.Table.from_arrays(columns, schema=schema)


def table_for(event: Any) -> str:
    """The raw table an event is stored in; ``KeyError`` naming the known records otherwise."""
    name = type(event).__name__
    try:
        return TABLE_FOR_RECORD[name]
    except KeyError:
        raise KeyError(f"no table for record {name!r}; known: {sorted(TABLE_FOR_RECORD)}") from None
