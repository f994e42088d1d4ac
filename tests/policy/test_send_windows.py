"""Send windows: the next allowed time is inside a window, in the customer's zone, and earliest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy.send_windows import (
    DEFAULT_SEND_WINDOWS,
    LocalWindow,
    SendWindows,
    next_allowed_ms,
)

ZONES = ["Asia/Seoul", "America/Los_Angeles", "Europe/Berlin", "Australia/Lord_Howe", "UTC"]
MINUTE_MS = 60_000


def wall_minute(instant_ms: int, zone: ZoneInfo) -> int | None:
    """Local minute of the day, or None when the wall time is ambiguous (DST fall-back)."""
    local = datetime.fromtimestamp(instant_ms / 1000, tz=zone)
    other = local.replace(fold=1 - local.fold)
    if other.utcoffset() != local.utcoffset():
        return None
    return local.hour * 60 + local.minute


def inside(minute: int, windows: tuple[LocalWindow, ...]) -> bool:
    for w in windows:
        end = w.start_minute + w.length_minutes
        if w.start_minute <= minute < end or w.start_minute <= minute + 1440 < end:
            return True
    return False


windows_strategy = st.lists(
    st.builds(
        lambda start, length: LocalWindow(start_minute=start, end_minute=(start + length) % 1440),
        st.integers(0, 1439),
        st.integers(1, 600),
    ),
    min_size=1,
    max_size=3,
).map(tuple)


@settings(max_examples=120, deadline=None)
@given(
    windows=windows_strategy,
    zone_name=st.sampled_from(ZONES),
    now_ms=st.integers(1_700_000_000_000, 1_900_000_000_000).map(lambda t: t - t % 1000),
)
def test_next_allowed_time_is_inside_a_window_and_nothing_earlier_is(
    windows: tuple[LocalWindow, ...], zone_name: str, now_ms: int
) -> None:
    zone = ZoneInfo(zone_name)
    at = next_allowed_ms(windows, zone, now_ms)
    assert at >= now_ms
    assert at - now_ms <= 26 * 3600 * 1000, "a daily window must come round within a day"
    minute = wall_minute(at, zone)
    if minute is not None:
        assert inside(minute, windows), f"{datetime.fromtimestamp(at / 1000, tz=zone)} outside"
    # Earliest: no whole local minute between now and the answer lies inside a window.
    probe = now_ms - now_ms % MINUTE_MS + MINUTE_MS
    while probe < at - MINUTE_MS:
        m = wall_minute(probe, zone)
        assert m is None or not inside(m, windows), (
            f"{datetime.fromtimestamp(probe / 1000, tz=zone)} was allowed before {at}"
        )
        probe += MINUTE_MS


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def test_korean_customer_at_9_waits_until_10_seoul_time() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    now = ms(datetime(2026, 3, 2, 9, 0, tzinfo=seoul))
    at = DEFAULT_SEND_WINDOWS.next_allowed_ms(customer="821012345678", now_ms=now)
    assert datetime.fromtimestamp(at / 1000, tz=seoul) == datetime(2026, 3, 2, 10, 0, tzinfo=seoul)


def test_inside_a_window_sends_now_and_the_end_is_exclusive() -> None:
    la = ZoneInfo("America/Los_Angeles")
    inside_now = ms(datetime(2026, 7, 1, 21, 59, tzinfo=la))
    assert DEFAULT_SEND_WINDOWS.next_allowed_ms(customer="+16505551234", now_ms=inside_now) == (
        inside_now
    )
    at_end = ms(datetime(2026, 7, 1, 22, 0, tzinfo=la))
    nxt = DEFAULT_SEND_WINDOWS.next_allowed_ms(customer="+16505551234", now_ms=at_end)
    assert datetime.fromtimestamp(nxt / 1000, tz=la) == datetime(2026, 7, 2, 10, 0, tzinfo=la)


def test_unknown_numbers_fall_back_to_the_default_zone() -> None:
    windows = SendWindows(default_zone="Europe/Berlin")
    assert windows.zone_for("999") == ZoneInfo("Europe/Berlin")
    assert windows.zone_for("not-a-number") == ZoneInfo("Europe/Berlin")
    assert windows.zone_for("4915112345678") == ZoneInfo("Europe/Berlin")
    assert windows.zone_for("5511987654321") == ZoneInfo("America/Sao_Paulo")


def test_a_window_starting_in_the_skipped_dst_hour_opens_when_the_clock_resumes() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    windows = (LocalWindow(start_minute=150, end_minute=240),)  # 02:30–04:00
    now = ms(datetime(2026, 3, 29, 0, 0, tzinfo=berlin))
    at = next_allowed_ms(windows, berlin, now)
    assert datetime.fromtimestamp(at / 1000, tz=berlin) == datetime(
        2026, 3, 29, 3, 0, tzinfo=berlin
    )


def test_windows_crossing_midnight_and_no_windows() -> None:
    utc = ZoneInfo("UTC")
    night = SendWindows.parse("22-02", default_zone="UTC")
    now = ms(datetime(2026, 1, 1, 1, 30, tzinfo=UTC))
    assert next_allowed_ms(night.windows, utc, now) == now
    later = now + int(timedelta(hours=1).total_seconds() * 1000)
    assert next_allowed_ms(night.windows, utc, later) == ms(datetime(2026, 1, 1, 22, tzinfo=UTC))
    assert next_allowed_ms((), utc, now) == now
    assert SendWindows.parse("").windows == ()


@pytest.mark.parametrize("text", ["10", "25-26", "a-b"])
def test_bad_windows_are_refused_with_the_format(text: str) -> None:
    with pytest.raises(ValueError, match="HH"):
        LocalWindow.parse(text)


def test_unknown_default_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="IANA"):
        SendWindows(default_zone="Mars/Olympus")
