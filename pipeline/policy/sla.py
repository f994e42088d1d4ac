"""Unanswered conversations: a customer waiting too long for a business reply (design.md §6).

A customer message starts a wait; a business reply (an accepted service message: auto-reply,
agent or API answer) at or after it ends every wait up to the reply. The alarm fires when the
oldest open wait is older than ``sla_ms`` at the judging instant, and resolves at the reply
that ends it. Judging instants are event times (a later message from anyone in the partition,
or a sweep tick carrying the injectable clock's time), never the worker's clock directly, so a
replay of the same log gives the same alarms.

High-value customers (``value:high`` or ``vip``) get ``priority`` alarms, listed first by
``wapipe alarms``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipeline.policy.tags import VALUE_HIGH, VIP

HIGH_VALUE_TAGS = frozenset({VALUE_HIGH, VIP})
#: Origins whose accepted messages answer a customer (a campaign message does not).
REPLY_ORIGINS = frozenset({"autoreply", "agent", "api"})
#: Bound on remembered waiting messages per customer (the oldest matters; the rest are spares).
MAX_WAITING = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    waiting: tuple[int, ...] = ()  # customer message times after the last reply, sorted
    last_reply_ms: int | None = None
    judged_ms: int | None = None
    firing_since_ms: int | None = None  # the wait the firing alarm is about
    tags: frozenset[str] = frozenset()

    @property
    def firing(self) -> bool:
        return self.firing_since_ms is not None

    @property
    def high_value(self) -> bool:
        return bool(self.tags & HIGH_VALUE_TAGS)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaTransition:
    firing: bool
    at_ms: int
    waiting_since_ms: int
    priority: bool


def customer_wrote(conv: Conversation, ts_ms: int) -> Conversation:
    if conv.last_reply_ms is not None and ts_ms <= conv.last_reply_ms:
        return conv  # already answered (a late or redelivered message)
    if ts_ms in conv.waiting:
        return conv
    waiting = tuple(sorted((*conv.waiting, ts_ms)))[:MAX_WAITING]
    return replace(conv, waiting=waiting)


def business_replied(conv: Conversation, ts_ms: int) -> tuple[Conversation, SlaTransition | None]:
    last = ts_ms if conv.last_reply_ms is None else max(conv.last_reply_ms, ts_ms)
    waiting = tuple(t for t in conv.waiting if t > last)
    conv = replace(conv, waiting=waiting, last_reply_ms=last)
    if conv.firing_since_ms is not None and conv.firing_since_ms <= last:
        transition = SlaTransition(
            firing=False,
            at_ms=ts_ms,
            waiting_since_ms=conv.firing_since_ms,
            priority=conv.high_value,
        )
        return replace(conv, firing_since_ms=None), transition
    return conv, None


def judge(
    conv: Conversation, at_ms: int, *, sla_ms: int
) -> tuple[Conversation, SlaTransition | None]:
    """Fire if the oldest open wait has passed the SLA at ``at_ms`` (judging never goes back)."""
    at = at_ms if conv.judged_ms is None else max(conv.judged_ms, at_ms)
    conv = replace(conv, judged_ms=at)
    if conv.firing or not conv.waiting:
        return conv, None
    oldest = conv.waiting[0]
    if at - oldest > sla_ms:
        transition = SlaTransition(
            firing=True,
            at_ms=oldest + sla_ms + 1,
            waiting_since_ms=oldest,
            priority=conv.high_value,
        )
        return replace(conv, firing_since_ms=oldest), transition
    return conv, None


def next_due_ms(conv: Conversation, *, sla_ms: int) -> int | None:
    """When time alone will fire this conversation's alarm; None if it will not."""
    if conv.firing or not conv.waiting:
        return None
    return conv.waiting[0] + sla_ms + 1


__all__ = [
    "HIGH_VALUE_TAGS",
    "MAX_WAITING",
    "REPLY_ORIGINS",
    "Conversation",
    "SlaTransition",
    "business_replied",
    "customer_wrote",
    "judge",
    "next_due_ms",
]
