"""The Avro codec: every record round-trips, old writers are readable, junk is refused."""

from __future__ import annotations

import contextlib
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import events
from pipeline.errors import SchemaError, UnknownSchemaError
from pipeline.schemas.codec import (
    MARKER,
    SCHEMA_DIR,
    AvroEventCodec,
    SchemaRegistry,
    schema_fingerprint,
)

CODEC = AvroEventCodec()
text = st.text(max_size=40)
long_ = st.integers(min_value=-(2**63), max_value=2**63 - 1)
int_ = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def _strategy_for(annotation: str) -> st.SearchStrategy[Any]:
    base = {
        "str": text,
        "int": int_,
        "bool": st.booleans(),
        "float": st.floats(allow_nan=False),
        "bytes": st.binary(max_size=64),
    }
    optional = annotation.endswith(" | None")
    core = annotation.removesuffix(" | None")
    if core == "tuple[str, ...]":
        strat: st.SearchStrategy[Any] = st.lists(text, max_size=4).map(tuple)
    elif core == "tuple[PurchaseItem, ...]":
        strat = st.lists(
            st.builds(events.PurchaseItem, sku=text, quantity=int_, amount_minor=long_),
            max_size=3,
        ).map(tuple)
    else:
        strat = base[core]
    return st.one_of(st.none(), strat) if optional else strat


def _long_fields(cls: type) -> set[str]:
    schema = CODEC.registry.current(cls.__name__).parsed
    out = set()
    for f in schema["fields"]:
        t = f["type"]
        if t == "long" or (isinstance(t, list) and "long" in t):
            out.add(f["name"])
    return out


def record_strategy(cls: type) -> st.SearchStrategy[Any]:
    longs = _long_fields(cls)
    kwargs = {}
    for f in fields(cls):
        s = _strategy_for(str(f.type))
        if f.name in longs:
            s = st.one_of(st.none(), long_) if str(f.type).endswith("None") else long_
        kwargs[f.name] = s
    return st.builds(cls, **kwargs)


@pytest.mark.parametrize("cls", list(events.RECORD_TYPES.values()), ids=lambda c: c.__name__)
def test_dataclass_fields_match_avro_schema(cls: type) -> None:
    schema = json.loads((SCHEMA_DIR / _file_for(cls)).read_text())
    avro_fields = [f["name"] for f in schema["fields"]]
    assert [f.name for f in fields(cls)] == avro_fields, (
        f"pipeline/events.py:{cls.__name__} and its .avsc list different fields; "
        "keep names and order identical"
    )


def _file_for(cls: type) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower() + ".avsc"


@pytest.mark.parametrize("cls", list(events.RECORD_TYPES.values()), ids=lambda c: c.__name__)
def test_every_record_round_trips(cls: type) -> None:
    @settings(max_examples=60, deadline=None)
    @given(record_strategy(cls))
    def check(record: Any) -> None:
        data = CODEC.encode(record)
        assert data[:2] == MARKER
        assert data[2:10] == CODEC.registry.current(cls.__name__).fingerprint
        assert CODEC.decode(data) == record

    check()


def test_record_written_by_older_schema_is_read_with_newer(tmp_path: Path) -> None:
    current = json.loads((SCHEMA_DIR / "tag_change.avsc").read_text())
    older = dict(current, fields=[f for f in current["fields"] if f["name"] != "reason"])
    # The current schema must give the removed field a default for this to be compatible;
    # give it one here as a schema author would when adding a field.
    newer = dict(
        current,
        fields=[
            dict(f, default="unknown") if f["name"] == "reason" else f for f in current["fields"]
        ],
    )
    registry = SchemaRegistry([(older, False), (newer, True)])
    codec = AvroEventCodec(registry)
    old_bytes = codec.encode_dict(
        registry.writer(schema_fingerprint(older)),  # type: ignore[arg-type]
        {"event_id": "e1", "customer": "15550001111", "tag": "vip", "change": "added", "ts_ms": 7},
    )
    decoded = codec.decode(old_bytes)
    assert decoded == events.TagChange(
        event_id="e1", customer="15550001111", tag="vip", change="added", reason="unknown", ts_ms=7
    )


def test_history_schemas_stay_readable() -> None:
    registry = SchemaRegistry.default()
    for path in sorted((SCHEMA_DIR / "history").glob("*.avsc")):
        raw = json.loads(path.read_text())
        assert registry.writer(schema_fingerprint(raw)) is not None, path.name


@given(st.binary(max_size=64))
def test_random_bytes_raise_a_schema_error_never_a_crash(data: bytes) -> None:
    with contextlib.suppress(SchemaError):
        CODEC.decode(data)


def test_unknown_fingerprint_names_the_problem() -> None:
    with pytest.raises(UnknownSchemaError, match="no known schema has fingerprint"):
        CODEC.decode(MARKER + b"\x00" * 8 + b"\x02")


def test_plain_json_is_refused_with_the_marker_explained() -> None:
    with pytest.raises(UnknownSchemaError, match="missing C3 01 marker"):
        CODEC.decode(b'{"hello": 1}')


def test_truncated_message_is_a_schema_error() -> None:
    data = CODEC.encode(
        events.TagChange(event_id="e", customer="1", tag="vip", change="added", reason="r", ts_ms=1)
    )
    with pytest.raises(SchemaError, match="corrupt TagChange"):
        CODEC.decode(data[:-3])


def test_encoding_a_non_event_is_refused() -> None:
    with pytest.raises(SchemaError, match="not an event record"):
        CODEC.encode({"event_id": "x"})
