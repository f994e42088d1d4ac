"""The ``state-json`` Faust codec: agents' table values (frozen policy dataclasses) as JSON.

Table changelogs outlive code versions and anyone with broker access can write to them, so
they hold plain JSON naming only the dataclasses listed in :data:`STATE_TYPES`, never pickle.
Tuples, frozensets and dict keys are tagged so a value decodes to exactly what was stored.
A field appended to a dataclass with a default reads older values as that default; any
other layout change is handled by rebuilding the table from the topics (design.md §4: all
state can be recomputed by replaying), not by migrating changelog records.
"""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from typing import Any

import orjson
from faust.serializers import codecs

from pipeline.errors import SchemaError
from pipeline.policy.customer_state import CurrencyTotal, CustomerState, PurchaseRecord
from pipeline.policy.reply_attribution import CustomerMessages, MessageTrack, RateFact
from pipeline.policy.reply_rate import Message, ScopeWindow
from pipeline.policy.sla import Conversation
from pipeline.policy.tag_timeline import TaggedCustomer

STATE_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        CurrencyTotal,
        CustomerState,
        PurchaseRecord,
        TaggedCustomer,
        CustomerMessages,
        MessageTrack,
        RateFact,
        Message,
        ScopeWindow,
        Conversation,
    )
}
_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls)) for cls in STATE_TYPES.values()
}


_SCALARS = frozenset({type(None), bool, int, float, str})
_SORT_KEYS: dict[str, str] = {}  # tag → its JSON text: frozensets sort by it, tags repeat
_SORTED_TAGS: dict[frozenset[str], list[str]] = {}  # a tag set → its tags in stored order


def _sort_key(text: str) -> str:
    key = _SORT_KEYS.get(text)
    if key is None:
        key = json.dumps(text)
        if len(_SORT_KEYS) < 10_000:  # tags are a handful of constants; bound it anyway
            _SORT_KEYS[text] = key
    return key


def _sorted_tags(tags: frozenset[str]) -> list[str]:
    """``tags`` in stored order; a customer's tags are one of a few hundred sets
    (pipeline/policy/tags.py), so each is sorted once. Callers must not change the list."""
    found = _SORTED_TAGS.get(tags)
    if found is None:
        found = sorted(tags, key=_sort_key)
        if len(_SORTED_TAGS) < 10_000:
            _SORTED_TAGS[tags] = found
    return found


def _plain_customer(value: TaggedCustomer) -> dict[str, Any]:
    """:func:`to_plain` of the engagement table's value, written out: one per table write.

    The same structure the generic path builds (tests/agents/test_policies.py compares them);
    spelled out because the generic recursion cost more than the fold it stores.
    """
    s = value.state
    purchases = [
        {"@": "PurchaseRecord", "f": [p.ts_ms, p.amount_minor, p.currency, p.order_id]}
        for p in s.purchases
    ]
    totals = [{"@": "CurrencyTotal", "f": [t.currency, t.orders, t.amount_minor]} for t in s.totals]
    state = {
        "@": "CustomerState",
        "f": [
            {"t": purchases},
            {"t": totals},
            s.horizon_ms,
            s.watermark_ms,
            s.last_inbound_ms,
            s.last_read_ms,
            s.last_reply_ms,
            s.last_click_ms,
            s.last_marketing_ms,
            s.opted_out,
            s.consent_ts_ms,
            s.consent_source,
        ],
    }
    tags = _sorted_tags(value.tags)
    before, source = value.changed_from, value.changed_by
    return {
        "@": "TaggedCustomer",
        "f": [
            state,
            {"s": tags},
            value.judged_ms,
            value.next_change_ms,
            value.stamped_ms,
            None if before is None else {"s": _sorted_tags(before)},
            None if source is None else {"t": list(source)},
        ],
    }


def _plain_scope_window(value: ScopeWindow) -> dict[str, Any]:
    """:func:`to_plain` of a reply-rate window, written out: a business number's window holds
    every message of a day and is stored after each batch, so the generic recursion was a
    fifth of the demo worker's CPU. The same structure (tests/policy/test_scope_window.py)."""
    messages = [
        {
            "t": [
                wamid,
                {"@": "Message", "f": [m.sent_ms, m.delivered_ms, m.failed_ms, m.replied_ms]},
            ]
        }
        for wamid, m in value.messages
    ]
    return {
        "@": "ScopeWindow",
        "f": [{"t": messages}, value.watermark_ms, value.judged_ms, {"t": list(value.firing)}],
    }


def _layout_is(cls: type, names: tuple[str, ...]) -> bool:
    return _FIELDS[cls] == names


# The written-out encoder holds only while the dataclasses keep these fields in this order.
_FAST_CUSTOMER = (
    _layout_is(
        TaggedCustomer,
        (
            "state",
            "tags",
            "judged_ms",
            "next_change_ms",
            "stamped_ms",
            "changed_from",
            "changed_by",
        ),
    )
    and _layout_is(PurchaseRecord, ("ts_ms", "amount_minor", "currency", "order_id"))
    and _layout_is(CurrencyTotal, ("currency", "orders", "amount_minor"))
    and _layout_is(
        CustomerState,
        (
            "purchases",
            "totals",
            "horizon_ms",
            "watermark_ms",
            "last_inbound_ms",
            "last_read_ms",
            "last_reply_ms",
            "last_click_ms",
            "last_marketing_ms",
            "opted_out",
            "consent_ts_ms",
            "consent_source",
        ),
    )
)


_FAST_SCOPE_WINDOW = _layout_is(
    ScopeWindow, ("messages", "watermark_ms", "judged_ms", "firing")
) and _layout_is(Message, ("sent_ms", "delivered_ms", "failed_ms", "replied_ms"))


def to_plain(value: Any) -> Any:
    cls = type(value)
    if cls in _SCALARS:  # exact types first: this runs for every field of every table write
        return value
    if cls is TaggedCustomer and _FAST_CUSTOMER:
        return _plain_customer(value)
    if cls is ScopeWindow and _FAST_SCOPE_WINDOW:
        return _plain_scope_window(value)
    names = _FIELDS.get(cls)
    if names is not None:
        return {"@": cls.__name__, "f": [to_plain(getattr(value, n)) for n in names]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"t": [to_plain(v) for v in value]}
    if isinstance(value, frozenset):
        return {"s": sorted((to_plain(v) for v in value), key=json.dumps)}
    if is_dataclass(value) and type(value) in _FIELDS:
        cls = type(value)
        return {"@": cls.__name__, "f": [to_plain(getattr(value, n)) for n in _FIELDS[cls]]}
    raise SchemaError(f"cannot store {type(value).__name__} in a table; add it to STATE_TYPES")


def from_plain(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "t" in value:
        return tuple(from_plain(v) for v in value["t"])
    if "s" in value:
        return frozenset(from_plain(v) for v in value["s"])
    cls = STATE_TYPES.get(value.get("@", ""))
    if cls is None:
        raise SchemaError(f"table value names unknown type {value.get('@')!r}")
    names, stored = _FIELDS[cls], value["f"]
    if len(stored) > len(names):
        raise TypeError(f"{cls.__name__} has {len(names)} fields, the value {len(stored)}")
    # Fields appended since the value was written take their defaults (zip stops short).
    return cls(**dict(zip(names, (from_plain(v) for v in stored), strict=False)))


#: Encoded messages the codec remembers; past this it starts again (bounded memory).
MESSAGE_TEXTS_MAX = 50_000


class StateJsonCodec(codecs.Codec):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # id(Message) → (the Message, its wamid, its JSON text). A window is stored after
        # every batch but changes in a few messages only, and an unchanged message is the
        # same object in the next version of the window (apply_fact splices): encode it once.
        self._message_texts: dict[int, tuple[Message, str, str]] = {}

    def _dumps(self, obj: Any) -> bytes:
        if type(obj) is ScopeWindow and _FAST_SCOPE_WINDOW:
            return self._dumps_scope_window(obj)
        # orjson: a customer's value in 0.8 µs instead of json's 13 µs (issue 6's benchmark);
        # the same compact JSON, with non-ASCII text as UTF-8 rather than \u escapes.
        return orjson.dumps(to_plain(obj))

    def _dumps_scope_window(self, window: ScopeWindow) -> bytes:
        """The bytes ``json.dumps(to_plain(window))`` gives, from remembered message texts."""
        texts = self._message_texts
        parts: list[str] = []
        for wamid, m in window.messages:
            known = texts.get(id(m))
            if known is None or known[0] is not m or known[1] != wamid:
                if len(texts) >= MESSAGE_TEXTS_MAX:
                    texts.clear()
                plain = {"t": [wamid, to_plain(m)]}
                known = (m, wamid, json.dumps(plain, separators=(",", ":")))
                texts[id(m)] = known
            parts.append(known[2])
        rest = json.dumps(
            [window.watermark_ms, window.judged_ms, {"t": list(window.firing)}],
            separators=(",", ":"),
        )
        text = '{"@":"ScopeWindow","f":[{"t":[' + ",".join(parts) + "]}," + rest[1:] + "}"
        return text.encode("utf-8")

    def _loads(self, s: bytes) -> Any:
        try:
            return from_plain(orjson.loads(s))
        except (TypeError, ValueError, KeyError) as exc:
            raise SchemaError(
                f"table value does not decode ({exc}); the state layout changed: rebuild the "
                "table by resetting the app id (new WAPIPE_APP_ID) so agents replay the topics"
            ) from exc


def use_state_codec(table: Any) -> None:
    """Make ``table`` store UTF-8 keys and ``state-json`` values in its changelog.

    Faust derives a table's serializers from its key/value *types* (``json`` for anything
    but Records). Writes take the table's serializers, but recovery decodes with the
    changelog topic's, and ``app.Table`` has already built that topic (the table manager
    names it on registration) with ``json``: a restarted worker then read customer keys back
    as ints and failed on every ``campaign:…`` key, so recovery never reached the end of the
    changelog (issue 6). Rebuild the topic with the serializers the writes use.
    """
    register_state_codec()
    table.value_serializer = "state-json"
    use_utf8_keys(table)


def use_utf8_keys(table: Any) -> None:
    """Make ``table`` write its keys to the changelog as the producers of its source did.

    Faust's default for ``str`` keys is ``json``, so the changelog key of ``123`` is ``"123"``
    (quoted). A table with ``use_partitioner=True`` lets the producer hash that key: the
    quotes sent 150 of 200 customers to another partition than their source events, which
    breaks "changelog partition = source partition" as soon as two workers share the
    partitions. The changelog topic is rebuilt so recovery decodes what the writes encode.
    """
    table.key_serializer = "utf8"
    table.changelog_topic = table._new_changelog_topic()


_registered = False


def register_state_codec() -> None:
    """Register ``state-json`` with Faust (idempotent)."""
    global _registered  # Faust's codec registry is process-wide
    if not _registered:
        codecs.register("state-json", StateJsonCodec())
        _registered = True


__all__ = [
    "STATE_TYPES",
    "StateJsonCodec",
    "from_plain",
    "register_state_codec",
    "to_plain",
    "use_state_codec",
    "use_utf8_keys",
]
