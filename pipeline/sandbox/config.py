"""The sandbox's configuration: small frozen value objects, secrets masked in ``repr``.

Every figure that shapes simulated behaviour lives in :class:`BehaviourRates`, so a test can
measure the model against the same object that drives it (issue 4: "all of it parameterised").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.errors import ConfigError

# Meta does not apply the per-user marketing cap (131049) in the EEA, the UK, Japan or South
# Korea (whatsapp-cloud-api.md, "Marketing"); country calling codes of those places.
CAP_EXEMPT_CALLING_CODES: frozenset[str] = frozenset(
    {
        "30",
        "31",
        "32",
        "33",
        "34",
        "36",
        "39",
        "40",
        "41",
        "43",
        "44",
        "45",
        "46",
        "47",
        "48",
        "49",
        "350",
        "351",
        "352",
        "353",
        "354",
        "356",
        "357",
        "358",
        "359",
        "370",
        "371",
        "372",
        "385",
        "386",
        "420",
        "421",
        "423",
        "81",
        "82",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessNumber:
    """One business phone number as the Graph API knows it."""

    phone_number_id: str = "106540352242922"
    display_phone_number: str = "15550783881"
    waba_id: str = "102290129340398"


@dataclass(frozen=True, slots=True, kw_only=True)
class BehaviourRates:
    """How simulated customers react; defaults are the figures of design.md §6."""

    delivery_rate: float = 0.92
    media_delivery_rate: float = 0.86  # issue 4: plain text is delivered more often than media
    undelivered_failed_share: float = 0.5  # the rest of the undelivered simply stay at "sent"
    read_rate: float = 0.65  # of delivered, outside the peaks
    peak_read_uplift: float = 0.225  # relative: +20–25% in the local peak hours
    peak_hours: tuple[tuple[int, int], ...] = ((10, 12), (20, 22))
    reply_rate_utility: float = 0.15  # order notices
    reply_rate_marketing: float = 0.02  # plain promotions: 1–3%
    reply_rate_service: float = 0.25  # free-form replies inside the service window
    reply_within_3min_share: float = 0.65
    reply_after_30min_share: float = 0.12
    conversion_rate: float = 0.08  # of delivered marketing messages, within 7 days
    discount_keyword_share: float = 0.2  # of replies: "할인" / "discount"
    stop_keyword_share: float = 0.05  # of replies to marketing: "STOP" / "수신거부"
    marketing_stop_rate: float = 0.005  # of delivered marketing: "stop promotions" in WhatsApp
    inbound_per_customer_day: float = 0.02  # customers who write first (opens service windows)

    def __post_init__(self) -> None:
        for name in (
            "delivery_rate",
            "media_delivery_rate",
            "undelivered_failed_share",
            "read_rate",
            "reply_rate_utility",
            "reply_rate_marketing",
            "reply_rate_service",
            "reply_within_3min_share",
            "reply_after_30min_share",
            "conversion_rate",
            "discount_keyword_share",
            "stop_keyword_share",
            "marketing_stop_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"sandbox behaviour {name}={value}: use a share in [0, 1].")
        if self.reply_within_3min_share + self.reply_after_30min_share > 1.0:
            raise ConfigError("sandbox reply timing shares add up to more than 1: lower one.")
        # Replies and purchases come only from customers who read, so each rate must fit
        # inside the lowest read probability (outside the peaks).
        top = max(
            self.reply_rate_utility,
            self.reply_rate_marketing,
            self.reply_rate_service,
            self.conversion_rate,
        )
        if top > self.read_rate:
            raise ConfigError(
                f"sandbox read_rate={self.read_rate} is below a reply/conversion rate ({top}):"
                " raise read_rate or lower the reply and conversion rates."
            )
        if self.inbound_per_customer_day < 0:
            raise ConfigError("sandbox inbound_per_customer_day must be >= 0.")


@dataclass(frozen=True, slots=True, kw_only=True)
class PopulationSpec:
    """Who the simulated customers are."""

    size: int = 1000
    # calling code → share of the population; KR first because wapipe's default region is KR.
    country_mix: tuple[tuple[str, float], ...] = (("82", 0.7), ("1", 0.1), ("55", 0.1), ("91", 0.1))
    unreachable_share: float = 0.01  # numbers that are not on WhatsApp: 131026
    marketing_stopped_share: float = 0.01  # turned marketing off in WhatsApp: 131050
    history_days: int = 180
    currency_by_code: tuple[tuple[str, str], ...] = (
        ("82", "KRW"),
        ("1", "USD"),
        ("55", "BRL"),
        ("91", "INR"),
    )

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ConfigError("sandbox population size must be >= 0.")
        total = sum(share for _, share in self.country_mix)
        if self.country_mix and abs(total - 1.0) > 1e-6:
            raise ConfigError(f"sandbox country_mix shares add up to {total}, not 1.")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverySpec:
    """How webhooks and purchases are posted: batching and retry with back-off (real seconds)."""

    batch_max_items: int = 100  # Meta batches up to 1,000 updates per POST
    batch_window_s: float = 0.05
    concurrency: int = 4
    retry_initial_s: float = 0.2
    retry_max_s: float = 30.0
    retry_max_attempts: int = 10
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxConfig:
    """Everything the sandbox needs; build it once at the edge and pass it down."""

    access_token: str = field(default="wapipe-sandbox-token", repr=False)
    app_secret: str = field(default="wapipe-dev-app-secret", repr=False)
    callback_url: str | None = None
    purchases_url: str | None = None
    purchases_api_key: str = field(default="wapipe-dev-purchases-key", repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 7
    clock_speed: float = 1.0  # simulated seconds per real second
    clock_start_s: float | None = None  # simulated Unix time at start; None = now
    business_numbers: tuple[BusinessNumber, ...] = (BusinessNumber(),)
    auto_register_numbers: bool = True  # unknown phone_number_ids are adopted, not refused
    throughput_per_s: float = 80.0
    pair_interval_s: float = 6.0
    pair_burst: int = 1  # Meta lets bursts of up to 45 borrow from later; strict by default
    service_window_s: float = 24 * 3600.0
    marketing_cap_per_user_24h: int = 2
    # Meta reports 131026/131047/131049/131050 either in the response or as a failed status
    # webhook after "accepted"; False answers them in the response (easier to test against).
    async_delivery_errors: bool = False
    behaviour: BehaviourRates = BehaviourRates()
    population: PopulationSpec = PopulationSpec()
    delivery: DeliverySpec = DeliverySpec()
    record_max_requests: int = 1_000_000

    def __post_init__(self) -> None:
        if self.throughput_per_s <= 0 or self.pair_interval_s <= 0:
            raise ConfigError("sandbox throughput_per_s and pair_interval_s must be > 0.")
        if self.clock_speed < 0:
            raise ConfigError("sandbox clock_speed must be >= 0 (0 freezes the clock).")
        if self.pair_burst < 1:
            raise ConfigError("sandbox pair_burst must be >= 1.")
        if not self.business_numbers:
            raise ConfigError("sandbox needs at least one business number.")
