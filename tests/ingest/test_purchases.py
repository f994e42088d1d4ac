"""Purchase rows: phone → E.164 digits, exact minor units, zoned timestamps, row errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import PayloadError
from pipeline.events import Purchase, PurchaseItem
from pipeline.ingest.currencies import MINOR_UNIT_EXPONENT, to_minor_units
from pipeline.ingest.purchases import customer_digits, parse_purchase, parse_rows, rows_of_text
from pipeline.schemas.codec import AvroEventCodec

CODEC = AvroEventCodec()
ROW = {
    "order_id": "A-1001",
    "phone": "010-1234-5678",
    "amount": "12000",
    "currency": "KRW",
    "ts": "2026-03-01T10:00:00+09:00",
}


def purchase(**changes: Any) -> Purchase:
    return parse_purchase({**ROW, **changes}, default_region="KR", source="api")


def test_a_korean_row() -> None:
    assert purchase() == Purchase(
        order_id="A-1001",
        customer="821012345678",
        amount_minor=12000,
        currency="KRW",
        items=(),
        ts_ms=1_772_326_800_000,
        source="api",
    )


@pytest.mark.parametrize(
    "phone, digits",
    [
        ("+1 123 456 7890", None),  # no such area code
        ("+16502530000", "16502530000"),
        ("(650) 253-0000", None),
        ("821012345678", "821012345678"),  # a wa_id: international digits without '+'
        ("+44 7911 123456", "447911123456"),
    ],
)
def test_phone_numbers_become_e164_digits(phone: str, digits: str | None) -> None:
    if digits is None:
        with pytest.raises(PayloadError):
            customer_digits(phone, default_region="KR")
    else:
        assert customer_digits(phone, default_region="KR") == digits


def test_default_region_reads_national_numbers() -> None:
    assert customer_digits("(650) 253-0000", default_region="US") == "16502530000"


@pytest.mark.parametrize(
    "amount, currency, minor",
    [
        ("12.50", "USD", 1250),
        (Decimal("12.5"), "USD", 1250),
        (7, "USD", 700),
        ("1000", "JPY", 1000),
        ("1.234", "BHD", 1234),
        ("0.0001", "CLF", 1),
        ("19.990", "EUR", 1999),
    ],
)
def test_amounts_are_exact_minor_units(amount: Any, currency: str, minor: int) -> None:
    assert to_minor_units(amount, currency) == minor


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"amount": "12.345", "currency": "USD"}, "more decimals than USD"),
        ({"amount": "0.5"}, "more decimals than KRW"),
        ({"amount": 12.5, "currency": "USD"}, "never a float"),
        ({"amount": "-1"}, "negative"),
        ({"amount": "NaN"}, "finite"),
        ({"currency": "XYZ"}, "ISO 4217"),
        ({"ts": "2026-03-01T10:00:00"}, "no zone"),
        ({"ts": "yesterday"}, "ISO 8601"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": None}, "order_id"),
        ({"phone": "12"}, "phone"),
        ({"items": [{"sku": "x", "quantity": 0, "amount": "1"}]}, "quantity"),
    ],
)
def test_invalid_rows_say_why(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        purchase(**changes)


def test_items_use_the_purchase_currency() -> None:
    p = purchase(
        currency="USD", amount="30.00", items=[{"sku": "TEE", "quantity": 2, "amount": "15"}]
    )
    assert p.items == (PurchaseItem(sku="TEE", quantity=2, amount_minor=1500),)


def test_csv_and_json_lines_report_errors_with_line_numbers() -> None:
    csv_text = (
        "order_id,phone,amount,currency,ts\n"
        "A-1,010-1234-5678,12000,KRW,2026-03-01T10:00:00+09:00\n"
        "A-2,010-1234-5678,12.5,KRW,2026-03-01T10:00:00+09:00\n"
        '"A-3",010-9999-0000,"1,000",KRW,2026-03-01T10:00:00Z\n'
    )
    rows = list(parse_rows(rows_of_text(csv_text, "csv"), default_region="KR", source="import"))
    assert [(r.line, r.purchase is not None) for r in rows] == [(2, True), (3, False), (4, False)]
    assert "more decimals" in rows[1].error.reason and b"A-2" in rows[1].error.raw

    jsonl = (
        '{"order_id": "B-1", "phone": "+16502530000", "amount": 19.99, "currency": "USD",'
        ' "ts": "2026-03-01T01:00:00Z"}\n\nnot json\n[1]\n'
    )
    rows = list(parse_rows(rows_of_text(jsonl, "jsonl"), default_region="KR", source="import"))
    assert [(r.line, r.purchase is not None) for r in rows] == [(1, True), (3, False), (4, False)]
    assert rows[0].purchase.amount_minor == 1999  # 19.99 read as a Decimal, not a float


# --- properties --------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    currency=st.sampled_from(sorted(MINOR_UNIT_EXPONENT)),
    minor=st.integers(0, 10**15),
)
def test_minor_units_round_trip_through_the_decimal_text(currency: str, minor: int) -> None:
    exponent = MINOR_UNIT_EXPONENT[currency]
    text = str(Decimal(minor).scaleb(-exponent))
    assert to_minor_units(text, currency) == minor


row_values = st.one_of(
    st.none(),
    st.integers(-(10**20), 10**20),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["USD", "KRW", "+16502530000", "010-1234-5678", "2026-03-01T10:00:00Z"]),
    st.lists(
        st.dictionaries(st.sampled_from(["sku", "quantity", "amount"]), st.integers() | st.text()),
        max_size=2,
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.dictionaries(st.sampled_from([*ROW, "items", "customer"]), row_values, max_size=7)
        | st.integers(),
        max_size=5,
    )
)
def test_any_rows_give_a_purchase_or_an_error_never_an_exception(rows: list[Any]) -> None:
    mixed = [ROW, *rows, {**ROW, "order_id": "last"}]
    parsed = list(parse_rows(enumerate(mixed, 1), default_region="KR", source="api"))
    assert [p.line for p in parsed] == list(range(1, len(mixed) + 1))
    assert parsed[0].purchase is not None and parsed[-1].purchase is not None
    for p in parsed:
        assert (p.purchase is None) != (p.error is None)
        if p.purchase is not None:
            CODEC.encode(p.purchase)
