"""The 24 h service window: open strictly less than 24 h after the customer's last message."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy.durations import DAY_MS
from pipeline.policy.service_window import DEFAULT_SERVICE_WINDOW, ServiceWindow

times = st.integers(0, 10**13)


@settings(deadline=None)
@given(last=times, age=st.integers(0, 3 * DAY_MS))
def test_open_exactly_when_younger_than_24_hours(last: int, age: int) -> None:
    assert DEFAULT_SERVICE_WINDOW.is_open(last, last + age) == (age < DAY_MS)


@settings(deadline=None)
@given(last=times)
def test_boundaries_at_exactly_24_hours(last: int) -> None:
    window = DEFAULT_SERVICE_WINDOW
    assert window.is_open(last, last + DAY_MS - 1)
    assert not window.is_open(last, last + DAY_MS)
    assert window.closes_at_ms(last) == last + DAY_MS


@settings(deadline=None)
@given(last=st.none() | times, now=times)
def test_templates_always_allowed_free_form_only_inside(last: int | None, now: int) -> None:
    window = DEFAULT_SERVICE_WINDOW
    assert window.allows(kind="template", last_inbound_ms=last, now_ms=now)
    assert window.allows(kind="text", last_inbound_ms=last, now_ms=now) == window.is_open(last, now)


def test_never_opened_window_is_closed_and_skewed_clocks_count_as_open() -> None:
    assert not DEFAULT_SERVICE_WINDOW.is_open(None, 0)
    assert DEFAULT_SERVICE_WINDOW.closes_at_ms(None) is None
    assert DEFAULT_SERVICE_WINDOW.is_open(10_500, 10_000)  # customer's clock 0.5 s ahead


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_ms"):
        ServiceWindow(window_ms=0)
