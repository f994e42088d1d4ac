"""Engagement tags (design.md §5) read off a customer's state, with the reason for each.

The engagement agent recomputes :func:`compute_tags` after folding an event (see
:mod:`pipeline.policy.customer_state`) and publishes :func:`diff_tags` as TagChange events; a
periodic sweep asks :func:`next_tag_change_ms` when time alone will change a tag (hot → warm →
cold → dormant, purchases leaving the 90-day window).

"Within N days" is inclusive everywhere: an interaction exactly 7 days old is still hot, a
purchase exactly 90 days old still counts; one millisecond later it does not. A customer who
never interacted has no heat tag and is not dormant (unknown, not lost).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from pipeline.policy.customer_state import CurrencyTotal, CustomerState
from pipeline.policy.durations import DAY_MS, HOUR_MS
from pipeline.policy.tag_thresholds import DEFAULT_TAG_THRESHOLDS, TagThresholds

FREQ_MONTHLY = "freq:monthly"
FREQ_QUARTERLY = "freq:quarterly"
FREQ_LAPSED = "freq:lapsed"
FREQ_NONE = "freq:none"
VALUE_HIGH = "value:high"
VALUE_MID = "value:mid"
VALUE_LOW = "value:low"
HEAT_HOT = "heat:hot"
HEAT_WARM = "heat:warm"
HEAT_COLD = "heat:cold"
DORMANT = "dormant"
VIP = "vip"
OPTED_OUT = "opted-out"


def purchases_in_window(state: CustomerState, now_ms: int, thresholds: TagThresholds) -> int:
    since = now_ms - thresholds.frequency_window_ms
    return sum(1 for p in state.purchases if p.ts_ms >= since)


def _main_currency(state: CustomerState) -> CurrencyTotal | None:
    """The currency with the most orders (ties: alphabetical), whose average sets value:*."""
    best: CurrencyTotal | None = None
    for total in state.totals:  # sorted by currency, so the first of equals wins
        if total.orders and (best is None or total.orders > best.orders):
            best = total
    return best


def _frequency(state: CustomerState, now_ms: int, th: TagThresholds) -> tuple[str, str]:
    recent = purchases_in_window(state, now_ms, th)
    days = _days(th.frequency_window_ms)
    if recent >= th.monthly_min_purchases:
        return FREQ_MONTHLY, (
            f"{recent} purchases in the last {days} (monthly needs ≥{th.monthly_min_purchases})"
        )
    if recent:
        noun = "purchase" if recent == 1 else "purchases"
        return FREQ_QUARTERLY, f"{recent} {noun} in the last {days}"
    lifetime = state.lifetime_orders
    if lifetime:
        return FREQ_LAPSED, f"no purchase in the last {days} ({lifetime} before)"
    return FREQ_NONE, "no purchases yet"


def _value(state: CustomerState, th: TagThresholds) -> tuple[str, str] | None:
    main = _main_currency(state)
    if main is None:
        return None
    bands = th.value_for(main.currency)
    average = main.average_minor
    money = _money(average, main.currency)
    orders = f"over {main.orders} order{'s' if main.orders != 1 else ''}"
    if average >= bands.high_minor:
        rule = f"high ≥ {_money(bands.high_minor, main.currency)}"
        return VALUE_HIGH, f"average order {money} {orders}; {rule}"
    if average >= bands.mid_minor:
        rule = f"mid ≥ {_money(bands.mid_minor, main.currency)}"
        return VALUE_MID, f"average order {money} {orders}; {rule}"
    rule = f"low < {_money(bands.mid_minor, main.currency)}"
    return VALUE_LOW, f"average order {money} {orders}; {rule}"


def _heat(state: CustomerState, now_ms: int, th: TagThresholds) -> tuple[str, str] | None:
    last = state.last_interaction_ms
    if last is None:
        return None
    age = now_ms - last
    seen = f"last {state.last_interaction_kind()} {_age(age)} ago"
    if age <= th.hot_within_ms:
        return HEAT_HOT, f"{seen}; hot = within {_days(th.hot_within_ms)}"
    if age <= th.warm_within_ms:
        return HEAT_WARM, f"{seen}; warm = within {_days(th.warm_within_ms)}"
    return HEAT_COLD, f"{seen}; cold = over {_days(th.warm_within_ms)}"


def _dormancy(state: CustomerState, now_ms: int, th: TagThresholds) -> tuple[bool, str]:
    last = state.last_interaction_ms
    if last is None:
        # Never interacted: unknown rather than dormant (a new buyer is not a lost one).
        return False, "no interaction yet"
    age = now_ms - last
    if age > th.dormant_after_ms:
        return True, f"no interaction for over {_days(th.dormant_after_ms)} (last {_age(age)} ago)"
    return False, f"interaction {_age(age)} ago, within {_days(th.dormant_after_ms)}"


def tag_report(
    state: CustomerState, now_ms: int, thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS
) -> tuple[frozenset[str], dict[str, str]]:
    """The tags at ``now_ms`` and, per family (freq, value, heat, dormant, vip, opted-out),
    a sentence saying why the customer is where they are.

    The tags come from the wording helpers, independently of :func:`compute_tags` (the agent's
    fast path), and a property test holds the two equal.
    """
    th = thresholds
    found = {_frequency(state, now_ms, th)[0]}
    value = _value(state, th)
    heat = _heat(state, now_ms, th)
    if value:
        found.add(value[0])
    if heat:
        found.add(heat[0])
    if _dormancy(state, now_ms, th)[0]:
        found.add(DORMANT)
    if VALUE_HIGH in found and HEAT_HOT in found:
        found.add(VIP)
    if state.opted_out:
        found.add(OPTED_OUT)
    tags = frozenset(found)
    return tags, tag_reasons(state, now_ms, tags, FAMILIES, th)


#: Every tag family, in the order :func:`tag_report` words them.
FAMILIES = ("freq", "value", "heat", DORMANT, VIP, OPTED_OUT)


def tag_reasons(
    state: CustomerState,
    now_ms: int,
    tags: frozenset[str],
    families: Iterable[str],
    thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS,
) -> dict[str, str]:
    """The sentences of :func:`tag_report` for ``families`` only, given the tags at ``now_ms``.

    Wording is most of a judgement's cost (issue 6's benchmark): the agent words only the
    families whose tags changed.
    """
    th = thresholds
    reasons: dict[str, str] = {}
    for family in families:
        if family == "freq":
            reasons["freq"] = _frequency(state, now_ms, th)[1]
        elif family == "value":
            value = _value(state, th)
            reasons["value"] = value[1] if value else "no purchases yet"
        elif family == "heat":
            heat = _heat(state, now_ms, th)
            reasons["heat"] = heat[1] if heat else "no interaction yet"
        elif family == DORMANT:
            reasons[DORMANT] = _dormancy(state, now_ms, th)[1]
        elif family == VIP:
            if VIP in tags:
                reasons[VIP] = "value:high and heat:hot"
            else:
                now = ", ".join(sorted(t for t in tags if t.startswith(("value:", "heat:"))))
                reasons[VIP] = f"needs value:high and heat:hot (now {now or 'neither'})"
        elif family == OPTED_OUT:
            source = state.consent_source or "default"
            reasons[OPTED_OUT] = f"opted {'out' if state.opted_out else 'in'} via {source}"
    return reasons


def compute_tags(
    state: CustomerState, now_ms: int, thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS
) -> frozenset[str]:
    """The customer's tags at ``now_ms``: :func:`tag_report`'s tags without the sentences.

    The same rules as the ``_frequency``/``_value``/``_heat``/``_dormancy`` helpers (a
    property test holds them equal); the engagement agent judges and the sweep searches for
    the next change with this, and words reasons only for tags that changed.
    """
    th = thresholds
    since = now_ms - th.frequency_window_ms
    recent = 0
    for p in state.purchases:  # a loop, not sum(genexpr): this runs several times a judgement
        if p.ts_ms >= since:
            recent += 1
    if recent >= th.monthly_min_purchases:
        tags = [FREQ_MONTHLY]
    elif recent:
        tags = [FREQ_QUARTERLY]
    elif state.totals and state.lifetime_orders:
        tags = [FREQ_LAPSED]
    else:
        tags = [FREQ_NONE]
    main = _main_currency(state)
    high = False
    if main is not None:
        bands = th.value_for(main.currency)
        average = main.average_minor
        high = average >= bands.high_minor
        tags.append(VALUE_HIGH if high else VALUE_MID if average >= bands.mid_minor else VALUE_LOW)
    last = state.last_interaction_ms
    if last is not None:
        age = now_ms - last
        hot = age <= th.hot_within_ms
        tags.append(HEAT_HOT if hot else HEAT_WARM if age <= th.warm_within_ms else HEAT_COLD)
        if age > th.dormant_after_ms:
            tags.append(DORMANT)
        if high and hot:
            tags.append(VIP)
    if state.opted_out:
        tags.append(OPTED_OUT)
    return frozenset(tags)


def tag_family(tag: str) -> str:
    """``"heat:hot"`` → ``"heat"``; tags without a prefix are their own family."""
    return tag.split(":", 1)[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class TagDelta:
    tag: str
    change: Literal["added", "removed"]
    reason: str


def diff_tags(
    old: frozenset[str], new: frozenset[str], reasons: Mapping[str, str] | None = None
) -> list[TagDelta]:
    """One delta per tag that appeared or disappeared, removals first, each with its reason.

    ``reasons`` is the per-family mapping from :func:`tag_report` for the new state.
    """
    reasons = reasons or {}
    deltas = [
        TagDelta(tag=tag, change="removed", reason=reasons.get(tag_family(tag), "rule changed"))
        for tag in sorted(old - new)
    ]
    deltas += [
        TagDelta(tag=tag, change="added", reason=reasons.get(tag_family(tag), "rule changed"))
        for tag in sorted(new - old)
    ]
    return deltas


def next_tag_change_ms(
    state: CustomerState,
    now_ms: int,
    thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS,
    *,
    current: frozenset[str] | None = None,
) -> int | None:
    """The first instant after ``now_ms`` at which time alone changes the tags; None if never.

    Time only moves heat, dormant, vip (through heat) and frequency (purchases leaving the
    window), so the candidates are a handful of boundary instants.
    """
    th = thresholds
    candidates: list[int] = []
    last = state.last_interaction_ms
    if last is not None:
        candidates += (
            last + th.hot_within_ms + 1,
            last + th.warm_within_ms + 1,
            last + th.dormant_after_ms + 1,
        )
    # Each purchase leaving the window is a candidate; only some change the frequency class
    # (the loop below checks), and the list is bounded by max_tracked_orders. Plain loops, no
    # set or generator: this runs once per judgement (issue 6's benchmark).
    leaves = th.frequency_window_ms + 1
    for p in state.purchases:
        candidates.append(p.ts_ms + leaves)
    if current is None:  # the caller may pass the tags at now_ms it already has
        current = compute_tags(state, now_ms, th)
    candidates.sort()
    tried = now_ms
    for at in candidates:
        if at > tried:
            if compute_tags(state, at, th) != current:
                return at
            tried = at
    return None


# --- wording ---------------------------------------------------------------------------------

_ZERO_DECIMAL_CURRENCIES = frozenset({"KRW", "JPY", "VND", "CLP", "ISK", "IDR"})


def _money(minor: int, currency: str) -> str:
    if currency in _ZERO_DECIMAL_CURRENCIES:
        return f"{minor:,} {currency}"
    return f"{minor / 100:,.2f} {currency}"


def _days(ms: int) -> str:
    days, rest = divmod(ms, DAY_MS)
    if rest:
        return f"{ms / HOUR_MS:g} hours"
    return f"{days} day" if days == 1 else f"{days} days"


def _age(ms: int) -> str:
    if ms < 0:
        return "0 d 0 h"
    days, rest = divmod(ms, DAY_MS)
    return f"{days} d {rest // HOUR_MS} h"


__all__ = [
    "DORMANT",
    "FREQ_LAPSED",
    "FREQ_MONTHLY",
    "FREQ_NONE",
    "FREQ_QUARTERLY",
    "HEAT_COLD",
    "HEAT_HOT",
    "HEAT_WARM",
    "OPTED_OUT",
    "VALUE_HIGH",
    "VALUE_LOW",
    "VALUE_MID",
    "VIP",
    "TagDelta",
    "compute_tags",
    "diff_tags",
    "next_tag_change_ms",
    "purchases_in_window",
    "tag_family",
    "tag_report",
]
