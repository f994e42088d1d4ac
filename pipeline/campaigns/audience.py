"""What a campaign knows about one customer when it expands: tags and a few facts.

A compact view, not the engagement agent's full state, so the campaign agent does not couple
to that agent's internals: it folds the customer-keyed topics itself (tags from
customer.tags.v1, name and last message from wa.inbound.v1, the last marketing message from
wa.outbound.results.v1, lifetime value from commerce.purchases.v1) with :func:`fold`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pipeline.campaigns.local_time import CustomerPlace, place_of
from pipeline.events import InboundMessage, Purchase, SendResult, TagChange
from pipeline.policy.gate import CustomerFacts
from pipeline.policy.marketing_cap import MARKETING
from pipeline.policy.tags import DORMANT, OPTED_OUT


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignCustomer:
    customer: str  # WhatsApp id, E.164 digits
    tags: frozenset[str] = frozenset()
    profile_name: str | None = None
    last_inbound_ms: int | None = None
    last_marketing_ms: int | None = None
    value_minor: int = 0  # lifetime purchases, for send priority within the campaign
    place: CustomerPlace | None = None  # None: read it off the number when needed (slower)

    def resolved_place(self) -> CustomerPlace:
        return self.place if self.place is not None else place_of(self.customer)

    def facts(self) -> CustomerFacts:
        """What the sender's gate needs; opt-out and dormancy come from the current tags."""
        return CustomerFacts(
            opted_out=OPTED_OUT in self.tags,
            dormant=DORMANT in self.tags,
            last_inbound_ms=self.last_inbound_ms,
            last_marketing_ms=self.last_marketing_ms,
        )


# --- folding the customer-keyed topics into the view ----------------------------------------

#: Order ids remembered per customer so a redelivered purchase does not count twice.
RECENT_ORDERS = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class AudienceRow:
    """What the campaign agent stores per customer (a Faust table value, as JSON)."""

    customer: CampaignCustomer
    recent_orders: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        c = self.customer
        place = c.resolved_place()
        return {
            "t": sorted(c.tags),
            "n": c.profile_name,
            "i": c.last_inbound_ms,
            "m": c.last_marketing_ms,
            "v": c.value_minor,
            "r": place.region,
            "z": place.zone_name,
            "o": list(self.recent_orders),
        }

    @classmethod
    def from_json(cls, customer: str, data: Mapping[str, Any]) -> AudienceRow:
        return cls(
            customer=CampaignCustomer(
                customer=customer,
                tags=frozenset(data.get("t", ())),
                profile_name=data.get("n"),
                last_inbound_ms=data.get("i"),
                last_marketing_ms=data.get("m"),
                value_minor=int(data.get("v", 0)),
                place=CustomerPlace(region=data.get("r"), zone_name=data.get("z")),
            ),
            recent_orders=tuple(data.get("o", ())),
        )


def _later(current: int | None, ts_ms: int) -> int:
    return ts_ms if current is None or ts_ms > current else current


def fold(row: AudienceRow | None, event: object) -> AudienceRow:
    """``row`` with ``event`` applied; redelivered events change nothing.

    Tags follow customer.tags.v1 (set add/remove: idempotent); times are maxima; purchases
    add to the value once per order id (the last :data:`RECENT_ORDERS` are remembered).
    """
    customer_id = getattr(event, "customer", None)
    if not isinstance(customer_id, str):
        raise TypeError(f"cannot fold {type(event).__name__} into a campaign audience")
    if row is None:
        row = AudienceRow(
            customer=CampaignCustomer(customer=customer_id, place=place_of(customer_id))
        )
    c = row.customer
    if isinstance(event, TagChange):
        tags = c.tags | {event.tag} if event.change == "added" else c.tags - {event.tag}
        return replace(row, customer=replace(c, tags=frozenset(tags)))
    if isinstance(event, InboundMessage):
        return replace(
            row,
            customer=replace(
                c,
                profile_name=event.profile_name or c.profile_name,
                last_inbound_ms=_later(c.last_inbound_ms, event.ts_ms),
            ),
        )
    if isinstance(event, SendResult):
        if event.outcome == "accepted" and event.category == MARKETING:
            last = _later(c.last_marketing_ms, event.ts_ms)
            return replace(row, customer=replace(c, last_marketing_ms=last))
        return row
    if isinstance(event, Purchase):
        if event.order_id in row.recent_orders:
            return row
        orders = (*row.recent_orders, event.order_id)[-RECENT_ORDERS:]
        value = c.value_minor + event.amount_minor
        return AudienceRow(customer=replace(c, value_minor=value), recent_orders=orders)
    return row


__all__ = ["RECENT_ORDERS", "AudienceRow", "CampaignCustomer", "fold"]
