"""The throttle never exceeds its quota in any sliding window and still uses the quota fully."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy.throughput import (
    DEFAULT_PROFILE,
    WARMUP_PROFILE,
    BucketState,
    ThroughputProfile,
    TokenBucket,
    profile_named,
)

profiles = st.builds(
    lambda n, w, b: ThroughputProfile(name="t", max_messages=n, window_ms=w, burst=min(b, n)),
    st.integers(1, 40),
    st.integers(1, 3000),
    st.integers(1, 40),
)


def busiest_window(send_ms: list[int], window_ms: int) -> int:
    """Most sends in any half-open window [s, s + window_ms), s anywhere (two pointers)."""
    times = sorted(send_ms)
    worst, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window_ms:
            lo += 1
        worst = max(worst, hi - lo + 1)
    return worst


def drain(bucket: TokenBucket, arrivals_ms: list[int], *, lateness_ms: int = 0) -> list[int]:
    """Send each arrival as soon as the bucket allows (a sender awaiting ``wait_s``)."""
    state, sent, now = BucketState(), [], 0
    for arrival in sorted(arrivals_ms):
        now = max(now, arrival)
        while True:
            state, wait_s = bucket.take(state, now)
            if wait_s == 0:
                sent.append(now)
                break
            now += math.ceil(wait_s * 1000) + lateness_ms
    return sent


@settings(max_examples=200, deadline=None)
@given(
    profile=profiles,
    arrivals=st.lists(st.integers(0, 20_000), min_size=1, max_size=300),
    lateness=st.integers(0, 7),
)
def test_no_sliding_window_ever_holds_more_than_the_quota(
    profile: ThroughputProfile, arrivals: list[int], lateness: int
) -> None:
    sent = drain(TokenBucket(profile=profile), arrivals, lateness_ms=lateness)
    assert len(sent) == len(arrivals)
    assert busiest_window(sent, profile.window_ms) <= profile.max_messages, (
        f"{profile} let more than {profile.max_messages} sends into one window"
    )


@settings(max_examples=100, deadline=None)
@given(
    profile=profiles,
    requests=st.lists(st.integers(0, 50), min_size=1, max_size=300),
)
def test_requests_at_arbitrary_times_never_overfill_a_window(
    profile: ThroughputProfile, requests: list[int]
) -> None:
    """Callers that ignore ``wait_s`` and poll at random times still get no extra tokens."""
    bucket, state, now, sent = TokenBucket(profile=profile), BucketState(), 0, []
    for step in requests:
        now += step
        state, wait_s = bucket.take(state, now)
        if wait_s == 0:
            sent.append(now)
        else:
            assert bucket.allowed_at_ms(state, now) == now + round(wait_s * 1000)
    assert busiest_window(sent, profile.window_ms) <= profile.max_messages


@pytest.mark.parametrize("lateness_ms", [0, 1, 3])
def test_a_backlog_of_10000_uses_at_least_95_percent_of_the_default_rate(lateness_ms: int) -> None:
    sent = drain(TokenBucket(), [0] * 10_000, lateness_ms=lateness_ms)
    duration_s = (sent[-1] - sent[0]) / 1000
    achieved = (len(sent) - 1) / duration_s
    assert busiest_window(sent, 1000) <= 80
    assert achieved >= 0.95 * 80, f"only {achieved:.1f}/s of 80/s used (lateness {lateness_ms} ms)"


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 40),
    interval_ms=st.integers(10, 100),
    burst=st.integers(2, 40),
    lateness_pct=st.integers(0, 2),
)
def test_backlog_uses_at_least_95_percent_of_any_profile_despite_late_wakeups(
    n: int, interval_ms: int, burst: int, lateness_pct: int
) -> None:
    """A sender that wakes up a little late catches up on burst credit (burst ≥ 2)."""
    profile = ThroughputProfile(
        name="t", max_messages=n, window_ms=n * interval_ms, burst=min(burst, n)
    )
    lateness = profile.window_ms * lateness_pct // 100
    windows = 20
    sent = drain(TokenBucket(profile=profile), [0] * (n * windows + 1), lateness_ms=lateness)
    # The quota lets max_messages into each window, so n·windows + 1 sends need ≥ windows.
    ideal_ms = windows * profile.window_ms
    assert sent[-1] - sent[0] <= ideal_ms / 0.95, f"{profile} used < 95% of its quota"


def test_warmup_profile_sends_30_per_minute_spaced_two_seconds_apart() -> None:
    sent = drain(TokenBucket(profile=WARMUP_PROFILE), [0] * 61)
    assert busiest_window(sent, 60_000) == 30
    assert {b - a for a, b in itertools.pairwise(sent)} == {2000}


def test_default_profile_is_80_per_second() -> None:
    assert DEFAULT_PROFILE.rate_per_s == 80
    assert profile_named("warmup") is WARMUP_PROFILE
    with pytest.raises(ValueError, match="use one of"):
        profile_named("turbo")


def test_hold_blocks_until_the_given_time_then_resumes() -> None:
    bucket = TokenBucket()
    state = bucket.hold(BucketState(), 5_000)
    _, wait_s = bucket.take(state, 1_000)
    assert wait_s == 4.0
    _, wait_s = bucket.take(state, 5_000)
    assert wait_s == 0


def test_a_clock_stepping_back_does_not_open_a_window() -> None:
    bucket = TokenBucket(
        profile=ThroughputProfile(name="t", max_messages=2, window_ms=1000, burst=2)
    )
    state, _ = bucket.take(BucketState(), 10_000)
    state, _ = bucket.take(state, 10_000)
    _, wait_s = bucket.take(state, 2_000)  # the clock jumped back 8 s
    assert wait_s > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_messages": 0, "window_ms": 1000, "burst": 1}, "max_messages"),
        ({"max_messages": 5, "window_ms": 0, "burst": 1}, "window_ms"),
        ({"max_messages": 5, "window_ms": 1000, "burst": 6}, "burst"),
    ],
)
def test_invalid_profiles_are_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ThroughputProfile(name="bad", **kwargs)
