"""Typed reads from decoded JSON: each returns the value or raises PayloadError saying which.

Webhook and purchase payloads come from outside; every field is checked for type and range
here, so what reaches the Avro encoder always encodes (a string the codec cannot write would
otherwise fail after the request was accepted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pipeline.errors import PayloadError

#: Newest Unix time in seconds we accept (year 2286): keeps *_ms within Avro's long.
MAX_UNIX_S = 9_999_999_999
_DIGITS = re.compile(r"\d{1,20}")
# E.164 allows at most 15 digits; WhatsApp ids are E.164 digits without '+'.
_WA_ID = re.compile(r"\+?(\d{6,15})")


def encodable(text: str, *, what: str) -> str:
    """``text`` if it can be written as UTF-8 (JSON may carry lone surrogates), else refuse."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(f"{what} is not valid Unicode text") from None
    return text


def as_object(value: Any, *, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def as_list(value: Any, *, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise PayloadError(f"{what} must be a JSON array, got {type(value).__name__}")
    return value


def required_str(obj: Mapping[str, Any], key: str, *, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{what}.{key} is missing or not a non-empty string")
    return encodable(value, what=f"{what}.{key}")


def optional_str(obj: Mapping[str, Any], key: str, *, what: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{what}.{key} must be a string, got {type(value).__name__}")
    return encodable(value, what=f"{what}.{key}")


def optional_object(obj: Mapping[str, Any], key: str, *, what: str) -> Mapping[str, Any]:
    """The nested object at ``key``, or an empty mapping when absent."""
    value = obj.get(key)
    if value is None:
        return {}
    return as_object(value, what=f"{what}.{key}")


def unix_seconds_to_ms(value: Any, *, what: str) -> int:
    """Meta's timestamps: a string of Unix seconds on messages, an integer on preferences."""
    if isinstance(value, bool):
        raise PayloadError(f"{what} must be Unix seconds, got a boolean")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        seconds = int(value)
    else:
        raise PayloadError(f"{what} must be Unix seconds (digits), got {value!r:.40}")
    if not 0 <= seconds <= MAX_UNIX_S:
        raise PayloadError(f"{what} {seconds} is out of range for a Unix time in seconds")
    return seconds * 1000


def wa_digits(value: Any, *, what: str) -> str:
    """A WhatsApp id as E.164 digits without '+': the key of every customer topic."""
    if not isinstance(value, str) or not (match := _WA_ID.fullmatch(value)):
        raise PayloadError(f"{what} must be a WhatsApp id (6–15 digits), got {value!r:.40}")
    return match.group(1)


def compact_json(value: Any) -> str:
    """Raw JSON kept beside an event: readable when possible, always valid UTF-8."""
    # default=str: purchase rows carry Decimals (parsed exactly, never as floats).
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, separators=(",", ":"), default=str)  # escapes lone surrogates
    return text
