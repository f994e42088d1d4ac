"""What a customer's WhatsApp id (E.164 digits) tells the policies: country and time zone."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as phone_timezone

_UNKNOWN_ZONE = "Etc/Unknown"
_UNKNOWN_REGION = "ZZ"


def _parse(customer: str) -> phonenumbers.PhoneNumber | None:
    digits = customer if customer.startswith("+") else "+" + customer
    try:
        return phonenumbers.parse(digits, None)
    except phonenumbers.NumberParseException:
        return None


@lru_cache(maxsize=8192)
def region_for(customer: str) -> str | None:
    """ISO 3166 region of the number (``"KR"``), or None when unknown."""
    number = _parse(customer)
    if number is None:
        return None
    region = phonenumbers.region_code_for_number(number)
    return region if region and region != _UNKNOWN_REGION else None


@lru_cache(maxsize=8192)
def zone_name_for(customer: str) -> str | None:
    """IANA zone of the number; the first listed when the number spans several, else None."""
    number = _parse(customer)
    if number is None:
        return None
    zones = [z for z in phone_timezone.time_zones_for_number(number) if z != _UNKNOWN_ZONE]
    return zones[0] if zones else None


__all__ = ["region_for", "zone_name_for"]
