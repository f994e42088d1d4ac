"""Customers and campaigns for the campaign tests."""

from __future__ import annotations

from typing import Any

from pipeline.campaigns.audience import CampaignCustomer
from pipeline.campaigns.spec import CampaignSpec

#: 2025-06-02 02:00 UTC: 11:00 in Seoul (inside 10-12), 22:00 in New York (just outside 20-22).
NOW_MS = 1_748_829_600_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
KR_PRICE_MICROS = 73_200  # DEFAULT_PRICE_TABLE, marketing, KR


def kr(n: int) -> str:
    """A Korean mobile number (Asia/Seoul)."""
    return f"8210{n:08d}"


def us(n: int) -> str:
    """A New York number (America/New_York)."""
    return f"1212555{n:04d}"


def customer(number: str, *tags: str, **facts: Any) -> CampaignCustomer:
    return CampaignCustomer(customer=number, tags=frozenset(tags), **facts)


def spec(**fields: Any) -> CampaignSpec:
    base: dict[str, Any] = {
        "id": "spring",
        "business_number_id": "100",
        "template": {
            "name": "spring_sale",
            "language": "en_US",
            "parameters": ["{{customer.first_name|there}}", "20%"],
        },
    }
    return CampaignSpec.from_mapping({**base, **fields})
