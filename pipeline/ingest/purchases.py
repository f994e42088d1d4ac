"""Purchase rows (API objects, CSV, JSON lines) → :class:`Purchase` events, or a row error.

A row has ``order_id``, ``phone`` (or ``customer``), ``amount``, ``currency``, ``ts`` and
optionally ``items`` (``[{"sku", "quantity", "amount"}]``, JSON only). Phone numbers become
E.164 digits (the customer key of every topic), amounts exact integer minor units, timestamps
Unix ms from ISO 8601 with a zone. ``order_id`` is the idempotency key downstream, so a
re-import produces the same records again and adds nothing new.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import phonenumbers

from pipeline.errors import PayloadError
from pipeline.events import Purchase, PurchaseItem
from pipeline.ingest.currencies import currency_code, to_minor_units
from pipeline.ingest.payload_fields import compact_json, encodable

FileFormat = Literal["csv", "jsonl"]
MAX_ITEMS = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that was not imported: where it was, why, and the row as it came."""

    line: int  # 1-based line in a file, or 1-based position in an API list
    reason: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int
    purchase: Purchase | None
    error: RowError | None


def customer_digits(raw: Any, *, default_region: str) -> str:
    """A phone number as E.164 digits without '+', e.g. ``"010-1234-5678"`` → ``"821012345678"``.

    Numbers without '+' are read in ``default_region`` first; when that gives no valid number
    they are read as international digits, the shape WhatsApp ids (``wa_id``) have.
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 40:
        raise PayloadError("phone is missing or not a phone number")
    text = raw.strip()
    candidates: list[tuple[str, str | None]] = [(text, default_region)]
    if not text.startswith("+"):
        candidates.append(("+" + text, None))
    for candidate, region in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    raise PayloadError(f"phone is not a valid number (default region {default_region})")


def timestamp_ms(raw: Any) -> int:
    """ISO 8601 with a zone → Unix ms. A naive time is refused: its instant is unknown."""
    if not isinstance(raw, str) or not raw.strip():
        raise PayloadError("ts is missing: give an ISO 8601 time with a zone")
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise PayloadError(f"ts {raw!r:.40} is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PayloadError(f"ts {raw!r:.40} has no zone: add Z or an offset like +09:00")
    if moment.year < 1970:
        raise PayloadError(f"ts {raw!r:.40} is before 1970")
    # timedelta arithmetic is exact to the microsecond; timestamp() goes through a float.
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _order_id(raw: Any) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise PayloadError("order_id is missing: it is required (the idempotency key)")
    return encodable(raw.strip(), what="order_id")


def _items(raw: Any, currency: str) -> tuple[PurchaseItem, ...]:
    if raw is None or raw == "":
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
        raise PayloadError(f"items must be an array of at most {MAX_ITEMS} objects")
    items = []
    for n, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise PayloadError(f"items[{n}] is not an object")
        sku = item.get("sku")
        quantity = item.get("quantity", 1)
        if not isinstance(sku, str) or not sku:
            raise PayloadError(f"items[{n}].sku is missing")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity < 2**31:
            raise PayloadError(f"items[{n}].quantity must be a positive integer")
        items.append(
            PurchaseItem(
                sku=encodable(sku, what=f"items[{n}].sku"),
                quantity=quantity,
                amount_minor=to_minor_units(
                    item.get("amount"), currency, what=f"items[{n}].amount"
                ),
            )
        )
    return tuple(items)


def parse_purchase(row: Any, *, default_region: str, source: str) -> Purchase:
    """One purchase row (a decoded JSON object or a CSV row). Raises PayloadError."""
    if not isinstance(row, Mapping):
        raise PayloadError("a purchase must be a JSON object")
    currency = currency_code(row.get("currency"))
    phone = row.get("phone", row.get("customer"))
    return Purchase(
        order_id=_order_id(row.get("order_id")),
        customer=customer_digits(phone, default_region=default_region),
        amount_minor=to_minor_units(row.get("amount"), currency),
        currency=currency,
        items=_items(row.get("items"), currency),
        ts_ms=timestamp_ms(row.get("ts")),
        source=source,
    )


def parse_rows(
    rows: Iterable[tuple[int, Any]], *, default_region: str, source: str
) -> Iterator[ParsedRow]:
    """Numbered rows → a purchase or an error per row; a row that is an error stays one."""
    for line, row in rows:
        if isinstance(row, RowError):
            yield ParsedRow(line=line, purchase=None, error=row)
            continue
        try:
            purchase = parse_purchase(row, default_region=default_region, source=source)
        except PayloadError as exc:
            raw = compact_json(row).encode("utf-8")
            yield ParsedRow(line=line, purchase=None, error=RowError(line, exc.reason, raw))
        else:
            yield ParsedRow(line=line, purchase=purchase, error=None)


def file_format(path: Path) -> FileFormat:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise PayloadError(f"{path.name}: unknown format; name it .csv or .jsonl (JSON lines)")


def jsonl_rows(lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """JSON lines → (line number, object or RowError); blank lines are skipped."""
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            # parse_float=Decimal: 12.10 stays exactly 12.10, never a binary float.
            yield line_no, json.loads(line, parse_float=Decimal)
        except (ValueError, RecursionError):
            yield line_no, RowError(line_no, "not a JSON object", line.encode("utf-8", "replace"))


def csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """CSV with a header row → (line number of the row's start, dict)."""
    reader = csv.DictReader(lines)
    start = 2  # line 1 is the header
    try:
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        yield reader.line_num, RowError(reader.line_num, f"CSV: {exc}", b"")


def read_rows(path: Path) -> Iterator[tuple[int, Any]]:
    fmt = file_format(path)
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        yield from (csv_rows(handle) if fmt == "csv" else jsonl_rows(handle))


def rows_of_text(text: str, fmt: FileFormat) -> Iterator[tuple[int, Any]]:
    """Like :func:`read_rows` for text in memory (tests, small uploads)."""
    handle = io.StringIO(text, newline="")
    return csv_rows(handle) if fmt == "csv" else jsonl_rows(handle)
