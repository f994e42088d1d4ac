"""Reply-rate and delivery-rate alarms over a sliding window, with hysteresis (design.md §6).

One :class:`ScopeWindow` per scope (a business number or a campaign) folds the
:class:`~pipeline.policy.reply_attribution.RateFact` stream. At an instant ``t`` the window
``(t − window, t]`` holds:

* reply rate = messages delivered in the window and answered by ``t`` / delivered in the window;
* delivery rate = messages sent in the window and delivered by ``t`` / sent in the window.

Alarms are judged at event-time instants only, never on arrival: every instant where a count
can change (a fact's time, or a fact leaving the window), rounded up to ``step_ms``, up to the
scope's watermark (latest fact time) minus ``lateness_ms``. Facts that arrive within the
lateness therefore count as if they had come in order, which makes the alarm sequence the same
on every replay as long as the partitions feeding the scope are never more than the lateness
apart in event time (issue 6). A rate alarm fires below ``fire_below`` with at least
``min_sample`` messages and resolves at ``resolve_at`` or above, again only with at least
``min_sample`` messages: too few messages is no evidence either way, so the state holds.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import Literal

from pipeline.policy.reply_attribution import RateFact

RateKind = Literal["reply_rate", "delivery_rate"]
RATE_KINDS: tuple[RateKind, ...] = ("reply_rate", "delivery_rate")


@dataclass(frozen=True, slots=True, kw_only=True)
class RateThresholds:
    fire_below: float
    resolve_at: float
    min_sample: int

    def __post_init__(self) -> None:
        if not 0 <= self.fire_below <= self.resolve_at <= 1:
            raise ValueError(
                f"need 0 ≤ fire_below ≤ resolve_at ≤ 1, got {self.fire_below}, {self.resolve_at}"
            )
        if self.min_sample < 1:
            raise ValueError("min_sample must be ≥ 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class RateAlarmPolicy:
    reply: RateThresholds = RateThresholds(fire_below=0.05, resolve_at=0.06, min_sample=100)
    delivery: RateThresholds = RateThresholds(fire_below=0.85, resolve_at=0.88, min_sample=100)
    window_ms: int = 24 * 3_600_000
    lateness_ms: int = 300_000
    step_ms: int = 60_000  # judging instants are rounded up to this grid

    def thresholds(self, kind: RateKind) -> RateThresholds:
        return self.reply if kind == "reply_rate" else self.delivery


def next_firing(firing: bool, *, hits: int, sample: int, thresholds: RateThresholds) -> bool:
    """Hysteresis: the alarm's state after observing ``hits`` of ``sample``."""
    if sample < thresholds.min_sample:
        return firing
    rate = hits / sample
    if firing:
        return rate < thresholds.resolve_at
    return rate < thresholds.fire_below


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    sent_ms: int | None = None
    delivered_ms: int | None = None
    failed_ms: int | None = None
    replied_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RateSample:
    sent: int
    delivered_of_sent: int
    delivered: int
    replied: int

    def hits_and_sample(self, kind: RateKind) -> tuple[int, int]:
        if kind == "reply_rate":
            return self.replied, self.delivered
        return self.delivered_of_sent, self.sent


@dataclass(frozen=True, slots=True, kw_only=True)
class RateTransition:
    kind: RateKind
    firing: bool
    at_ms: int
    value: float
    sample: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopeWindow:
    messages: tuple[tuple[str, Message], ...] = ()  # by wamid
    watermark_ms: int | None = None
    judged_ms: int | None = None  # every instant up to here has been judged
    firing: tuple[RateKind, ...] = ()


def _wamid(entry: tuple[str, Message]) -> str:
    return entry[0]


def message_with(m: Message, fact: RateFact) -> Message:
    """``m`` after ``fact``: times are minima; a retraction only undoes its own reply."""
    ts = fact.ts_ms
    if fact.kind == "sent":
        return replace(m, sent_ms=ts if m.sent_ms is None else min(m.sent_ms, ts))
    if fact.kind == "delivered":
        return replace(m, delivered_ms=ts if m.delivered_ms is None else min(m.delivered_ms, ts))
    if fact.kind == "failed":
        return replace(m, failed_ms=ts if m.failed_ms is None else min(m.failed_ms, ts))
    if fact.kind == "replied":
        return replace(m, replied_ms=ts)
    if fact.kind == "unreplied" and m.replied_ms == ts:
        return replace(m, replied_ms=None)
    return m


def apply_fact(window: ScopeWindow, fact: RateFact) -> ScopeWindow:
    """Fold one fact (idempotent: times are minima; a retraction only undoes its own reply)."""
    # ``messages`` stays sorted by wamid: find the one entry by bisection and splice it in.
    # Rebuilding and re-sorting the whole window per fact cost O(n log n) in Python, and a
    # business number's window holds every message of a day (thousands in the demo).
    messages = window.messages
    i = bisect_left(messages, fact.wamid, key=_wamid)
    found = i < len(messages) and messages[i][0] == fact.wamid
    m = message_with(messages[i][1] if found else Message(), fact)
    updated = (*messages[:i], (fact.wamid, m), *messages[i + 1 if found else i :])
    ts = fact.ts_ms
    watermark = ts if window.watermark_ms is None else max(window.watermark_ms, ts)
    return replace(window, messages=updated, watermark_ms=watermark)


def sample_at(window: ScopeWindow, at_ms: int, *, window_ms: int) -> RateSample:
    since = at_ms - window_ms
    sent = delivered_of_sent = delivered = replied = 0
    for _, m in window.messages:
        if m.sent_ms is not None and since < m.sent_ms <= at_ms:
            sent += 1
            if m.delivered_ms is not None and m.delivered_ms <= at_ms:
                delivered_of_sent += 1
        if m.delivered_ms is not None and since < m.delivered_ms <= at_ms:
            delivered += 1
            if m.replied_ms is not None and m.replied_ms <= at_ms:
                replied += 1
    return RateSample(
        sent=sent, delivered_of_sent=delivered_of_sent, delivered=delivered, replied=replied
    )


def _change_instants(
    window: ScopeWindow, *, after_ms: int, upto_ms: int, policy: RateAlarmPolicy
) -> list[int]:
    step = policy.step_ms
    instants: set[int] = set()
    for _, m in window.messages:
        for ts in (m.sent_ms, m.delivered_ms, m.replied_ms):
            if ts is None:
                continue
            for t in (ts, ts + policy.window_ms):
                at = -(-t // step) * step  # round up to the grid
                if after_ms < at <= upto_ms:
                    instants.add(at)
    return sorted(instants)


def _last_ms(m: Message) -> int:
    stamps = [t for t in (m.sent_ms, m.delivered_ms, m.replied_ms, m.failed_ms) if t is not None]
    return max(stamps) if stamps else 0


def judge(window: ScopeWindow, policy: RateAlarmPolicy) -> tuple[ScopeWindow, list[RateTransition]]:
    """Judge every instant the watermark has passed; return the alarm transitions in order."""
    if window.watermark_ms is None:
        return window, []
    upto = window.watermark_ms - policy.lateness_ms
    after = window.judged_ms if window.judged_ms is not None else -(2**62)
    if upto <= after:
        return window, []
    firing = set(window.firing)
    transitions: list[RateTransition] = []
    for at in _change_instants(window, after_ms=after, upto_ms=upto, policy=policy):
        sample = sample_at(window, at, window_ms=policy.window_ms)
        for kind in RATE_KINDS:
            hits, size = sample.hits_and_sample(kind)
            was = kind in firing
            now = next_firing(was, hits=hits, sample=size, thresholds=policy.thresholds(kind))
            if now != was:
                (firing.add if now else firing.discard)(kind)
                transitions.append(
                    RateTransition(kind=kind, firing=now, at_ms=at, value=hits / size, sample=size)
                )
    # A message whose every stamp is more than a window and a grid step before ``upto`` takes
    # part in no later sample and no later change instant: it can go. (Two windows were kept
    # before; a business number's window holds every message of a day, stored every batch.)
    horizon = upto - policy.window_ms - policy.step_ms
    kept = tuple((w, m) for w, m in window.messages if _last_ms(m) >= horizon)
    return (
        replace(
            window,
            messages=kept,
            judged_ms=upto,
            firing=tuple(k for k in RATE_KINDS if k in firing),
        ),
        transitions,
    )


__all__ = [
    "RATE_KINDS",
    "Message",
    "RateAlarmPolicy",
    "RateKind",
    "RateSample",
    "RateThresholds",
    "RateTransition",
    "ScopeWindow",
    "apply_fact",
    "judge",
    "next_firing",
    "sample_at",
]
