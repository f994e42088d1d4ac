"""One marketing message per customer per 24 h."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy.durations import DAY_MS
from pipeline.policy.marketing_cap import DEFAULT_MARKETING_CAP

times = st.integers(0, 10**13)


@settings(deadline=None)
@given(last=times, age=st.integers(0, 3 * DAY_MS))
def test_allowed_from_exactly_24_hours_after_the_last_one(last: int, age: int) -> None:
    now = last + age
    assert DEFAULT_MARKETING_CAP.allows(last, now) == (age >= DAY_MS)
    assert DEFAULT_MARKETING_CAP.allowed_at_ms(last, now) == max(now, last + DAY_MS)


@settings(deadline=None)
@given(steps=st.lists(st.integers(0, DAY_MS // 3), max_size=50))
def test_a_sender_following_the_cap_sends_at_most_one_per_any_24_hours(steps: list[int]) -> None:
    now, last, sent = 0, None, []
    for step in steps:
        now += step
        if DEFAULT_MARKETING_CAP.allows(last, now):
            sent.append(now)
            last = now
    assert all(b - a >= DAY_MS for a, b in itertools.pairwise(sent))


def test_first_marketing_message_is_allowed() -> None:
    assert DEFAULT_MARKETING_CAP.allows(None, 0)
