"""Throughput per business number: a token bucket that can never exceed its window's quota.

Meta allows 80 messages/s per business number by default and answers 130429 beyond it
(whatsapp-cloud-api.md, Limits); new numbers start on a `warmup` profile of 30 per minute
(design.md §7). A classic token bucket of rate r and burst b lets ``b + r·W`` messages into a
window of W, so on its own it either breaks the limit (b > 0) or wastes capacity. This bucket
therefore checks two things before handing out a token:

* a token bucket (``rate``, ``burst``) that spaces messages out so bursts stay short, and
* a sliding-window log of the last ``max_messages`` send times: a send at ``t`` needs the
  ``max_messages``-th most recent send to be at or before ``t - window_ms``.

The log makes the guarantee exact: no half-open window ``[s, s + window_ms)`` ever holds more
than ``max_messages`` sends, for every ``s`` (not only aligned seconds). The bucket keeps the
long-run rate at ``max_messages / window_ms`` with full utilisation, since a token taken late
is absorbed by the burst allowance.

The state is a small frozen value, so the sender can keep one per business number and await
``wait_s`` for one number without holding up any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.policy.durations import MINUTE_MS, SECOND_MS

_US_PER_MS = 1_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ThroughputProfile:
    """At most ``max_messages`` per ``window_ms``, in bursts of at most ``burst``."""

    name: str
    max_messages: int
    window_ms: int
    burst: int

    def __post_init__(self) -> None:
        if self.max_messages < 1:
            raise ValueError(f"max_messages must be ≥ 1, got {self.max_messages}")
        if self.window_ms < 1:
            raise ValueError(f"window_ms must be ≥ 1, got {self.window_ms}")
        if not 1 <= self.burst <= self.max_messages:
            raise ValueError(
                f"burst must be between 1 and max_messages ({self.max_messages}), got {self.burst}"
            )

    @property
    def rate_per_s(self) -> float:
        return self.max_messages * SECOND_MS / self.window_ms

    @property
    def interval_us(self) -> int:
        """Spacing between tokens, rounded up so the long-run rate never exceeds the quota."""
        return -(-self.window_ms * _US_PER_MS // self.max_messages)

    @classmethod
    def per_second(cls, rate_per_s: int, *, burst: int | None = None) -> ThroughputProfile:
        """A profile of ``rate_per_s`` messages in any one second (Meta's unit)."""
        return cls(
            name=f"{rate_per_s}/s",
            max_messages=rate_per_s,
            window_ms=SECOND_MS,
            burst=burst if burst is not None else max(1, rate_per_s // 8),
        )


#: Cloud API default for a business number (whatsapp-cloud-api.md, Limits). The burst of 10
#: keeps sends spread over the second instead of 80 at once followed by silence.
DEFAULT_PROFILE = ThroughputProfile(name="default", max_messages=80, window_ms=SECOND_MS, burst=10)
#: New numbers: 30 per minute, one every 2 s (design.md §7).
WARMUP_PROFILE = ThroughputProfile(name="warmup", max_messages=30, window_ms=MINUTE_MS, burst=1)
#: Numbers shared with the WhatsApp Business app.
SHARED_APP_PROFILE = ThroughputProfile(
    name="shared-app", max_messages=20, window_ms=SECOND_MS, burst=3
)
#: Meta's automatic upgrade for large senders.
HIGH_PROFILE = ThroughputProfile(name="high", max_messages=1000, window_ms=SECOND_MS, burst=100)

PROFILES: dict[str, ThroughputProfile] = {
    p.name: p for p in (DEFAULT_PROFILE, WARMUP_PROFILE, SHARED_APP_PROFILE, HIGH_PROFILE)
}


def profile_named(name: str) -> ThroughputProfile:
    """The profile called ``name``; raises ``ValueError`` listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown throughput profile {name!r}; use one of: {known}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketState:
    """What one business number's bucket remembers.

    ``tat_us``: theoretical arrival time of the next token (GCRA form of a token bucket), µs.
    ``recent_ms``: send times of the last ``max_messages`` sends, oldest first.
    ``held_until_ms``: nothing is sent before this (set after a 130429).
    """

    tat_us: int = 0
    recent_ms: tuple[int, ...] = ()
    held_until_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenBucket:
    """The throttle of one business number: ``take`` a token or learn how long to wait."""

    profile: ThroughputProfile = DEFAULT_PROFILE

    @property
    def rate_per_s(self) -> float:
        return self.profile.rate_per_s

    @property
    def burst(self) -> int:
        return self.profile.burst

    def allowed_at_ms(self, state: BucketState, now_ms: int) -> int:
        """The earliest whole millisecond ≥ ``now_ms`` at which a token is available."""
        profile = self.profile
        at_ms = max(now_ms, state.held_until_ms)
        if state.recent_ms:
            # Time never runs backwards inside the bucket: a send is recorded at or after the
            # last one, otherwise a clock step back could squeeze extra sends into a window.
            at_ms = max(at_ms, state.recent_ms[-1])
        tolerance_us = (profile.burst - 1) * profile.interval_us
        bucket_at_us = state.tat_us - tolerance_us
        at_ms = max(at_ms, -(-bucket_at_us // _US_PER_MS))
        if len(state.recent_ms) >= profile.max_messages:
            at_ms = max(at_ms, state.recent_ms[-profile.max_messages] + profile.window_ms)
        return at_ms

    def take(self, state: BucketState, now_ms: int) -> tuple[BucketState, float]:
        """Take a token at ``now_ms``.

        Returns ``(new_state, 0.0)`` when the token was taken: send now. Otherwise returns the
        unchanged state and the seconds to wait before calling ``take`` again.
        """
        at_ms = self.allowed_at_ms(state, now_ms)
        if at_ms > now_ms:
            return state, (at_ms - now_ms) / SECOND_MS
        profile = self.profile
        tat_us = max(state.tat_us, now_ms * _US_PER_MS) + profile.interval_us
        recent = (*state.recent_ms, now_ms)[-profile.max_messages :]
        return BucketState(tat_us=tat_us, recent_ms=recent, held_until_ms=state.held_until_ms), 0.0

    def hold(self, state: BucketState, until_ms: int) -> BucketState:
        """Send nothing before ``until_ms`` (after a 130429: slow the number)."""
        return BucketState(
            tat_us=state.tat_us,
            recent_ms=state.recent_ms,
            held_until_ms=max(state.held_until_ms, until_ms),
        )


__all__ = [
    "DEFAULT_PROFILE",
    "HIGH_PROFILE",
    "PROFILES",
    "SHARED_APP_PROFILE",
    "WARMUP_PROFILE",
    "BucketState",
    "ThroughputProfile",
    "TokenBucket",
    "profile_named",
]
