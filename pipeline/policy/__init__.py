"""Pure, broker-free policy: the rules of design.md §5 and §7 as functions and frozen values.

Nothing here talks to Kafka, HTTP or a clock: time comes in as ``now_ms``/``ts_ms`` (event time,
Unix ms), money as integer minor units or micro-USD, and every limit is a small keyword-only
value with its unit in its name. The agents and the sender call these; the tests prove them.

Modules, one concept each:
    throughput        TokenBucket per business number (80/s default, warmup 30/min)
    pair_rate         ≥ 6 s between two messages to the same customer
    service_window    24 h customer service window: free-form text only inside it
    marketing_cap     one marketing message per customer per 24 h
    messaging_limit   Tier: unique customers reached per moving 24 h
    send_windows      campaign send windows in the customer's local time
    priority          service > utility > marketing, then customer value, then FIFO
    gate              all per-customer checks → send / skip(reason) / defer(until)
    error_classes     Cloud API error code → action, with back-off and jitter
    customer_state    a customer's engagement state, folded from events idempotently
    tag_thresholds    the numbers behind the tags
    tags              engagement tags and the reason for each change
    pricing           price table, monthly free tier, provider presets
    customer_numbers  country and time zone of a WhatsApp id
    durations         SECOND_MS … DAY_MS
    frozen_init       fast_init: a cheaper __init__ for the hot frozen values

Used as modules (their names would clash if flattened: both have a ``judge``):
    reply_attribution which delivered message a reply answers; facts for the windows
    reply_rate        sliding 24 h reply and delivery rates with hysteresis alarms
    sla               unanswered conversations
    tag_timeline      tag changes of a customer over event time (engagement agent)
    customer_batch    one customer's batch of decoded events folded in place (engagement agent)
"""

from __future__ import annotations

from pipeline.policy import customer_batch, reply_attribution, reply_rate, sla, tag_timeline
from pipeline.policy.customer_numbers import (
    region_for,
    zone_name_for,
)
from pipeline.policy.customer_state import (
    CLICK_TYPES,
    OPTED_OUT_ERROR,
    CurrencyTotal,
    CustomerState,
    PurchaseRecord,
    TagEvent,
    apply_consent,
    apply_event,
    apply_inbound,
    apply_purchase,
    apply_receipt,
    apply_send_result,
)
from pipeline.policy.durations import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    SECOND_MS,
)
from pipeline.policy.error_classes import (
    DEFAULT_RETRY_POLICY,
    ERROR_TABLE,
    ErrorAction,
    ErrorClass,
    RetryPolicy,
    classify,
    next_attempt_ms,
)
from pipeline.policy.frozen_init import fast_init
from pipeline.policy.gate import (
    DEFAULT_GATE_POLICY,
    SEND,
    CustomerFacts,
    GateDecision,
    GatePolicy,
    GateReason,
    ReachView,
    defer,
    gate,
    skip,
)
from pipeline.policy.marketing_cap import (
    DEFAULT_MARKETING_CAP,
    MARKETING,
    MarketingCap,
)
from pipeline.policy.messaging_limit import (
    LimitDecision,
    ReachLedger,
    Tier,
    decide,
)
from pipeline.policy.pair_rate import (
    DEFAULT_PAIR_RATE,
    PairRate,
)
from pipeline.policy.pricing import (
    DEFAULT_PRICE_TABLE,
    MESSAGEBIRD,
    MICROS_PER_USD,
    PROVIDERS,
    TWILIO,
    ZENVIA,
    CategoryPrices,
    PriceTable,
    ProviderPreset,
    monthly_cost,
    provider_named,
)
from pipeline.policy.priority import (
    CATEGORY_RANK,
    PriorityKey,
    category_rank,
    command_priority,
    priority_key,
)
from pipeline.policy.send_windows import (
    DEFAULT_SEND_WINDOWS,
    DEFAULT_WINDOWS,
    LocalWindow,
    SendWindows,
    next_allowed_ms,
)
from pipeline.policy.service_window import (
    DEFAULT_SERVICE_WINDOW,
    FREE_FORM_KINDS,
    TEMPLATE_KIND,
    ServiceWindow,
)
from pipeline.policy.tag_thresholds import (
    DEFAULT_TAG_THRESHOLDS,
    DEFAULT_VALUE_THRESHOLDS,
    TagThresholds,
    ValueThresholds,
)
from pipeline.policy.tags import (
    DORMANT,
    FREQ_LAPSED,
    FREQ_MONTHLY,
    FREQ_NONE,
    FREQ_QUARTERLY,
    HEAT_COLD,
    HEAT_HOT,
    HEAT_WARM,
    OPTED_OUT,
    VALUE_HIGH,
    VALUE_LOW,
    VALUE_MID,
    VIP,
    TagDelta,
    compute_tags,
    diff_tags,
    next_tag_change_ms,
    purchases_in_window,
    tag_family,
    tag_report,
)
from pipeline.policy.throughput import (
    DEFAULT_PROFILE,
    HIGH_PROFILE,
    PROFILES,
    SHARED_APP_PROFILE,
    WARMUP_PROFILE,
    BucketState,
    ThroughputProfile,
    TokenBucket,
    profile_named,
)

#: Modules exported as modules, not name by name (see the docstring).
NAMESPACED_MODULES = (
    "customer_batch",
    "reply_attribution",
    "reply_rate",
    "sla",
    "tag_timeline",
)

__all__ = [
    "CATEGORY_RANK",
    "CLICK_TYPES",
    "DAY_MS",
    "DEFAULT_GATE_POLICY",
    "DEFAULT_MARKETING_CAP",
    "DEFAULT_PAIR_RATE",
    "DEFAULT_PRICE_TABLE",
    "DEFAULT_PROFILE",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_SEND_WINDOWS",
    "DEFAULT_SERVICE_WINDOW",
    "DEFAULT_TAG_THRESHOLDS",
    "DEFAULT_VALUE_THRESHOLDS",
    "DEFAULT_WINDOWS",
    "DORMANT",
    "ERROR_TABLE",
    "FREE_FORM_KINDS",
    "FREQ_LAPSED",
    "FREQ_MONTHLY",
    "FREQ_NONE",
    "FREQ_QUARTERLY",
    "HEAT_COLD",
    "HEAT_HOT",
    "HEAT_WARM",
    "HIGH_PROFILE",
    "HOUR_MS",
    "MARKETING",
    "MESSAGEBIRD",
    "MICROS_PER_USD",
    "MINUTE_MS",
    "NAMESPACED_MODULES",
    "OPTED_OUT",
    "OPTED_OUT_ERROR",
    "PROFILES",
    "PROVIDERS",
    "SECOND_MS",
    "SEND",
    "SHARED_APP_PROFILE",
    "TEMPLATE_KIND",
    "TWILIO",
    "VALUE_HIGH",
    "VALUE_LOW",
    "VALUE_MID",
    "VIP",
    "WARMUP_PROFILE",
    "ZENVIA",
    "BucketState",
    "CategoryPrices",
    "CurrencyTotal",
    "CustomerFacts",
    "CustomerState",
    "ErrorAction",
    "ErrorClass",
    "GateDecision",
    "GatePolicy",
    "GateReason",
    "LimitDecision",
    "LocalWindow",
    "MarketingCap",
    "PairRate",
    "PriceTable",
    "PriorityKey",
    "ProviderPreset",
    "PurchaseRecord",
    "ReachLedger",
    "ReachView",
    "RetryPolicy",
    "SendWindows",
    "ServiceWindow",
    "TagDelta",
    "TagEvent",
    "TagThresholds",
    "ThroughputProfile",
    "Tier",
    "TokenBucket",
    "ValueThresholds",
    "apply_consent",
    "apply_event",
    "apply_inbound",
    "apply_purchase",
    "apply_receipt",
    "apply_send_result",
    "category_rank",
    "classify",
    "command_priority",
    "compute_tags",
    "customer_batch",
    "decide",
    "defer",
    "diff_tags",
    "fast_init",
    "gate",
    "monthly_cost",
    "next_allowed_ms",
    "next_attempt_ms",
    "next_tag_change_ms",
    "priority_key",
    "profile_named",
    "provider_named",
    "purchases_in_window",
    "region_for",
    "reply_attribution",
    "reply_rate",
    "skip",
    "sla",
    "tag_family",
    "tag_report",
    "tag_timeline",
    "zone_name_for",
]
