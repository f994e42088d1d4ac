"""Avro single-object encoding for wapipe's events, registered with Faust as ``avro``.

Every message starts with the marker ``C3 01`` and the 8-byte CRC-64-AVRO fingerprint of the
schema that wrote it (Avro spec, "Single-object encoding"). A reader looks the fingerprint up
among every schema it knows (``schemas/*.avsc`` are current, ``schemas/history/*.avsc`` older
versions) and resolves the writer's record to the current one, so producers and consumers can
be upgraded in any order as long as schemas evolve compatibly (add fields with defaults).
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form
from faust.serializers import codecs

from pipeline.errors import SchemaError, UnknownSchemaError
from pipeline.events import RECORD_TYPES, PurchaseItem
from pipeline.schemas.compiled import (
    ColumnDecoder,
    Decoder,
    Encoder,
    UnsupportedSchema,
    compile_column_decoder,
    compile_decoder,
    compile_encoder,
)

MARKER = b"\xc3\x01"
HEADER_BYTES = len(MARKER) + 8
SCHEMA_DIR = Path(__file__).parent


@dataclass(frozen=True, slots=True)
class KnownSchema:
    name: str  # the record's short name, e.g. "InboundMessage"
    fingerprint: bytes  # 8 bytes, little-endian, as written on the wire
    parsed: dict[str, Any]
    current: bool
    # Generated straight-line code (see compiled.py); None falls back to fastavro.
    decoder: Decoder | None = None
    encoder: Encoder | None = None
    column_decoder: ColumnDecoder | None = None


def _compiled(
    parsed: dict[str, Any],
) -> tuple[Decoder | None, Encoder | None, ColumnDecoder | None]:
    try:
        return compile_decoder(parsed), compile_encoder(parsed), compile_column_decoder(parsed)
    except UnsupportedSchema:
        return None, None, None


def schema_fingerprint(schema: Mapping[str, Any]) -> bytes:
    """CRC-64-AVRO fingerprint of a schema's parsing canonical form, wire byte order."""
    canonical = to_parsing_canonical_form(parse_schema(dict(schema), _write_hint=False))
    # fastavro returns the little-endian bytes as hex, which is the wire order.
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


def _load_dir(directory: Path, *, current: bool) -> list[tuple[dict[str, Any], bool]]:
    if not directory.is_dir():
        return []
    return [(json.loads(p.read_text("utf-8")), current) for p in sorted(directory.glob("*.avsc"))]


class SchemaRegistry:
    """The schemas this process knows: current ones to write, all versions to read."""

    def __init__(self, schemas: Iterable[tuple[Mapping[str, Any], bool]]) -> None:
        self._by_fingerprint: dict[bytes, KnownSchema] = {}
        self._current: dict[str, KnownSchema] = {}
        for raw, current in schemas:
            name = str(raw["name"]).rsplit(".", 1)[-1]
            parsed = cast(dict[str, Any], parse_schema(dict(raw), _write_hint=False))
            decoder, encoder, column_decoder = _compiled(parsed)
            known = KnownSchema(
                name=name,
                fingerprint=schema_fingerprint(raw),
                parsed=parsed,
                current=current,
                decoder=decoder,
                encoder=encoder,
                column_decoder=column_decoder,
            )
            self._by_fingerprint[known.fingerprint] = known
            if current:
                if name in self._current:
                    raise SchemaError(f"two current schemas for record {name}")
                self._current[name] = known

    @classmethod
    def default(cls) -> SchemaRegistry:
        return cls(
            _load_dir(SCHEMA_DIR, current=True) + _load_dir(SCHEMA_DIR / "history", current=False)
        )

    def current(self, name: str) -> KnownSchema:
        try:
            return self._current[name]
        except KeyError:
            raise SchemaError(
                f"no current schema for record {name!r}; add pipeline/schemas/<name>.avsc"
            ) from None

    def writer(self, fp: bytes) -> KnownSchema | None:
        return self._by_fingerprint.get(fp)

    def names(self) -> list[str]:
        return sorted(self._current)


class AvroEventCodec:
    """Encode event dataclasses to single-object Avro bytes and back."""

    def __init__(self, registry: SchemaRegistry | None = None) -> None:
        self.registry = registry or SchemaRegistry.default()
        self._field_names: dict[type, tuple[str, ...]] = {
            cls: tuple(f.name for f in fields(cls)) for cls in RECORD_TYPES.values()
        }
        # Header (marker + fingerprint) → (record name, generated decoder) for the current
        # schemas: one dict lookup per message. Older writers take the resolving path.
        self._fast_readers: dict[bytes, tuple[str, Decoder]] = {
            MARKER + known.fingerprint: (known.name, known.decoder)
            for known in (self.registry.current(n) for n in self.registry.names())
            if known.decoder is not None
        }

    def encode(self, event: Any) -> bytes:
        cls = type(event)
        names = self._field_names.get(cls)
        if names is None:
            raise SchemaError(f"{cls.__name__} is not an event record; see pipeline.events")
        known = self.registry.current(cls.__name__)
        record = {name: getattr(event, name) for name in names}
        if cls.__name__ == "Purchase":
            record["items"] = [
                {"sku": i.sku, "quantity": i.quantity, "amount_minor": i.amount_minor}
                for i in event.items
            ]
        return self.encode_dict(known, record)

    def encode_dict(self, known: KnownSchema, record: Mapping[str, Any]) -> bytes:
        try:
            if known.encoder is not None:
                plain = record if type(record) is dict else dict(record)
                return MARKER + known.fingerprint + known.encoder(plain)
            buf = io.BytesIO()
            buf.write(MARKER)
            buf.write(known.fingerprint)
            schemaless_writer(buf, known.parsed, record)
            return buf.getvalue()
        except (TypeError, ValueError, KeyError, AttributeError, struct.error) as exc:
            raise SchemaError(f"cannot encode {known.name}: {exc}") from exc

    def decode_dict(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """Decode to (record name, dict in the current schema's shape)."""
        # Fast path: a current schema with generated code, found by the whole header.
        fast = self._fast_readers.get(data[:HEADER_BYTES])
        if fast is not None:
            return _run_decoder(fast[0], fast[1], data)
        if len(data) < HEADER_BYTES or data[:2] != MARKER:
            raise UnknownSchemaError(
                "not an Avro single-object message (missing C3 01 marker); "
                f"first bytes: {data[:HEADER_BYTES].hex() or '<empty>'}"
            )
        writer = self.registry.writer(bytes(data[2:HEADER_BYTES]))
        if writer is None:
            raise UnknownSchemaError(
                f"no known schema has fingerprint {bytes(data[2:HEADER_BYTES]).hex()}: "
                "the writer is newer than this reader (upgrade wapipe) or not a wapipe producer"
            )
        reader = self.registry.current(writer.name)
        buf = io.BytesIO(data)
        buf.seek(HEADER_BYTES)
        try:
            resolved = schemaless_reader(
                buf, writer.parsed, None if writer is reader else reader.parsed
            )
        except Exception as exc:  # fastavro raises many kinds on corrupt bytes
            raise SchemaError(
                f"corrupt {writer.name} message: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(resolved, dict):
            raise SchemaError(f"{writer.name} did not decode to a record")
        return writer.name, resolved

    def decode_into_columns(self, data: bytes, expected: str, columns: Sequence[list[Any]]) -> None:
        """Append the record's fields to ``columns`` (current schema order) without building
        a dict; records of other types or older writers go through :meth:`decode_dict`."""
        if len(data) < HEADER_BYTES or data[:2] != MARKER:
            self.decode_dict(data)  # raises the explanatory UnknownSchemaError
        writer = self.registry.writer(bytes(data[2:HEADER_BYTES]))
        if writer is not None and writer.name == expected and writer.current:
            decoder = writer.column_decoder
            if decoder is not None:
                rows_before = len(columns[0]) if columns else 0
                try:
                    end = decoder(data, HEADER_BYTES, [c.append for c in columns])
                    if end != len(data):
                        raise ValueError(f"{len(data) - end} bytes after the record")
                except (ValueError, IndexError, UnicodeDecodeError, struct.error) as exc:
                    # A corrupt record must not leave half a row in the columns.
                    for column in columns:
                        del column[rows_before:]
                    raise SchemaError(
                        f"corrupt {writer.name} message: {type(exc).__name__}: {exc}"
                    ) from exc
                return
        name, record = self.decode_dict(data)
        if name != expected:
            raise SchemaError(f"expected a {expected} record, got {name}")
        fields_ = self.registry.current(name).parsed["fields"]
        for column, f in zip(columns, fields_, strict=True):
            column.append(record[f["name"]])

    def decode(self, data: bytes) -> Any:
        name, record = self.decode_dict(data)
        cls = RECORD_TYPES[name]
        if name == "Purchase":
            record["items"] = tuple(PurchaseItem(**i) for i in record["items"])
        elif name == "OutboundCommand":
            record["template_params"] = tuple(record["template_params"])
        try:
            return cls(**record)
        except TypeError as exc:
            raise SchemaError(f"{name} does not match pipeline.events.{name}: {exc}") from exc

    def projection(self, fields: Mapping[str, Collection[str]]) -> Projection:
        """A decoder of only ``fields`` of each named record (see :class:`Projection`)."""
        return Projection(self, fields)


def _run_decoder(name: str, decoder: Decoder, data: bytes) -> tuple[str, dict[str, Any]]:
    try:
        record, end = decoder(data, HEADER_BYTES)
    except (ValueError, IndexError, UnicodeDecodeError, struct.error) as exc:
        raise SchemaError(f"corrupt {name} message: {type(exc).__name__}: {exc}") from exc
    if end != len(data):
        raise SchemaError(f"corrupt {name} message: {len(data) - end} bytes after the record")
    return name, record


class Projection:
    """Decode only the fields a consumer reads: ``{"Purchase": ("ts_ms", ...), ...}``.

    A consumer that reads three of a receipt's eighteen fields need not build the other
    fifteen (issue 6's engagement agent: decoding was a fifth of its time). Records of the
    named types written with the current schema go through generated code that skips the
    other fields (their framing is still checked, their text is not decoded); any other
    record, and older writers, are decoded in full by the codec. Extra fields are harmless
    to a reader that looks fields up by name.
    """

    def __init__(self, codec: AvroEventCodec, fields: Mapping[str, Collection[str]]) -> None:
        self._codec = codec
        self._readers: dict[bytes, tuple[str, Decoder]] = {}
        for name, wanted in fields.items():
            known = codec.registry.current(name)
            missing = set(wanted) - {f["name"] for f in known.parsed["fields"]}
            if missing:
                raise SchemaError(f"{name} has no field {', '.join(sorted(missing))}")
            try:
                decoder = compile_decoder(known.parsed, frozenset(wanted))
            except UnsupportedSchema:
                continue  # the codec's full decode serves it
            self._readers[MARKER + known.fingerprint] = (name, decoder)

    def decode_dict(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """(record name, the projected fields), or the full record where not projected."""
        fast = self._readers.get(data[:HEADER_BYTES])
        if fast is None:
            return self._codec.decode_dict(data)
        return _run_decoder(fast[0], fast[1], data)


class FaustAvroCodec(codecs.Codec):
    """Faust serializer ``avro``: ``value_serializer="avro"`` on a topic uses it."""

    def __init__(self, codec: AvroEventCodec | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.codec = codec or AvroEventCodec()

    def _dumps(self, obj: Any) -> bytes:
        return self.codec.encode(obj)

    def _loads(self, s: bytes) -> Any:
        return self.codec.decode(s)


class Utf8KeyCodec(codecs.Codec):
    """Faust serializer ``utf8`` for string keys (customer ids, business numbers)."""

    def _dumps(self, obj: Any) -> bytes:
        return obj.encode("utf-8") if isinstance(obj, str) else bytes(obj)

    def _loads(self, s: bytes) -> Any:
        return s.decode("utf-8")


_registered = False


def register_faust_codecs() -> None:
    """Register ``avro`` and ``utf8`` with Faust (idempotent)."""
    global _registered  # registration is process-wide in Faust itself
    if not _registered:
        codecs.register("avro", FaustAvroCodec())
        codecs.register("utf8", Utf8KeyCodec())
        _registered = True
