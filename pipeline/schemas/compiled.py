"""Avro binary encoders/decoders compiled to plain Python per schema.

fastavro's ``schemaless_reader``/``schemaless_writer`` re-inspect the schema on every call,
which costs 50–85 µs a record here: more than the rest of a sink's per-event work. For the
current schemas, whose fields are all primitives, nullable primitives, string arrays or arrays
of such records, we generate one straight-line function per schema instead (a few µs).
fastavro stays the reference: property tests assert both produce identical bytes and values,
and records written by older schema versions still go through fastavro's schema resolution.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Sequence
from typing import Any, cast

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")

Decoder = Callable[[bytes, int], tuple[dict[str, Any], int]]
Encoder = Callable[[dict[str, Any]], bytes]


class UnsupportedSchema(Exception):  # internal signal: fall back to fastavro
    """The schema uses a construct the compiler does not generate code for."""


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def write_long(out: bytearray, n: int) -> None:
    if not -(2**63) <= n < 2**63:
        raise ValueError(f"{n} does not fit an Avro long")
    n = (n << 1) ^ (n >> 63)
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def read_long(buf: bytes, pos: int) -> tuple[int, int]:
    b = buf[pos]
    pos += 1
    n = b & 0x7F
    shift = 7
    while b & 0x80:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
    return (n >> 1) ^ -(n & 1), pos


def read_bytes(buf: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = read_long(buf, pos)
    if size < 0 or pos + size > len(buf):
        raise ValueError("bytes length out of range")
    return bytes(buf[pos : pos + size]), pos + size


def read_string(buf: bytes, pos: int) -> tuple[str, int]:
    size, pos = read_long(buf, pos)
    if size < 0 or pos + size > len(buf):
        raise ValueError("string length out of range")
    return buf[pos : pos + size].decode("utf-8"), pos + size


def write_string(out: bytearray, s: str) -> None:
    data = s.encode("utf-8")
    write_long(out, len(data))
    out += data


def write_bytes(out: bytearray, b: bytes) -> None:
    write_long(out, len(b))
    out += b


def read_int(buf: bytes, pos: int) -> tuple[int, int]:
    n, pos = read_long(buf, pos)
    if not -(2**31) <= n < 2**31:
        raise ValueError(f"{n} does not fit an Avro int")
    return n, pos


def write_int(out: bytearray, n: int) -> None:
    if not -(2**31) <= n < 2**31:
        raise ValueError(f"{n} does not fit an Avro int")
    write_long(out, n)


def read_boolean(buf: bytes, pos: int) -> tuple[bool, int]:
    b = buf[pos]
    if b > 1:
        raise ValueError(f"invalid boolean byte {b}")
    return b == 1, pos + 1


def write_boolean(out: bytearray, v: bool) -> None:
    if not isinstance(v, bool):
        raise TypeError(f"{v!r} is not a boolean")
    out.append(1 if v else 0)


def read_double(buf: bytes, pos: int) -> tuple[float, int]:
    if pos + 8 > len(buf):
        raise ValueError("truncated double")
    return _DOUBLE.unpack_from(buf, pos)[0], pos + 8


def write_double(out: bytearray, v: float) -> None:
    out += _DOUBLE.pack(v)


def read_float(buf: bytes, pos: int) -> tuple[float, int]:
    if pos + 4 > len(buf):
        raise ValueError("truncated float")
    return _FLOAT.unpack_from(buf, pos)[0], pos + 4


def write_float(out: bytearray, v: float) -> None:
    out += _FLOAT.pack(v)


_PRIMITIVES = {"string", "long", "int", "boolean", "double", "float", "bytes"}


class _Gen:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.counter = 0
        self.helpers: dict[str, Any] = {}

    def var(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _type_key(t: Any) -> Any:
    if isinstance(t, dict) and t.get("type") in _PRIMITIVES and "logicalType" not in t:
        return t["type"]
    return t


def _gen_read(g: _Gen, t: Any, target: str, indent: int) -> None:
    t = _type_key(t)
    if isinstance(t, str):
        if t == "string":
            # Inline the common case (length < 64: one varint byte) to save two calls.
            g.emit(indent, "n = buf[pos]")
            g.emit(indent, "if n < 0x80 and not n & 1:")
            g.emit(indent + 1, "end = pos + 1 + (n >> 1)")
            g.emit(indent + 1, "if end > size:")
            g.emit(indent + 2, "raise ValueError('string length out of range')")
            g.emit(indent + 1, f"{target} = buf[pos + 1 : end].decode('utf-8')")
            g.emit(indent + 1, "pos = end")
            g.emit(indent, "else:")
            g.emit(indent + 1, f"{target}, pos = read_string(buf, pos)")
            return
        if t == "long":
            # The varint loop inline: timestamps take six bytes, a call each cost more.
            g.emit(indent, "b = buf[pos]")
            g.emit(indent, "pos += 1")
            g.emit(indent, "n = b & 0x7F")
            g.emit(indent, "shift = 7")
            g.emit(indent, "while b & 0x80:")
            g.emit(indent + 1, "b = buf[pos]")
            g.emit(indent + 1, "pos += 1")
            g.emit(indent + 1, "n |= (b & 0x7F) << shift")
            g.emit(indent + 1, "shift += 7")
            g.emit(indent, f"{target} = (n >> 1) ^ -(n & 1)")
            return
        if t == "int":
            g.emit(indent, "n = buf[pos]")
            g.emit(indent, "if n < 0x80:")
            g.emit(indent + 1, f"{target} = (n >> 1) ^ -(n & 1)")
            g.emit(indent + 1, "pos += 1")
            g.emit(indent, "else:")
            g.emit(indent + 1, f"{target}, pos = read_int(buf, pos)")
            return
        if t in _PRIMITIVES:
            g.emit(indent, f"{target}, pos = read_{t}(buf, pos)")
            return
        if t == "null":
            g.emit(indent, f"{target} = None")
            return
        raise UnsupportedSchema(t)
    if isinstance(t, list):
        if len(t) == 2 and t[0] == "null":
            g.emit(indent, "branch = buf[pos]")
            g.emit(indent, "pos += 1")
            g.emit(indent, "if branch == 0:")
            g.emit(indent + 1, f"{target} = None")
            g.emit(indent, "elif branch == 2:")
            _gen_read(g, t[1], target, indent + 1)
            g.emit(indent, "else:")
            g.emit(indent + 1, "raise ValueError(f'union branch byte {branch} out of range')")
            return
        raise UnsupportedSchema(t)
    if isinstance(t, dict) and t.get("type") == "array":
        items = g.var("items")
        item = g.var("item")
        g.emit(indent, f"{items} = []")

        def read_item(at: int) -> None:
            _gen_read(g, t["items"], item, at)
            g.emit(at, f"{items}.append({item})")

        _gen_array_blocks(g, indent, read_item)
        g.emit(indent, f"{target} = {items}")
        return
    if isinstance(t, dict) and t.get("type") == "record":
        _gen_record(g, t, target, indent)
        return
    raise UnsupportedSchema(t)


def _gen_array_blocks(g: _Gen, indent: int, item: Callable[[int], None]) -> None:
    """The loop over an array's blocks; ``item(indent)`` emits the code for one item."""
    block = g.var("block")
    g.emit(indent, f"{block}, pos = read_long(buf, pos)")
    g.emit(indent, f"while {block}:")
    g.emit(indent + 1, f"if {block} < 0:")
    g.emit(indent + 2, f"{block} = -{block}")
    g.emit(indent + 2, "_size, pos = read_long(buf, pos)")
    g.emit(indent + 1, f"if {block} > size:")
    g.emit(indent + 2, "raise ValueError('array block larger than the message')")
    g.emit(indent + 1, f"for _ in range({block}):")
    item(indent + 2)
    g.emit(indent + 1, f"{block}, pos = read_long(buf, pos)")


def _gen_record(
    g: _Gen, t: dict[str, Any], target: str, indent: int, fields: Collection[str] | None = None
) -> None:
    """A record's fields into locals, then one dict display (cheaper than a store per
    field); with ``fields``, only those, the others skipped (projections)."""
    values = []
    for f in t["fields"]:
        if fields is None or f["name"] in fields:
            val = g.var("v")
            _gen_read(g, f["type"], val, indent)
            values.append(f"{f['name']!r}: {val}")
        else:
            _gen_skip(g, f["type"], indent)
    g.emit(indent, f"{target} = {{{', '.join(values)}}}")


def _gen_write(g: _Gen, t: Any, source: str, indent: int) -> None:
    t = _type_key(t)
    if isinstance(t, str):
        if t == "string":
            # Inline: most strings are shorter than 64 bytes (a one-byte length).
            g.emit(indent, f"data = {source}.encode('utf-8')")
            g.emit(indent, "if len(data) < 64:")
            g.emit(indent + 1, "out.append(len(data) << 1)")
            g.emit(indent, "else:")
            g.emit(indent + 1, "write_long(out, len(data))")
            g.emit(indent, "out += data")
            return
        if t == "long":
            # Inline the varint loop: timestamps take six bytes.
            g.emit(indent, f"n = {source}")
            g.emit(indent, "if not -0x8000000000000000 <= n <= 0x7FFFFFFFFFFFFFFF:")
            g.emit(indent + 1, "raise ValueError(f'{n} does not fit an Avro long')")
            g.emit(indent, "n = (n << 1) ^ (n >> 63)")
            g.emit(indent, "while n & ~0x7F:")
            g.emit(indent + 1, "out.append((n & 0x7F) | 0x80)")
            g.emit(indent + 1, "n >>= 7")
            g.emit(indent, "out.append(n)")
            return
        if t in _PRIMITIVES:
            g.emit(indent, f"write_{t}(out, {source})")
            return
        if t == "null":
            g.emit(indent, f"if {source} is not None:")
            g.emit(indent + 1, f"raise TypeError(f'{{{source}!r}} is not null')")
            return
        raise UnsupportedSchema(t)
    if isinstance(t, list):
        if len(t) == 2 and t[0] == "null":
            g.emit(indent, f"if {source} is None:")
            g.emit(indent + 1, "out.append(0)")
            g.emit(indent, "else:")
            g.emit(indent + 1, "out.append(2)")
            _gen_write(g, t[1], source, indent + 1)
            return
        raise UnsupportedSchema(t)
    if isinstance(t, dict) and t.get("type") == "array":
        item = g.var("item")
        seq = g.var("seq")
        g.emit(indent, f"{seq} = {source}")
        g.emit(indent, f"if {seq}:")
        g.emit(indent + 1, f"write_long(out, len({seq}))")
        g.emit(indent + 1, f"for {item} in {seq}:")
        _gen_write(g, t["items"], item, indent + 2)
        g.emit(indent, "out.append(0)")
        return
    if isinstance(t, dict) and t.get("type") == "record":
        for f in t["fields"]:
            _gen_write(g, f["type"], f"{source}[{f['name']!r}]", indent)
        return
    raise UnsupportedSchema(t)


def _gen_skip(g: _Gen, t: Any, indent: int) -> None:
    """Code that moves ``pos`` past a value of type ``t`` without building it (projections)."""
    t = _type_key(t)
    if isinstance(t, str):
        if t in ("string", "bytes"):
            g.emit(indent, "n, pos = read_long(buf, pos)")
            g.emit(indent, "if n < 0 or pos + n > size:")
            g.emit(indent + 1, "raise ValueError('length out of range')")
            g.emit(indent, "pos += n")
            return
        if t in ("long", "int"):
            g.emit(indent, "while buf[pos] & 0x80:")
            g.emit(indent + 1, "pos += 1")
            g.emit(indent, "pos += 1")
            return
        if t == "boolean":
            g.emit(indent, "if buf[pos] > 1:")
            g.emit(indent + 1, "raise ValueError(f'invalid boolean byte {buf[pos]}')")
            g.emit(indent, "pos += 1")
            return
        if t in ("double", "float"):
            width = 8 if t == "double" else 4
            g.emit(indent, f"if pos + {width} > size:")
            g.emit(indent + 1, f"raise ValueError('truncated {t}')")
            g.emit(indent, f"pos += {width}")
            return
        if t == "null":
            return
        raise UnsupportedSchema(t)
    if isinstance(t, list):
        if len(t) == 2 and t[0] == "null":
            g.emit(indent, "branch = buf[pos]")
            g.emit(indent, "pos += 1")
            g.emit(indent, "if branch == 2:")
            _gen_skip(g, t[1], indent + 1)
            g.emit(indent, "elif branch != 0:")
            g.emit(indent + 1, "raise ValueError(f'union branch byte {branch} out of range')")
            return
        raise UnsupportedSchema(t)
    if isinstance(t, dict) and t.get("type") == "array":
        _gen_array_blocks(g, indent, lambda at: _gen_skip(g, t["items"], at))
        return
    if isinstance(t, dict) and t.get("type") == "record":
        for f in t["fields"]:
            _gen_skip(g, f["type"], indent)
        return
    raise UnsupportedSchema(t)


_RUNTIME = {
    name: obj
    for name, obj in dict(globals()).items()
    if name.startswith(("read_", "write_")) and callable(obj)
}


def compile_decoder(schema: dict[str, Any], fields: Collection[str] | None = None) -> Decoder:
    """A function ``(buf, pos) -> (record dict, end pos)`` for a parsed record schema.

    With ``fields``, a projection: the record holds only those top-level fields, and the
    others are skipped (their bytes are walked, so the end position and the framing are
    checked, but not decoded: a skipped string's UTF-8 is not validated).
    """
    g = _Gen()
    g.emit(0, "def decode(buf, pos):")
    g.emit(1, "size = len(buf)")
    if fields is None:
        _gen_read(g, schema, "record", 1)
    elif schema.get("type") == "record":
        _gen_record(g, schema, "record", 1, fields)
    else:
        raise UnsupportedSchema(schema)
    g.emit(1, "return record, pos")
    namespace: dict[str, Any] = dict(_RUNTIME)
    exec("\n".join(g.lines), namespace)  # generated from our own schema files
    return cast(Decoder, namespace["decode"])


def compile_encoder(schema: dict[str, Any]) -> Encoder:
    """A function ``(record dict) -> bytes`` for a parsed record schema."""
    g = _Gen()
    g.emit(0, "def encode(record):")
    g.emit(1, "out = bytearray()")
    _gen_write(g, schema, "record", 1)
    g.emit(1, "return bytes(out)")
    namespace: dict[str, Any] = dict(_RUNTIME)
    exec("\n".join(g.lines), namespace)  # generated from our own schema files
    return cast(Encoder, namespace["encode"])


ColumnDecoder = Callable[[bytes, int, Sequence[Callable[[Any], None]]], int]


def compile_column_decoder(schema: dict[str, Any]) -> ColumnDecoder:
    """A function ``(buf, pos, appenders) -> end pos`` that appends each top-level field's
    value to its column (``appenders[i]`` is ``columns[i].append``).

    The sink builds Arrow columns straight from these lists: no dict per record.
    """
    if schema.get("type") != "record":
        raise UnsupportedSchema(schema)
    g = _Gen()
    names = [f"a{i}" for i in range(len(schema["fields"]))]
    g.emit(0, "def decode_into(buf, pos, appenders):")
    g.emit(1, "size = len(buf)")
    if names:
        g.emit(1, f"{', '.join(names)}{',' if len(names) == 1 else ''} = appenders")
    for name, f in zip(names, schema["fields"], strict=True):
        val = g.var("v")
        _gen_read(g, f["type"], val, 1)
        g.emit(1, f"{name}({val})")
    g.emit(1, "return pos")
    namespace: dict[str, Any] = dict(_RUNTIME)
    exec("\n".join(g.lines), namespace)  # generated from our own schema files
    return cast(ColumnDecoder, namespace["decode_into"])
