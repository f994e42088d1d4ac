"""A webhook body → the events to produce, and dead letters for the items that are not valid.

Meta batches up to 1,000 updates in one POST: every entry, every change, every item is read,
and a bad one never discards its neighbours (issue 3). Only a body that is not JSON at all is
refused as a whole (:class:`PayloadError` → HTTP 400); anything JSON is either turned into
events or kept in ``pipeline.deadletter.v1`` with the reason and the raw part.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pipeline import topics
from pipeline.deadletter import make_dead_letter
from pipeline.errors import PayloadError
from pipeline.events import Alarm, DeadLetter, Event
from pipeline.ingest.payload_fields import compact_json, optional_object, required_str
from pipeline.ingest.webhook_items import (
    ChangeContext,
    account_alarm,
    consent_event,
    message_event,
    profile_names,
    receipt_event,
)
from pipeline.topics import TopicSpec

SOURCE = "webhook"
#: Change fields whose ``value`` holds items wapipe turns into events.
HANDLED_FIELDS = frozenset({"messages", "user_preferences"})

ItemParser = Callable[[Any, ChangeContext], Event]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to produce."""

    topic: TopicSpec
    key: str
    event: Event


@dataclass(frozen=True, slots=True)
class ParsedWebhook:
    events: tuple[Outgoing, ...]
    dead_letters: tuple[DeadLetter, ...]

    def outgoing(self) -> Iterator[Outgoing]:
        """Everything to produce: the events, then the dead letters (keyed by source)."""
        yield from self.events
        for letter in self.dead_letters:
            yield Outgoing(topics.DEADLETTER, letter.source, letter)


#: list key in a change value → (topic, how to read one item, what its key is)
_ITEMS: tuple[tuple[str, TopicSpec, ItemParser], ...] = (
    ("messages", topics.INBOUND, message_event),
    ("statuses", topics.STATUS, receipt_event),
    ("user_preferences", topics.CONSENT, consent_event),
    ("errors", topics.ALARMS, account_alarm),
)


def decode_body(body: bytes) -> Any:
    """The JSON in ``body``; PayloadError when there is none."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise PayloadError(f"body is not JSON: {type(exc).__name__}") from None


class _Collector:
    def __init__(self, received_ms: int) -> None:
        self.received_ms = received_ms
        self.events: list[Outgoing] = []
        self.dead: list[DeadLetter] = []

    def reject(self, reason: str, raw: Any) -> None:
        self.dead.append(
            make_dead_letter(
                source=SOURCE,
                reason=reason,
                raw=compact_json(raw).encode("utf-8"),
                ts_ms=self.received_ms,
            )
        )


def parse_webhook(body: bytes, *, received_ms: int) -> ParsedWebhook:
    """Parse a whole webhook POST body. Raises PayloadError only when the body is not JSON."""
    return parse_envelope(decode_body(body), received_ms=received_ms)


def parse_envelope(envelope: Any, *, received_ms: int) -> ParsedWebhook:
    out = _Collector(received_ms)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("entry"), list):
        out.reject("envelope: expected an object with an 'entry' array", envelope)
    elif envelope.get("object") != "whatsapp_business_account":
        out.reject(f"envelope: object {envelope.get('object')!r:.60} is not handled", envelope)
    else:
        for entry in envelope["entry"]:
            _entry(entry, out)
    return ParsedWebhook(events=tuple(out.events), dead_letters=tuple(out.dead))


def _entry(entry: Any, out: _Collector) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
        out.reject("entry: expected an object with a 'changes' array", entry)
        return
    for change in entry["changes"]:
        _change(change, out)


def _change(change: Any, out: _Collector) -> None:
    if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
        out.reject("change: expected an object with a 'value' object", change)
        return
    field = change.get("field")
    if field not in HANDLED_FIELDS:
        # Other subscriptions (template status, account updates) are kept, not guessed at.
        out.reject(f"change: field {field!r:.60} is not handled", change)
        return
    value = change["value"]
    try:
        metadata = optional_object(value, "metadata", what="value")
        business_number_id = (
            required_str(metadata, "phone_number_id", what="metadata")
            if metadata or field == "messages"
            else ""
        )
    except PayloadError as exc:
        out.reject(f"change: {exc.reason}", change)
        return
    ctx = ChangeContext(
        business_number_id=business_number_id,
        profile_names=profile_names(value.get("contacts")),
        received_ms=out.received_ms,
    )
    for list_key, topic, parse_item in _ITEMS:
        items = value.get(list_key)
        if items is None:
            continue
        if not isinstance(items, list):
            out.reject(f"change: value.{list_key} is not an array", change)
            continue
        for item in items:
            try:
                event = parse_item(item, ctx)
            except PayloadError as exc:
                out.reject(exc.reason, item)
                continue
            out.events.append(Outgoing(topic, _key(event), event))


def _key(event: Event) -> str:
    # Customer-keyed topics use the customer's digits; alarms are keyed by their own id.
    return event.alarm_id if isinstance(event, Alarm) else str(getattr(event, "customer", ""))
