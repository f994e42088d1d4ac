"""The generated Avro code must agree with fastavro, the reference, byte for byte."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import events
from pipeline.errors import SchemaError
from pipeline.schemas.codec import HEADER_BYTES, AvroEventCodec
from tests.schemas.test_codec import record_strategy

CODEC = AvroEventCodec()
RECORDS = list(events.RECORD_TYPES.values())


def _as_avro_dict(record: Any) -> dict[str, Any]:
    d = {name: getattr(record, name) for name in record.__slots__}
    if isinstance(record, events.Purchase):
        d["items"] = [
            {"sku": i.sku, "quantity": i.quantity, "amount_minor": i.amount_minor}
            for i in record.items
        ]
    return d


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_every_current_schema_is_compiled(cls: type) -> None:
    known = CODEC.registry.current(cls.__name__)
    assert known.decoder is not None and known.encoder is not None, (
        f"{cls.__name__}'s schema uses a construct pipeline/schemas/compiled.py cannot "
        "generate; extend the compiler or accept the slower fastavro path knowingly"
    )


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_compiled_code_matches_fastavro(cls: type) -> None:
    known = CODEC.registry.current(cls.__name__)
    assert known.encoder is not None and known.decoder is not None

    @settings(max_examples=80, deadline=None)
    @given(record_strategy(cls))
    def check(record: Any) -> None:
        as_dict = _as_avro_dict(record)
        reference = io.BytesIO()
        schemaless_writer(reference, known.parsed, as_dict)
        assert known.encoder(as_dict) == reference.getvalue()  # type: ignore[misc]
        decoded, end = known.decoder(reference.getvalue(), 0)  # type: ignore[misc]
        assert end == len(reference.getvalue())
        assert decoded == schemaless_reader(io.BytesIO(reference.getvalue()), known.parsed, None)

    check()


PROJECTION = CODEC.projection(
    {cls.__name__: ("ts_ms",) for cls in RECORDS if "ts_ms" in {f.name for f in fields(cls)}}
)


@pytest.mark.parametrize(
    "decode", [CODEC.decode, PROJECTION.decode_dict], ids=["full", "projection"]
)
@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(RECORDS).flatmap(record_strategy),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=255),
    st.booleans(),
)
def test_mutated_messages_decode_or_raise_schema_error(
    decode: Callable[[bytes], Any], record: Any, where: int, byte: int, truncate: bool
) -> None:
    data = bytearray(CODEC.encode(record))
    body = len(data) - HEADER_BYTES
    if body:
        index = HEADER_BYTES + where % body
        if truncate:
            del data[index:]
        else:
            data[index] = byte
    with contextlib.suppress(SchemaError):
        decode(bytes(data))


def test_trailing_bytes_are_refused() -> None:
    data = CODEC.encode(
        events.TagChange(event_id="e", customer="1", tag="vip", change="added", reason="r", ts_ms=1)
    )
    with pytest.raises(SchemaError, match="bytes after the record"):
        CODEC.decode(data + b"\x00")


@pytest.mark.parametrize("reason", ["", "é" * 31 + "x", "x" * 63, "x" * 64, "한" * 100])
@pytest.mark.parametrize("ts_ms", [0, -1, 63, 64, -(2**63), 2**63 - 1])
def test_inline_string_and_long_writes_at_their_edges(reason: str, ts_ms: int) -> None:
    # The generated encoder writes short strings' lengths and longs' varints inline.
    known = CODEC.registry.current("TagChange")
    record = {
        "event_id": "e",
        "customer": "c",
        "tag": "heat:hot",
        "change": "added",
        "reason": reason,
        "ts_ms": ts_ms,
    }
    reference = io.BytesIO()
    schemaless_writer(reference, known.parsed, record)
    assert known.encoder(record) == reference.getvalue()  # type: ignore[misc]


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1, "1", None, 1.5])
def test_a_long_out_of_range_or_of_another_type_is_a_schema_error(bad: object) -> None:
    known = CODEC.registry.current("TagChange")
    record = {"event_id": "e", "customer": "c", "tag": "t", "change": "added", "reason": "r"}
    with pytest.raises(SchemaError):
        CODEC.encode_dict(known, {**record, "ts_ms": bad})


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_a_projection_decodes_its_fields_as_the_full_decoder_does(cls: type) -> None:
    names = [f.name for f in fields(cls)]

    @settings(max_examples=60, deadline=None)
    @given(record_strategy(cls), st.sets(st.sampled_from(names)))
    def check(record: Any, wanted: set[str]) -> None:
        data = CODEC.encode(record)
        name, full = CODEC.decode_dict(data)
        assert CODEC.projection({name: wanted}).decode_dict(data) == (
            name,
            {k: v for k, v in full.items() if k in wanted},
        )

    check()


def test_a_projection_of_a_field_the_schema_lacks_is_refused() -> None:
    with pytest.raises(SchemaError, match="no field nope"):
        CODEC.projection({"Purchase": ("ts_ms", "nope")})


def test_a_record_outside_the_projection_is_decoded_in_full() -> None:
    event = events.ConsentChange(
        event_id="k1",
        customer="821012345678",
        business_number_id=None,
        consent="opted_out",
        source="keyword",
        ts_ms=1,
    )
    data = CODEC.encode(event)
    assert CODEC.projection({"Purchase": ("ts_ms",)}).decode_dict(data) == CODEC.decode_dict(data)
