"""The sender's knobs, read once from :class:`Settings` and passed down as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.errors import ConfigError
from pipeline.policy import (
    DEFAULT_RETRY_POLICY,
    HOUR_MS,
    SECOND_MS,
    PairRate,
    RetryPolicy,
    ThroughputProfile,
    profile_named,
)
from pipeline.settings import Settings

#: The sandbox's token when none is configured (pipeline/sandbox/config.py).
SANDBOX_ACCESS_TOKEN = "wapipe-sandbox-token"
META_GRAPH_URL = "https://graph.facebook.com"


def guarded(profile: ThroughputProfile, *, guard_ms: int) -> ThroughputProfile:
    """``profile`` with its window stretched by ``guard_ms``.

    The bucket spaces *departures*; Meta (and the sandbox) count *arrivals*. Requests leave on
    several connections and a slow one can arrive late, bunching with the next second's, so
    the window is widened by the departure-to-arrival jitter we tolerate. 20 ms on a 1 s
    window costs 2% of the rate.
    """
    return ThroughputProfile(
        name=profile.name,
        max_messages=profile.max_messages,
        window_ms=profile.window_ms + guard_ms,
        burst=profile.burst,
    )


#: Meta's 6 s plus margin for arrival jitter: two sends to one customer must *arrive* ≥ 6 s
#: apart, or the second is refused with 131056.
PAIR_RATE = PairRate(min_gap_ms=6 * SECOND_MS + 100)


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderConfig:
    base_url: str
    api_version: str
    access_token: str = field(repr=False)
    profile: ThroughputProfile
    pair_rate: PairRate = PAIR_RATE
    retry: RetryPolicy = DEFAULT_RETRY_POLICY
    http_connections: int = 64
    http_timeout_s: float = 10.0
    #: Waits up to this long are held in memory; longer ones go to the deferral table and the
    #: command's offset is released (a 12 h send-window wait must not pin the partition).
    inline_wait_max_ms: int = 60 * SECOND_MS
    #: Commands held in memory at once (in lanes, waiting, sending); the agent stops taking
    #: new commands beyond it, so a million-command backlog cannot exhaust memory.
    max_pending: int = 50_000
    #: How long a command found in flight after a crash waits for a status webhook naming it.
    crash_evidence_wait_ms: int = 10 * SECOND_MS
    ledger_retention_ms: int = 192 * HOUR_MS  # 0: keep done marks forever

    @classmethod
    def from_settings(cls, settings: Settings) -> SenderConfig:
        token = settings.whatsapp_access_token
        base_url = settings.whatsapp_api_base_url.rstrip("/")
        if token is None and base_url == META_GRAPH_URL:
            raise ConfigError(
                "the sender has no Cloud API token: set WAPIPE_WHATSAPP_ACCESS_TOKEN, or point "
                "WAPIPE_WHATSAPP_API_BASE_URL at the sandbox (e.g. http://127.0.0.1:8077)"
            )
        try:
            profile = profile_named(settings.whatsapp_throughput_profile)
        except ValueError as exc:
            raise ConfigError(f"WAPIPE_WHATSAPP_THROUGHPUT_PROFILE: {exc}") from None
        if settings.whatsapp_rate_per_s is not None:
            profile = ThroughputProfile.per_second(settings.whatsapp_rate_per_s)
        return cls(
            base_url=base_url,
            api_version=settings.whatsapp_api_version,
            access_token=(token.get_secret_value() if token is not None else SANDBOX_ACCESS_TOKEN),
            profile=guarded(profile, guard_ms=settings.whatsapp_rate_guard_ms),
            http_connections=settings.whatsapp_http_connections,
            http_timeout_s=settings.whatsapp_send_timeout_s,
            crash_evidence_wait_ms=int(settings.sender_crash_evidence_wait_s * SECOND_MS),
            ledger_retention_ms=int(settings.sender_ledger_retention_hours * HOUR_MS),
        )
