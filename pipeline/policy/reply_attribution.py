"""Which delivered message a customer's reply answers, and the rate facts that follow (issue 6).

design.md §6: reply rate = delivered messages answered by the customer within 24 h / delivered.
A reply is credited to the message its ``context`` names, else to the latest message delivered
to that customer at or before the reply; each reply credits one message, a message counts as
answered once (its first credited reply).

The reply-rate agent keeps a :class:`CustomerMessages` per customer (receipts, send results and
inbound messages are all customer-keyed, so this needs no repartition) and publishes the
difference between :func:`rate_facts` before and after each batch. Everything is a function of
the *set* of events seen, never of their arrival order, so a late receipt that moves a credit
from one message to another is published as ``unreplied`` + ``replied`` and a replay ends in
the same facts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

FactKind = Literal["sent", "delivered", "failed", "replied", "unreplied"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageTrack:
    """What is known about one outbound message (one wamid)."""

    wamid: str
    business_number_id: str
    campaign_id: str | None = None
    sent_ms: int | None = None
    delivered_ms: int | None = None
    failed_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RateFact:
    """One thing a rate window needs to know about a message, for one scope."""

    scope: str  # "number:<business_number_id>" or "campaign:<campaign_id>"
    wamid: str
    kind: FactKind
    ts_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerMessages:
    """One customer's recent outbound messages and replies, and the facts already published."""

    messages: tuple[MessageTrack, ...] = ()  # by wamid
    replies: tuple[tuple[int, str | None], ...] = ()  # (ts_ms, context wamid), sorted
    published: frozenset[RateFact] = frozenset()
    watermark_ms: int | None = None


def _earliest(current: int | None, ts: int | None) -> int | None:
    if ts is None:
        return current
    return ts if current is None or ts < current else current


def note_message(
    state: CustomerMessages,
    *,
    wamid: str,
    business_number_id: str,
    ts_ms: int,
    campaign_id: str | None = None,
    status: str | None = None,
) -> CustomerMessages:
    """Fold a send result (``status=None``: accepted) or a receipt into the message's track.

    Times are minima, so redelivery and reordering change nothing.
    """
    tracks = {m.wamid: m for m in state.messages}
    track = tracks.get(wamid) or MessageTrack(wamid=wamid, business_number_id=business_number_id)
    if campaign_id and not track.campaign_id:
        track = replace(track, campaign_id=campaign_id)
    if status in (None, "sent"):
        track = replace(track, sent_ms=_earliest(track.sent_ms, ts_ms))
    elif status in ("delivered", "read"):
        # a read implies delivery; the receipt of the delivery itself may be missing
        track = replace(track, delivered_ms=_earliest(track.delivered_ms, ts_ms))
    elif status == "failed":
        track = replace(track, failed_ms=_earliest(track.failed_ms, ts_ms))
    tracks[wamid] = track
    return _advanced(state, ts_ms, messages=tuple(tracks[w] for w in sorted(tracks)))


def note_reply(state: CustomerMessages, *, ts_ms: int, context_id: str | None) -> CustomerMessages:
    reply = (ts_ms, context_id)
    if reply in state.replies:
        return state
    return _advanced(state, ts_ms, replies=tuple(sorted((*state.replies, reply), key=_reply_key)))


def _reply_key(reply: tuple[int, str | None]) -> tuple[int, str]:
    return reply[0], reply[1] or ""


def _advanced(
    state: CustomerMessages,
    ts_ms: int,
    *,
    messages: tuple[MessageTrack, ...] | None = None,
    replies: tuple[tuple[int, str | None], ...] | None = None,
) -> CustomerMessages:
    watermark = ts_ms if state.watermark_ms is None else max(state.watermark_ms, ts_ms)
    return replace(
        state,
        messages=state.messages if messages is None else messages,
        replies=state.replies if replies is None else replies,
        watermark_ms=watermark,
    )


def forget_before(state: CustomerMessages, horizon_ms: int) -> CustomerMessages:
    """Drop messages and replies that can no longer change any window (older than horizon)."""

    def last_seen(m: MessageTrack) -> int:
        return max(t for t in (m.sent_ms, m.delivered_ms, m.failed_ms, 0) if t is not None)

    messages = tuple(m for m in state.messages if last_seen(m) >= horizon_ms)
    replies = tuple(r for r in state.replies if r[0] >= horizon_ms)
    kept = {m.wamid for m in messages}
    published = frozenset(f for f in state.published if f.wamid in kept)
    return replace(state, messages=messages, replies=replies, published=published)


def forget_settled(
    state: CustomerMessages, *, window_ms: int, lateness_ms: int
) -> CustomerMessages:
    """Drop what no event within the lateness can change any more, so credits do not depend
    on the order the topics' partitions deliver.

    An event may arrive up to ``lateness_ms`` behind the newest time seen (the condition for
    replay determinism, docs/agents.md), and a reply credits a message delivered up to
    ``window_ms`` away from it. So messages are kept ``window + lateness`` (at least three
    windows) behind the watermark, and replies one window longer, so a kept message keeps the
    replies that decided its credit. Forgetting at a fixed three windows made credits depend on
    arrival order: after a SIGKILL the restarted worker read the backlog of one topic ahead of
    another, a receipt weeks later pushed the watermark past an earlier message, and the reply
    to that message, read next, found it forgotten (issue 6: 2–4 credits differed).
    """
    if state.watermark_ms is None:
        return state
    horizon_ms = state.watermark_ms - max(3 * window_ms, window_ms + lateness_ms)
    forgotten = forget_before(state, horizon_ms)
    replies = tuple(r for r in state.replies if r[0] >= horizon_ms - window_ms)
    return replace(forgotten, replies=replies)


def credited_replies(
    messages: Iterable[MessageTrack], replies: Iterable[tuple[int, str | None]], *, window_ms: int
) -> dict[str, int]:
    """wamid → time of the first reply credited to it (within ``window_ms`` of delivery)."""
    delivered = sorted(
        ((m.delivered_ms, m.wamid) for m in messages if m.delivered_ms is not None),
    )
    times = [ts for ts, _ in delivered]
    delivered_at = {wamid: ts for ts, wamid in delivered}
    credited: dict[str, int] = {}
    for ts, context in sorted(replies, key=_reply_key):
        if context is not None and context in delivered_at:
            target = context
        else:
            i = bisect_right(times, ts) - 1
            if i < 0:
                continue  # a message before anything was delivered: not a reply
            target = delivered[i][1]
        if abs(ts - delivered_at[target]) <= window_ms and target not in credited:
            credited[target] = ts
    return credited


def scopes_of(track: MessageTrack) -> tuple[str, ...]:
    number = f"number:{track.business_number_id}"
    return (number, f"campaign:{track.campaign_id}") if track.campaign_id else (number,)


def rate_facts(state: CustomerMessages, *, window_ms: int) -> frozenset[RateFact]:
    """Every fact this customer's messages contribute to the rate windows."""
    credited = credited_replies(state.messages, state.replies, window_ms=window_ms)
    facts: set[RateFact] = set()
    for m in state.messages:
        stamps: list[tuple[FactKind, int | None]] = [
            (
                "sent",
                m.sent_ms if m.sent_ms is not None else _earliest(m.delivered_ms, m.failed_ms),
            ),
            ("delivered", m.delivered_ms),
            ("failed", m.failed_ms if m.delivered_ms is None else None),
            ("replied", credited.get(m.wamid)),
        ]
        for scope in scopes_of(m):
            for kind, ts in stamps:
                if ts is not None:
                    facts.add(RateFact(scope=scope, wamid=m.wamid, kind=kind, ts_ms=ts))
    return frozenset(facts)


def publish(state: CustomerMessages, *, window_ms: int) -> tuple[CustomerMessages, list[RateFact]]:
    """The facts to publish since the last call: new ones, and retractions of stale ones.

    Only ``replied`` and ``failed`` can become untrue (a credit moves; a late delivery receipt
    overrides a failure); they are retracted as ``unreplied`` / a ``delivered`` fact.
    """
    now = rate_facts(state, window_ms=window_ms)
    out = [
        RateFact(scope=f.scope, wamid=f.wamid, kind="unreplied", ts_ms=f.ts_ms)
        for f in sorted(state.published - now, key=_fact_key)
        if f.kind == "replied"
    ]
    out += sorted(now - state.published, key=_fact_key)
    return replace(state, published=now), out


def _fact_key(fact: RateFact) -> tuple[int, str, str, str]:
    return fact.ts_ms, fact.scope, fact.wamid, fact.kind


__all__ = [
    "CustomerMessages",
    "FactKind",
    "MessageTrack",
    "RateFact",
    "credited_replies",
    "forget_before",
    "forget_settled",
    "note_message",
    "note_reply",
    "publish",
    "rate_facts",
    "scopes_of",
]
