"""What the existing fuzzers (tests/ingest, tests/schemas, tests/campaigns) leave out: that
every reject is *explained*, and the inputs they do not reach (corrupted Avro after a valid
fingerprint, purchase files as raw text). Zero crashes: only the documented error types."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import events
from pipeline.campaigns.segments import SegmentSyntaxError, parse_segment
from pipeline.errors import PayloadError, SchemaError
from pipeline.ingest.purchases import parse_rows, rows_of_text
from pipeline.ingest.webhook_parser import parse_envelope, parse_webhook
from pipeline.schemas.codec import AvroEventCodec
from tests.ingest import meta_examples as meta
from tests.ingest.test_webhook_parser import json_values
from tests.schemas.test_codec import record_strategy

CODEC = AvroEventCodec()
RECEIVED_MS = 1_750_000_000_000
EVENT_TYPES = [events.InboundMessage, events.DeliveryReceipt, events.Purchase, events.SendResult]


def explained(reason: str) -> bool:
    """A reason a person can act on: words, not an empty string or a bare repr."""
    return len(reason.strip()) >= 8 and any(c.isalpha() for c in reason)


@settings(max_examples=200, deadline=None)
@given(payload=json_values)
def test_every_dead_lettered_webhook_part_says_why(payload: Any) -> None:
    parsed = parse_envelope(payload, received_ms=RECEIVED_MS)
    for letter in parsed.dead_letters:
        assert explained(letter.reason), letter
        assert letter.raw, "the refused part is kept for replay"


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300))
def test_an_unreadable_webhook_body_is_refused_with_a_reason(body: bytes) -> None:
    try:
        parsed = parse_webhook(body, received_ms=RECEIVED_MS)
    except PayloadError as error:
        assert explained(str(error)), error
    else:
        assert all(explained(d.reason) for d in parsed.dead_letters)


@st.composite
def corrupted_records(draw: st.DrawFn) -> bytes:
    """A valid single-object record with its Avro body damaged (flipped, cut or extended)."""
    cls = draw(st.sampled_from(EVENT_TYPES))
    data = bytearray(CODEC.encode(draw(record_strategy(cls))))
    header = 10  # C3 01 + 8-byte fingerprint: stays valid, so the body is what is read
    how = draw(st.sampled_from(["flip", "cut", "extend"]))
    if how == "flip" and len(data) > header:
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(header, len(data) - 1))] = draw(st.integers(0, 255))
    elif how == "cut":
        data = data[: draw(st.integers(header, max(header, len(data) - 1)))]
    else:
        data += draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=corrupted_records())
def test_damaged_avro_after_a_valid_fingerprint_is_a_schema_error_that_says_why(
    data: bytes,
) -> None:
    try:
        CODEC.decode(data)  # some damage still decodes (e.g. a flipped character): fine
    except SchemaError as error:
        assert explained(str(error)), error


row_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=400)


@settings(max_examples=200, deadline=None)
@given(text=row_text, fmt=st.sampled_from(["csv", "jsonl"]))
def test_any_purchase_file_text_gives_purchases_or_explained_errors(text: str, fmt: Any) -> None:
    header = "order_id,phone,amount,currency,ts\n" if fmt == "csv" else ""
    rows = rows_of_text(header + text, fmt)
    parsed = list(parse_rows(rows, default_region="KR", source="import"))
    for row in parsed:
        assert (row.purchase is None) != (row.error is None)
        if row.error is not None:
            assert explained(row.error.reason), row.error


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_segment_errors_say_what_was_expected(text: str) -> None:
    try:
        parse_segment(text)
    except SegmentSyntaxError as error:
        assert explained(str(error)), error


def test_the_meta_example_itself_is_not_rejected() -> None:
    # The fuzzers above would pass on a parser that rejects everything; this one would not.
    body = meta.body_of(meta.envelope(meta.messages_value(meta.text_message())))
    parsed = parse_webhook(body, received_ms=RECEIVED_MS)
    assert len(parsed.events) == 1 and not parsed.dead_letters
