"""Where a customer is (country, time zone), resolved once, and send windows that use it.

Reading the country and zone off a phone number (``phonenumbers``) costs a fraction of a
millisecond: fine per message, too slow per customer when a launch expands 100,000 of them.
The campaign agent resolves a customer's :class:`CustomerPlace` when the customer first
appears and keeps it; expansion then answers send windows per zone, once per instant, with
the same rule as :mod:`pipeline.policy.send_windows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from pipeline.policy.customer_numbers import region_for, zone_name_for
from pipeline.policy.send_windows import SendWindows, next_allowed_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerPlace:
    region: str | None  # ISO country, None when the number does not say
    zone_name: str | None  # IANA zone, None when unknown (the windows' default applies)


def place_of(customer: str) -> CustomerPlace:
    return CustomerPlace(region=region_for(customer), zone_name=zone_name_for(customer))


@dataclass(frozen=True, slots=True, kw_only=True)
class ZoneWindows(SendWindows):
    """``windows`` for customers of one known zone, remembering each answer by instant.

    Expansion asks about the same few instants (the launch, the cap's end) for thousands of
    customers of a zone; the answer depends only on the zone and the instant.
    """

    zone: ZoneInfo
    answers: dict[int, int] = field(default_factory=dict, compare=False, repr=False)

    def zone_for(self, customer: str) -> ZoneInfo:
        return self.zone

    def next_allowed_ms(self, *, customer: str, now_ms: int) -> int:
        answer = self.answers.get(now_ms)
        if answer is None:
            answer = next_allowed_ms(self.windows, self.zone, now_ms)
            self.answers[now_ms] = answer
        return answer


class WindowsByZone:
    """One :class:`ZoneWindows` per zone for one campaign's windows; lives for one expansion."""

    def __init__(self, windows: SendWindows) -> None:
        self.windows = windows
        self._by_zone: dict[str | None, ZoneWindows] = {}

    def for_place(self, place: CustomerPlace) -> ZoneWindows:
        found = self._by_zone.get(place.zone_name)
        if found is None:
            base = self.windows
            found = ZoneWindows(
                windows=base.windows,
                default_zone=base.default_zone,
                zone=ZoneInfo(place.zone_name or base.default_zone),
            )
            self._by_zone[place.zone_name] = found
        return found


__all__ = ["CustomerPlace", "WindowsByZone", "ZoneWindows", "place_of"]
