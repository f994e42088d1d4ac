"""Error classification is total and follows the Cloud API table; back-off stays in bounds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy.durations import DAY_MS
from pipeline.policy.error_classes import (
    DEFAULT_RETRY_POLICY,
    ERROR_TABLE,
    ErrorAction,
    RetryPolicy,
    classify,
    next_attempt_ms,
)

A = ErrorAction


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (130429, A.RETRY),
        (131056, A.RETRY_CUSTOMER_LATER),
        (4, A.RETRY),
        (80007, A.RETRY),
        (131000, A.RETRY),
        (131016, A.RETRY),
        (1, A.RETRY),
        (2, A.RETRY),
        (131057, A.RETRY),
        (131047, A.PERMANENT),
        (131026, A.PERMANENT),
        (131048, A.SLOW_CAMPAIGN),
        (131049, A.NOT_BEFORE_24H),
        (131050, A.MARK_OPTED_OUT),
        (131064, A.STOP_CAMPAIGN),
        (130472, A.PERMANENT),
        (130403, A.PERMANENT),
        (368, A.PERMANENT),
        (131031, A.PERMANENT),
        (131042, A.PERMANENT),
        (132000, A.PERMANENT),
        (132016, A.PERMANENT),
    ],
)
def test_known_codes_follow_the_cloud_api_table(code: int, action: ErrorAction) -> None:
    # Known codes win over any HTTP status: Meta says branch on the code.
    for status in (400, 429, 500, None):
        assert classify(code, http_status=status).action is action


def test_only_130429_slows_the_number() -> None:
    assert [c for c, e in ERROR_TABLE.items() if e.slow_number] == [130429]


@settings(deadline=None)
@given(
    code=st.none() | st.integers(), status=st.none() | st.integers(100, 599), timeout=st.booleans()
)
def test_classification_is_total_and_unknown_codes_follow_the_transport(
    code: int | None, status: int | None, timeout: bool
) -> None:
    result = classify(code, http_status=status, timed_out=timeout)
    assert result.code == code
    assert result.meaning
    if code in ERROR_TABLE:
        return
    if status is None:
        transient = timeout or code is None  # no answer at all vs a webhook's unknown code
    else:
        transient = timeout or status >= 500 or status == 429
    assert result.action is (A.RETRY if transient else A.PERMANENT)


@settings(deadline=None)
@given(attempts=st.integers(1, 200), seed=st.integers(0, 2**32), now=st.integers(0, 10**13))
def test_backoff_is_within_full_jitter_bounds_and_deterministic(
    attempts: int, seed: int, now: int
) -> None:
    policy = RetryPolicy(max_attempts=1_000)
    ceiling = min(policy.max_delay_ms, policy.base_delay_ms * 2 ** (attempts - 1))
    at = next_attempt_ms(
        classify(130429), attempts=attempts, now_ms=now, rng=random.Random(seed), policy=policy
    )
    assert at is not None
    assert now <= at <= now + ceiling
    again = next_attempt_ms(
        classify(130429), attempts=attempts, now_ms=now, rng=random.Random(seed), policy=policy
    )
    assert again == at


def test_jitter_spreads_retries_over_the_whole_range() -> None:
    rng = random.Random(7)
    delays = [DEFAULT_RETRY_POLICY.backoff_ms(4, rng) for _ in range(2_000)]
    ceiling = DEFAULT_RETRY_POLICY.backoff_ceiling_ms(4)
    assert ceiling == 8_000
    assert min(delays) < ceiling * 0.05 and max(delays) > ceiling * 0.95


@settings(deadline=None)
@given(code=st.integers(), attempts=st.integers(1, 50))
def test_nothing_is_retried_past_max_attempts_and_permanent_never(code: int, attempts: int) -> None:
    error = classify(code, http_status=400)
    at = next_attempt_ms(error, attempts=attempts, now_ms=0, rng=random.Random(0))
    if attempts >= DEFAULT_RETRY_POLICY.max_attempts or not error.retryable:
        assert at is None
    else:
        assert at is not None and at >= 0


def test_pair_rate_waits_4_to_the_n_seconds_and_marketing_limit_a_day() -> None:
    rng = random.Random(0)
    waits = [next_attempt_ms(classify(131056), attempts=n, now_ms=0, rng=rng) for n in (1, 2, 3)]
    assert waits == [4_000, 16_000, 64_000]
    assert next_attempt_ms(classify(131049), attempts=1, now_ms=5, rng=rng) == 5 + DAY_MS
    for code in (131047, 131026, 131050, 131064, 131048):
        assert next_attempt_ms(classify(code), attempts=1, now_ms=0, rng=rng) is None


def test_bad_retry_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base_delay_ms"):
        RetryPolicy(base_delay_ms=10, max_delay_ms=5)
