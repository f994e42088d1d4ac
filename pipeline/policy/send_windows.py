"""Campaign send windows in the customer's local time (design.md §7).

A campaign may only reach a customer during its windows (default 10:00–12:00 and 20:00–22:00
local time). The customer's zone comes from their phone number's country and area code
(``phonenumbers.timezone``); when that is unknown or ambiguous we use the first zone it lists,
or ``default_zone``. Windows are half-open ``[start, end)`` in local wall-clock minutes; an end
at or before the start crosses midnight (``22:00–02:00``). Daylight-saving days are handled by
``zoneinfo``: a boundary that falls in a skipped hour moves to the moment the clock resumes,
and one in a repeated hour means its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.policy.customer_numbers import zone_name_for

_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalWindow:
    """``[start_minute, end_minute)`` of the local day; end ≤ start crosses midnight."""

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        for name in ("start_minute", "end_minute"):
            value = getattr(self, name)
            if not 0 <= value <= _MINUTES_PER_DAY:
                raise ValueError(f"{name} must be within 0..1440, got {value}")

    @classmethod
    def parse(cls, text: str) -> LocalWindow:
        """``"10-12"``, ``"10:30-12"`` or ``"22:00-02:00"``."""
        try:
            start, end = (part.strip() for part in text.split("-"))
            return cls(start_minute=_minutes(start), end_minute=_minutes(end))
        except ValueError as exc:
            raise ValueError(
                f"bad send window {text!r} ({exc}); write it as HH[:MM]-HH[:MM]"
            ) from None

    @property
    def length_minutes(self) -> int:
        span = self.end_minute - self.start_minute
        return span if span > 0 else span + _MINUTES_PER_DAY


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes or 0)


DEFAULT_WINDOWS = (
    LocalWindow(start_minute=10 * 60, end_minute=12 * 60),
    LocalWindow(start_minute=20 * 60, end_minute=22 * 60),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendWindows:
    """When a campaign may reach a customer. No windows = any time."""

    windows: tuple[LocalWindow, ...] = DEFAULT_WINDOWS
    default_zone: str = "Asia/Seoul"

    def __post_init__(self) -> None:
        _zone(self.default_zone)  # fail at configuration time, not at the first send

    @classmethod
    def parse(cls, text: str, *, default_zone: str = "Asia/Seoul") -> SendWindows:
        """``"10-12,20-22"``; an empty string means no restriction."""
        parts = [p for p in (s.strip() for s in text.split(",")) if p]
        return cls(windows=tuple(LocalWindow.parse(p) for p in parts), default_zone=default_zone)

    def zone_for(self, customer: str) -> ZoneInfo:
        """The customer's time zone from their WhatsApp id (E.164 digits, '+' optional)."""
        return _zone(zone_name_for(customer) or self.default_zone)

    def next_allowed_ms(self, *, customer: str, now_ms: int) -> int:
        """``now_ms`` when inside a window, else the start of the next window."""
        return next_allowed_ms(self.windows, self.zone_for(customer), now_ms)


def next_allowed_ms(windows: tuple[LocalWindow, ...], zone: ZoneInfo, now_ms: int) -> int:
    """Earliest instant ≥ ``now_ms`` that lies inside one of ``windows`` in ``zone``."""
    if not windows:
        return now_ms
    today = datetime.fromtimestamp(now_ms / 1000, tz=UTC).astimezone(zone).date()
    best: int | None = None
    # Yesterday covers a window that crosses midnight into today; two days ahead is enough
    # for any window to start again.
    for offset in (-1, 0, 1, 2):
        day = today + timedelta(days=offset)
        for window in windows:
            start_ms = _local_ms(day, window.start_minute, zone)
            end_ms = _local_ms(day, window.start_minute + window.length_minutes, zone)
            if start_ms <= now_ms < end_ms:
                return now_ms
            if start_ms > now_ms and (best is None or start_ms < best):
                best = start_ms
    if best is None:  # only when every window is empty (length 0 is read as 24 h, so never)
        raise ValueError("send windows never open; remove them or give them a length")
    return best


def _local_ms(day: date, minute_of_day: int, zone: ZoneInfo) -> int:
    """Unix ms of local wall-clock ``minute_of_day`` on ``day`` (may run into the next day)."""
    day = day + timedelta(days=minute_of_day // _MINUTES_PER_DAY)
    minute = minute_of_day % _MINUTES_PER_DAY
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    local = wall.replace(tzinfo=zone)  # fold=0: the first occurrence of a repeated wall time
    instant_ms = int(local.timestamp() * 1000)
    if datetime.fromtimestamp(instant_ms / 1000, tz=zone).replace(tzinfo=None) == wall:
        return instant_ms
    # The wall time does not exist (spring forward): begin when the clock resumes, i.e. at
    # the offset change, which lies between the fold=1 and fold=0 readings of the wall time.
    lo_ms = int(wall.replace(tzinfo=zone, fold=1).timestamp() * 1000)
    hi_ms = instant_ms
    before = datetime.fromtimestamp(lo_ms / 1000, tz=zone).utcoffset()
    while hi_ms - lo_ms > 1000:
        mid_ms = (lo_ms + hi_ms) // 2
        if datetime.fromtimestamp(mid_ms / 1000, tz=zone).utcoffset() == before:
            lo_ms = mid_ms
        else:
            hi_ms = mid_ms
    # Offset changes happen on whole seconds; hi is within 1 s above the change.
    return hi_ms - hi_ms % 1000


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name like Asia/Seoul") from None


DEFAULT_SEND_WINDOWS = SendWindows()

__all__ = [
    "DEFAULT_SEND_WINDOWS",
    "DEFAULT_WINDOWS",
    "LocalWindow",
    "SendWindows",
    "next_allowed_ms",
]
