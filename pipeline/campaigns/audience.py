"""What a campaign knows about one customer when it expands: tags and a few facts.

A compact view, not the engagement agent's full state: the campaign agent keeps one per
customer (pipeline/agents/campaigns.py) and the benchmark builds them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.campaigns.local_time import CustomerPlace, place_of
from pipeline.policy.gate import CustomerFacts
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


__all__ = ["CampaignCustomer"]
