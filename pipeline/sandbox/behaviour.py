"""How one simulated customer reacts to one message: a pure function of the rates and a RNG.

The plan is drawn once, when the message is accepted, so the sandbox's traffic depends only
on the seed and the requests, never on when background tasks happen to run. Rates follow
design.md §6: reach 92%, read 65% of delivered (+20–25% in the local peaks), replies 15% for
order notices and 1–3% for promotions, conversions 8% of delivered marketing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipeline.sandbox.config import BehaviourRates
from pipeline.sandbox.customers import Customer

MINUTE_S = 60.0
HOUR_S = 3600.0
DAY_S = 86400.0

_GENERIC_REPLIES = {
    "ko": ("감사합니다", "네 알겠습니다", "언제 도착하나요?", "좋아요!", "문의드립니다"),
    "en": ("Thanks!", "OK", "When will it arrive?", "Great", "I have a question"),
    "pt": ("Obrigado!", "Ok", "Quando chega?", "Ótimo", "Tenho uma dúvida"),
}
_DISCOUNT = {"ko": "할인 있나요?", "en": "Any discount?", "pt": "Tem desconto?"}
_STOP = {"ko": "수신거부", "en": "STOP", "pt": "STOP"}


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedReply:
    after_delivery_s: float
    text: str
    keyword: str | None  # "discount" | "stop" | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaction:
    """When (seconds after the send was accepted) each thing happens; None = never."""

    sent_after_s: float
    delivered_after_s: float | None
    failed_after_s: float | None
    read_after_s: float | None
    reply: PlannedReply | None
    reply_after_s: float | None
    purchase_after_s: float | None
    marketing_stop_after_s: float | None
    in_peak: bool


def in_peak_hours(rates: BehaviourRates, local_hour: float) -> bool:
    return any(start <= local_hour < end for start, end in rates.peak_hours)


def read_probability(rates: BehaviourRates, *, in_peak: bool) -> float:
    uplift = rates.peak_read_uplift if in_peak else 0.0
    return min(1.0, rates.read_rate * (1.0 + uplift))


def reply_rate(rates: BehaviourRates, category: str) -> float:
    if category == "utility":
        return rates.reply_rate_utility
    if category == "marketing":
        return rates.reply_rate_marketing
    if category == "service":
        return rates.reply_rate_service
    return 0.0  # nobody answers a login code


def plan_reaction(
    rates: BehaviourRates,
    customer: Customer,
    *,
    category: str,
    has_media: bool,
    accepted_at_s: float,
    rng: random.Random,
) -> Reaction:
    sent_after = rng.uniform(0.2, 1.5)
    delivery = rates.media_delivery_rate if has_media else rates.delivery_rate
    if rng.random() >= delivery:
        failed = sent_after + rng.uniform(5.0, 60.0)
        fails = rng.random() < rates.undelivered_failed_share
        return Reaction(
            sent_after_s=sent_after,
            delivered_after_s=None,
            failed_after_s=failed if fails else None,
            read_after_s=None,
            reply=None,
            reply_after_s=None,
            purchase_after_s=None,
            marketing_stop_after_s=None,
            in_peak=False,
        )
    delivered = sent_after + min(120.0, max(0.3, rng.lognormvariate(0.7, 0.8)))
    peak = in_peak_hours(rates, customer.local_hour(accepted_at_s + delivered))
    p_read = read_probability(rates, in_peak=peak)
    read_roll = rng.random()
    reads = read_roll < p_read
    # Replies and purchases are drawn among readers with p = rate / p_read, so that per
    # *delivered* message they come out at the configured rate whatever the hour.
    reply: PlannedReply | None = None
    read_after: float | None = None
    if reads and rng.random() < reply_rate(rates, category) / p_read:
        reply = _plan_reply(rates, customer, category, rng)
        read_after = delivered + reply.after_delivery_s * rng.uniform(0.2, 0.9)
    elif reads:
        read_after = delivered + _read_delay_s(rng)
    purchase_after = None
    stop_after = None
    if category == "marketing":
        if read_after is not None and rng.random() < rates.conversion_rate / p_read:
            purchase_after = max(
                read_after + MINUTE_S, delivered + min(6.5 * DAY_S, rng.expovariate(1 / DAY_S))
            )
        if rng.random() < rates.marketing_stop_rate:
            base = read_after if read_after is not None else delivered
            stop_after = base + rng.uniform(10.0, 600.0)
    return Reaction(
        sent_after_s=sent_after,
        delivered_after_s=delivered,
        failed_after_s=None,
        read_after_s=read_after,
        reply=reply,
        reply_after_s=delivered + reply.after_delivery_s if reply else None,
        purchase_after_s=purchase_after,
        marketing_stop_after_s=stop_after,
        in_peak=peak,
    )


def reply_delay_s(rates: BehaviourRates, rng: random.Random) -> float:
    """65% within 3 minutes, 12% after 30 minutes, the rest in between (design.md §6)."""
    roll = rng.random()
    if roll < rates.reply_within_3min_share:
        return rng.uniform(5.0, 3 * MINUTE_S)
    if roll < rates.reply_within_3min_share + rates.reply_after_30min_share:
        return 30 * MINUTE_S + min(22 * HOUR_S, rng.expovariate(1 / (4 * HOUR_S)))
    return rng.uniform(3 * MINUTE_S, 30 * MINUTE_S)


def inbound_text(
    rates: BehaviourRates, customer: Customer, rng: random.Random, *, marketing: bool
) -> tuple[str, str | None]:
    """A customer message and the keyword it carries, if any."""
    roll = rng.random()
    if roll < rates.discount_keyword_share:
        return _DISCOUNT.get(customer.language, _DISCOUNT["en"]), "discount"
    if marketing and roll < rates.discount_keyword_share + rates.stop_keyword_share:
        return _STOP.get(customer.language, _STOP["en"]), "stop"
    return rng.choice(_GENERIC_REPLIES.get(customer.language, _GENERIC_REPLIES["en"])), None


def _plan_reply(
    rates: BehaviourRates, customer: Customer, category: str, rng: random.Random
) -> PlannedReply:
    after = reply_delay_s(rates, rng)
    text, keyword = inbound_text(rates, customer, rng, marketing=category == "marketing")
    return PlannedReply(after_delivery_s=after, text=text, keyword=keyword)


def _read_delay_s(rng: random.Random) -> float:
    # Half read within minutes of delivery, the rest over the day.
    if rng.random() < 0.5:
        return min(30 * MINUTE_S, rng.expovariate(1 / (3 * MINUTE_S)))
    return min(23 * HOUR_S, 10 * MINUTE_S + rng.expovariate(1 / (3 * HOUR_S)))
