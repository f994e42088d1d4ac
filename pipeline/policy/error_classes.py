"""What to do about a Cloud API error code (whatsapp-cloud-api.md, "Error codes").

Branch on the numeric ``code`` of the error body, never on the HTTP status or the title
(Meta's advice). :func:`classify` is total: every integer, ``None`` and timeouts get a class.
Codes we do not know are retried when the transport says the fault is on Meta's side (HTTP
5xx, 429, a timeout, or no answer at all) and otherwise treated as permanent: retrying an
unknown 4xx would at best waste a token and at worst message a customer twice. An unknown code
without an HTTP status (a failed-status webhook) is permanent for the same reason.

:func:`next_attempt_ms` turns a class into the time of the next attempt, or ``None`` to stop:
exponential back-off with full jitter (delay drawn uniformly from ``[0, min(cap, base·2ⁿ⁻¹)]``,
so a herd of retries spreads out) from an injected ``random.Random`` for determinism.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from pipeline.policy.durations import DAY_MS, SECOND_MS


class ErrorAction(Enum):
    RETRY = "retry"  # back off exponentially with jitter, up to max attempts
    RETRY_CUSTOMER_LATER = "retry_customer_later"  # pair rate: 4ⁿ s for this customer
    NOT_BEFORE_24H = "not_before_24h"  # per-user marketing limit: sooner makes it worse
    PERMANENT = "permanent"  # never retry this command
    SLOW_CAMPAIGN = "slow_campaign"  # spam limit: this one is lost; slow its campaign
    MARK_OPTED_OUT = "mark_opted_out"  # the customer stopped marketing: record the opt-out
    STOP_CAMPAIGN = "stop_campaign"  # messaging limit after violations: pause the campaign


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorClass:
    code: int | None
    action: ErrorAction
    meaning: str
    slow_number: bool = False  # also hold the business number's bucket (130429)

    @property
    def retryable(self) -> bool:
        return self.action in _RETRYABLE


_RETRYABLE = frozenset(
    {ErrorAction.RETRY, ErrorAction.RETRY_CUSTOMER_LATER, ErrorAction.NOT_BEFORE_24H}
)


def _table() -> dict[int, ErrorClass]:
    rows: list[tuple[tuple[int, ...], ErrorAction, str]] = [
        ((130429,), ErrorAction.RETRY, "throughput limit for the number"),
        ((131056,), ErrorAction.RETRY_CUSTOMER_LATER, "pair rate: too many to this customer"),
        ((4, 80007), ErrorAction.RETRY, "app or WABA API rate limit"),
        ((131000, 131016, 1, 2, 131057), ErrorAction.RETRY, "temporary error or maintenance"),
        ((131047,), ErrorAction.PERMANENT, "over 24 h since the customer wrote: use a template"),
        ((131026,), ErrorAction.PERMANENT, "message undeliverable"),
        ((131048,), ErrorAction.SLOW_CAMPAIGN, "spam rate limit"),
        ((131049,), ErrorAction.NOT_BEFORE_24H, "per-user marketing limit"),
        ((131050,), ErrorAction.MARK_OPTED_OUT, "customer stopped marketing messages"),
        ((131064,), ErrorAction.STOP_CAMPAIGN, "messaging limit after template violations"),
        (
            (130472, 130403, 368, 131031, 131042),
            ErrorAction.PERMANENT,
            "experiment, blocked, policy or payment problem",
        ),
        (
            tuple(range(132000, 132017)),
            ErrorAction.PERMANENT,
            "template missing, paused or wrong parameters: fix the template",
        ),
    ]
    table: dict[int, ErrorClass] = {}
    for codes, action, meaning in rows:
        for code in codes:
            table[code] = ErrorClass(
                code=code, action=action, meaning=meaning, slow_number=code == 130429
            )
    return table


ERROR_TABLE: dict[int, ErrorClass] = _table()


def classify(
    code: int | None, *, http_status: int | None = None, timed_out: bool = False
) -> ErrorClass:
    """The class of a failed send; total over every input."""
    if code is not None and code in ERROR_TABLE:
        return ERROR_TABLE[code]
    transient = (
        timed_out
        or (http_status is not None and (http_status >= 500 or http_status == 429))
        # Nothing came back at all (connection refused or reset): the transport failed.
        or (code is None and http_status is None)
    )
    if transient:
        what = "timeout" if timed_out else f"HTTP {http_status}" if http_status else "no answer"
        return ErrorClass(code=code, action=ErrorAction.RETRY, meaning=f"unknown error ({what})")
    return ErrorClass(
        code=code, action=ErrorAction.PERMANENT, meaning=f"unknown error (HTTP {http_status})"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How hard to retry. ``max_attempts`` counts every send attempt, the first included."""

    max_attempts: int = 6
    base_delay_ms: int = SECOND_MS
    max_delay_ms: int = 60 * SECOND_MS
    pair_rate_base_s: int = 4  # 131056: wait 4ⁿ s (n = attempts so far), Meta's guidance
    not_before_ms: int = DAY_MS  # 131049

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be ≥ 1, got {self.max_attempts}")
        if not 0 <= self.base_delay_ms <= self.max_delay_ms:
            raise ValueError("need 0 ≤ base_delay_ms ≤ max_delay_ms")

    def backoff_ceiling_ms(self, attempts: int) -> int:
        """Largest back-off after ``attempts`` failed attempts (before jitter)."""
        # Cap the exponent: 2**attempts for a large count is a huge int for nothing.
        exponent = min(max(attempts - 1, 0), 62)
        return min(self.max_delay_ms, self.base_delay_ms * 2**exponent)

    def backoff_ms(self, attempts: int, rng: random.Random) -> int:
        """Full jitter: uniform in ``[0, backoff_ceiling_ms(attempts)]``."""
        return rng.randint(0, self.backoff_ceiling_ms(attempts))


DEFAULT_RETRY_POLICY = RetryPolicy()


def next_attempt_ms(
    error: ErrorClass,
    *,
    attempts: int,
    now_ms: int,
    rng: random.Random,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> int | None:
    """When to try again after the ``attempts``-th attempt failed with ``error``; None = stop."""
    if not error.retryable or attempts >= policy.max_attempts:
        return None
    if error.action is ErrorAction.RETRY_CUSTOMER_LATER:
        return now_ms + policy.pair_rate_base_s ** max(attempts, 1) * SECOND_MS
    if error.action is ErrorAction.NOT_BEFORE_24H:
        return now_ms + policy.not_before_ms
    return now_ms + policy.backoff_ms(attempts, rng)


__all__ = [
    "DEFAULT_RETRY_POLICY",
    "ERROR_TABLE",
    "ErrorAction",
    "ErrorClass",
    "RetryPolicy",
    "classify",
    "next_attempt_ms",
]
