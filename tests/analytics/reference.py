"""Brute-force answers to the named queries, computed in plain Python from the event lists.

Written from the definitions in design.md §6 and the query headers, not from the SQL: nested
loops over deduplicated events, so a disagreement points at the SQL (or the definition).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

from tests.analytics.world import World

STRATEGIES = ("none", "frequency", "value", "heat")


def _unique(events: list[Any], key: str) -> list[Any]:
    seen: dict[Any, Any] = {}
    for event in events:
        seen.setdefault(getattr(event, key), event)
    return list(seen.values())


def month_of(ts_ms: int) -> dt.date:
    day = dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.UTC).date()
    return day.replace(day=1)


def day_of(ts_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.UTC).date()


def messages(world: World) -> list[dict[str, Any]]:
    """One dict per accepted message with its receipt facts."""
    receipts = _unique(world.receipts, "event_id")
    out = []
    for m in _unique(world.outbound, "command_id"):
        if m.outcome != "accepted" or not m.wamid:
            continue
        mine = [r for r in receipts if r.wamid == m.wamid]
        delivered_times = [r.ts_ms for r in mine if r.status in ("delivered", "read")]
        out.append(
            {
                "wamid": m.wamid,
                "customer": m.customer,
                "business": m.business_number_id,
                "campaign": m.campaign_id or "",
                "template": m.template_name or "",
                "category": m.category,
                "cost": m.cost_micros,
                "sent_ms": m.ts_ms,
                "delivered_ms": min(delivered_times) if delivered_times else None,
                "read": any(r.status == "read" for r in mine),
                "failed": any(r.status == "failed" for r in mine),
                "marked_free": any(r.pricing_billable is False for r in mine),
            }
        )
    return out


def orders(world: World) -> list[Any]:
    return _unique(world.purchases, "order_id")


def last_touches(world: World, window_ms: int) -> dict[str, str]:
    """order_id → wamid of the delivered marketing message credited with it."""
    touches = [
        m for m in messages(world) if m["delivered_ms"] is not None and m["category"] == "marketing"
    ]
    credited = {}
    for order in orders(world):
        candidates = [
            t
            for t in touches
            if t["customer"] == order.customer
            and t["delivered_ms"] <= order.ts_ms <= t["delivered_ms"] + window_ms
        ]
        if candidates:
            best = max(candidates, key=lambda t: (t["delivered_ms"], t["wamid"]))
            credited[order.order_id] = best["wamid"]
    return credited


def funnel(
    world: World,
    *,
    grain: str,
    reply_window_ms: int,
    attribution_window_ms: int,
    from_ms: int = 0,
    to_ms: int = 2**62,
) -> dict[str, dict[str, Any]]:
    inbound = _unique(world.inbound, "event_id")
    converted = set(last_touches(world, attribution_window_ms).values())
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for m in messages(world):
        if not from_ms <= m["sent_ms"] < to_ms:
            continue
        key = {
            "campaign": m["campaign"],
            "template": m["template"],
            "day": str(day_of(m["sent_ms"])),
            "business_number": m["business"],
        }[grain]
        row = rows[key]
        row["sent"] += 1
        if m["delivered_ms"] is None:
            continue
        row["delivered"] += 1
        row["read"] += m["read"]
        row["replied"] += any(
            i.customer == m["customer"]
            and i.business_number_id == m["business"]
            and m["delivered_ms"] <= i.ts_ms <= m["delivered_ms"] + reply_window_ms
            for i in inbound
        )
        if m["category"] == "marketing":
            row["delivered_marketing"] += 1
        row["converted"] += m["wamid"] in converted
    return {k: dict(v) for k, v in rows.items()}


def funnel_rollup(world: World, *, grain: str) -> dict[str, dict[str, int]]:
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for m in messages(world):
        key = {
            "campaign": m["campaign"],
            "template": m["template"],
            "day": str(day_of(m["sent_ms"])),
            "business_number": m["business"],
        }[grain]
        rows[key]["sent"] += 1
        rows[key]["delivered"] += m["delivered_ms"] is not None
        rows[key]["read"] += m["read"]
        rows[key]["failed"] += m["failed"]
    return {k: dict(v) for k, v in rows.items()}


def ltv_customer(world: World, currency: str = "") -> dict[tuple[str, str], tuple[int, int]]:
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for o in orders(world):
        if currency and o.currency != currency:
            continue
        n, total = out.get((o.customer, o.currency), (0, 0))
        out[(o.customer, o.currency)] = (n + 1, total + o.amount_minor)
    return out


def ltv_cohort(world: World) -> dict[tuple[dt.date, str], tuple[int, int]]:
    first: dict[tuple[str, str], int] = {}
    revenue: dict[tuple[str, str], int] = defaultdict(int)
    for o in orders(world):
        key = (o.customer, o.currency)
        first[key] = min(first.get(key, o.ts_ms), o.ts_ms)
        revenue[key] += o.amount_minor
    cohorts: dict[tuple[dt.date, str], tuple[int, int]] = {}
    for (customer, currency), ts in first.items():
        k = (month_of(ts), currency)
        n, total = cohorts.get(k, (0, 0))
        cohorts[k] = (n + 1, total + revenue[(customer, currency)])
    return cohorts


def current_tags(world: World) -> dict[str, set[str]]:
    last: dict[tuple[str, str], tuple[tuple[int, str], str]] = {}
    for t in _unique(world.tags, "event_id"):
        key = (t.customer, t.tag)
        if key not in last or (t.ts_ms, t.event_id) > last[key][0]:
            last[key] = ((t.ts_ms, t.event_id), t.change)
    tags: dict[str, set[str]] = defaultdict(set)
    for (customer, tag), (_, change) in last.items():
        tags[customer]  # a customer whose tags were all removed is still known
        if change == "added":
            tags[customer].add(tag)
    return tags


def ltv_segment(world: World, currency: str = "") -> dict[str, tuple[int, int, int]]:
    tags = current_tags(world)
    people = set(tags) | {o.customer for o in orders(world)}
    revenue: dict[str, int] = defaultdict(int)
    buyers: set[str] = set()
    for o in orders(world):
        if not currency or o.currency == currency:
            revenue[o.customer] += o.amount_minor
            buyers.add(o.customer)
    out: dict[str, tuple[int, int, int]] = {}
    for person in people:
        for segment in tags.get(person) or {"untagged"}:
            n, b, total = out.get(segment, (0, 0, 0))
            out[segment] = (n + 1, b + (person in buyers), total + revenue[person])
    return out


def roi_campaign(
    world: World, *, currency: str, minor_units_per_major: int, attribution_window_ms: int
) -> dict[str, dict[str, Any]]:
    credited = last_touches(world, attribution_window_ms)
    by_order = {o.order_id: o for o in orders(world)}
    rows: dict[str, dict[str, Any]] = {}
    for m in messages(world):
        if not m["campaign"]:
            continue
        row = rows.setdefault(
            m["campaign"],
            {"messages": 0, "cost_micros": 0, "attributed_orders": 0, "revenue_minor": 0},
        )
        row["messages"] += 1
        row["cost_micros"] += m["cost"]
        for order_id, wamid in credited.items():
            order = by_order[order_id]
            if wamid == m["wamid"] and order.currency == currency:
                row["attributed_orders"] += 1
                row["revenue_minor"] += order.amount_minor
    for row in rows.values():
        row["revenue_micros"] = row["revenue_minor"] * 1_000_000 // minor_units_per_major
        row["roi"] = row["revenue_micros"] / row["cost_micros"] if row["cost_micros"] else None
    return rows


def strategy_of(world: World, campaign: str) -> str:
    launches = [c for c in world.controls if c.campaign_id == campaign and c.action == "launch"]
    if launches:
        spec = json.loads(max(launches, key=lambda c: c.ts_ms).spec_json or "{}")
        if spec.get("segmentation") in STRATEGIES:
            return str(spec["segmentation"])
    prefix, colon, _ = campaign.partition(":")
    return prefix if colon and prefix in STRATEGIES else "unknown"


def segment_efficiency(world: World, *, attribution_window_ms: int) -> dict[str, dict[str, Any]]:
    converted = set(last_touches(world, attribution_window_ms).values())
    rows: dict[str, dict[str, Any]] = {}
    for m in messages(world):
        if not m["campaign"]:
            continue
        strategy = strategy_of(world, m["campaign"])
        row = rows.setdefault(
            strategy,
            {"campaigns": set(), "delivered": 0, "read": 0, "converted": 0, "cost_micros": 0},
        )
        row["campaigns"].add(m["campaign"])
        row["cost_micros"] += m["cost"]
        if m["category"] == "marketing" and m["delivered_ms"] is not None:
            row["delivered"] += 1
            row["read"] += m["read"]
        row["converted"] += m["wamid"] in converted
    base = rows.get("none")
    base_rate = base["converted"] / base["delivered"] if base and base["delivered"] else None
    for row in rows.values():
        row["campaigns"] = len(row["campaigns"])
        rate = row["converted"] / row["delivered"] if row["delivered"] else None
        row["open_rate"] = row["read"] / row["delivered"] if row["delivered"] else None
        row["conversion_rate"] = rate
        row["conversion_lift"] = rate / base_rate - 1 if rate is not None and base_rate else None
        row["cost_per_conversion_micros"] = (
            row["cost_micros"] / row["converted"] if row["converted"] else None
        )
    return rows


def provider_cost(
    world: World,
    *,
    presets: dict[str, tuple[int, int, int]],
    prices: dict[tuple[str, str], int],
    meta_free_per_month: int,
) -> dict[tuple[dt.date, str], dict[str, int]]:
    msgs = messages(world)
    volume: dict[dt.date, int] = defaultdict(int)
    for m in msgs:
        volume[month_of(m["sent_ms"])] += 1
    chargeable: dict[dt.date, list[tuple[int, str, int]]] = defaultdict(list)
    for m in msgs:
        if m["delivered_ms"] is None or m["marked_free"]:
            continue
        if m["category"] not in ("marketing", "utility", "authentication"):
            continue
        matches = [
            (len(code), price)
            for (code, category), price in prices.items()
            if category == m["category"] and m["customer"].startswith(code)
        ]
        if not matches:
            continue
        chargeable[month_of(m["sent_ms"])].append((m["sent_ms"], m["wamid"], max(matches)[1]))
    out = {}
    for month, messages_sent in volume.items():
        ranked = sorted(chargeable.get(month, []))
        charged = ranked[meta_free_per_month:]
        meta = sum(price for _, _, price in charged)
        for provider, (fee, per_message, free) in presets.items():
            per = max(messages_sent - free, 0) * per_message
            out[(month, provider)] = {
                "messages": messages_sent,
                "meta_billable": len(ranked),
                "meta_charged": len(charged),
                "meta_micros": meta,
                "total_micros": fee + per + meta,
            }
    return out


def alarm_history(world: World) -> list[tuple[int, str, str, int | None]]:
    """(ts_ms, alarm_id, state, firing_for_ms) newest first."""
    events = {(a.alarm_id, a.state, a.ts_ms): a for a in world.alarms}
    rows = []
    for alarm_id in {k[0] for k in events}:
        mine = sorted((k for k in events if k[0] == alarm_id), key=lambda k: (k[2], k[1]))
        previous = None
        for key in mine:
            firing_for = (
                key[2] - previous[2]
                if key[1] == "resolved" and previous and previous[1] == "firing"
                else None
            )
            rows.append((key[2], alarm_id, key[1], firing_for))
            previous = key
    return sorted(rows, key=lambda r: (-r[0], r[1], r[2]))
