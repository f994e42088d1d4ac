"""Country and zone from a WhatsApp id."""

from __future__ import annotations

import pytest

from pipeline.policy.customer_numbers import region_for, zone_name_for


@pytest.mark.parametrize(
    ("customer", "region", "zone"),
    [
        ("821012345678", "KR", "Asia/Seoul"),
        ("+16505551234", "US", "America/Los_Angeles"),
        ("5511987654321", "BR", "America/Sao_Paulo"),
        ("999", None, None),
        ("abc", None, None),
    ],
)
def test_region_and_zone(customer: str, region: str | None, zone: str | None) -> None:
    assert region_for(customer) == region
    assert zone_name_for(customer) == zone
