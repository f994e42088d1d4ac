"""The behaviour model's rates over 10,000 simulated customers, within ±2 points (issue 4).

Pure model, no HTTP: each customer gets one message and we count what the plan says.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.sandbox import BehaviourRates, PopulationSpec
from pipeline.sandbox.behaviour import (
    Reaction,
    inbound_text,
    plan_reaction,
    read_probability,
    reply_delay_s,
)
from pipeline.sandbox.customers import Customer, Population, derived_rng
from tests.sandbox.conftest import T0

N = 10_000
TOLERANCE = 0.02
RATES = BehaviourRates()
DAY_START = T0 - (T0 % 86400)  # midnight UTC


@pytest.fixture(scope="module")
def customers() -> list[Customer]:
    population = Population(PopulationSpec(size=N), seed=1, now_s=T0)
    assert len(population) == N
    return list(population)


def at_local_hour(customer: Customer, hour: float) -> float:
    return DAY_START + ((hour - customer.utc_offset_h) % 24) * 3600


def plans(
    customers: list[Customer],
    *,
    category: str,
    hour: float = 15.0,
    media: bool = False,
    rates: BehaviourRates = RATES,
) -> list[Reaction]:
    # Delivery takes a few seconds; 15:00 and 10:30 stay in/out of the peaks either way.
    return [
        plan_reaction(
            rates,
            c,
            category=category,
            has_media=media,
            accepted_at_s=at_local_hour(c, hour),
            rng=derived_rng(9, category, i),
        )
        for i, c in enumerate(customers)
    ]


def share(
    plans_: list[Reaction],
    hit: Callable[[Reaction], bool],
    among: Callable[[Reaction], bool] = lambda r: True,
) -> float:
    pool = [r for r in plans_ if among(r)]
    return sum(1 for r in pool if hit(r)) / len(pool)


def delivered(r: Reaction) -> bool:
    return r.delivered_after_s is not None


def near(measured: float, configured: float, what: str) -> None:
    assert abs(measured - configured) <= TOLERANCE, (
        f"{what}: measured {measured:.3f}, configured {configured:.3f} (±{TOLERANCE}); the"
        " behaviour model in pipeline/sandbox/behaviour.py drifted from BehaviourRates"
    )


def test_delivery_rate_text_and_media(customers: list[Customer]) -> None:
    near(share(plans(customers, category="utility"), delivered), RATES.delivery_rate, "delivery")
    media = plans(customers, category="marketing", media=True)
    near(share(media, delivered), RATES.media_delivery_rate, "media delivery")
    assert RATES.media_delivery_rate < RATES.delivery_rate, "text is delivered more than media"


def test_read_rate_off_peak_and_in_peak(customers: list[Customer]) -> None:
    off = plans(customers, category="utility", hour=15.0)
    assert not any(r.in_peak for r in off if delivered(r))
    near(share(off, lambda r: r.read_after_s is not None, delivered), RATES.read_rate, "read")
    peak = plans(customers, category="utility", hour=10.5)
    assert all(r.in_peak for r in peak if delivered(r))
    expected = read_probability(RATES, in_peak=True)
    assert 1.2 <= expected / RATES.read_rate <= 1.25, "peaks read 20–25% more"
    near(share(peak, lambda r: r.read_after_s is not None, delivered), expected, "peak read")


@pytest.mark.parametrize(
    ("category", "configured"),
    [
        ("utility", RATES.reply_rate_utility),
        ("marketing", RATES.reply_rate_marketing),
        ("service", RATES.reply_rate_service),
    ],
)
@pytest.mark.parametrize("hour", [15.0, 10.5])
def test_reply_rate_per_delivered(
    customers: list[Customer], category: str, configured: float, hour: float
) -> None:
    got = share(
        plans(customers, category=category, hour=hour), lambda r: r.reply is not None, delivered
    )
    near(got, configured, f"{category} reply rate at {hour}h")


def test_replies_come_after_reads(customers: list[Customer]) -> None:
    for r in plans(customers, category="utility"):
        if r.reply_after_s is not None:
            assert r.read_after_s is not None and r.read_after_s <= r.reply_after_s


def test_reply_timing_shares() -> None:
    rng = derived_rng(1, "timing")
    delays = [reply_delay_s(RATES, rng) for _ in range(N)]
    near(sum(d <= 180 for d in delays) / N, RATES.reply_within_3min_share, "replies ≤ 3 min")
    near(sum(d > 1800 for d in delays) / N, RATES.reply_after_30min_share, "replies > 30 min")


def test_conversion_rate_of_delivered_marketing(customers: list[Customer]) -> None:
    marketing = plans(customers, category="marketing")
    got = share(marketing, lambda r: r.purchase_after_s is not None, delivered)
    near(got, RATES.conversion_rate, "conversion")
    for r in marketing:
        if r.purchase_after_s is not None:
            assert r.read_after_s is not None and r.read_after_s < r.purchase_after_s
            assert r.purchase_after_s - (r.delivered_after_s or 0) <= 7 * 86400, "in 7 days"
    assert not any(r.purchase_after_s for r in plans(customers, category="utility"))


def test_marketing_stop_rate(customers: list[Customer]) -> None:
    rates = BehaviourRates(marketing_stop_rate=0.05)
    got = share(
        plans(customers, category="marketing", rates=rates),
        lambda r: r.marketing_stop_after_s is not None,
        delivered,
    )
    near(got, 0.05, "marketing stop")


def test_keyword_shares_in_customer_messages(customers: list[Customer]) -> None:
    rng = derived_rng(1, "keywords")
    keywords = [inbound_text(RATES, c, rng, marketing=True)[1] for c in customers]
    near(keywords.count("discount") / N, RATES.discount_keyword_share, "discount keyword")
    near(keywords.count("stop") / N, RATES.stop_keyword_share, "stop keyword")
    korean = next(c for c in customers if c.language == "ko")
    texts = {inbound_text(RATES, korean, rng, marketing=True)[0] for _ in range(500)}
    assert {"할인 있나요?", "수신거부"} <= texts, "Korean customers use Korean keywords"


@given(
    delivery=st.floats(0, 1),
    read=st.floats(0.3, 1),
    reply=st.floats(0, 0.3),
    conversion=st.floats(0, 0.3),
    seed=st.integers(0, 2**32),
)
def test_plans_are_ordered_in_time(
    delivery: float, read: float, reply: float, conversion: float, seed: int
) -> None:
    rates = BehaviourRates(
        delivery_rate=delivery,
        read_rate=read,
        reply_rate_marketing=reply,
        conversion_rate=conversion,
    )
    customer = Population(PopulationSpec(size=1), seed=seed, now_s=T0).get_or_adopt("821012345678")
    r = plan_reaction(
        rates,
        customer,
        category="marketing",
        has_media=False,
        accepted_at_s=T0,
        rng=derived_rng(seed),
    )
    assert r.sent_after_s > 0
    if r.delivered_after_s is None:
        assert r.read_after_s is None and r.reply is None and r.purchase_after_s is None
        return
    assert r.sent_after_s < r.delivered_after_s
    if r.read_after_s is not None:
        assert r.delivered_after_s < r.read_after_s
    if r.reply_after_s is not None:
        assert r.read_after_s is not None and r.read_after_s <= r.reply_after_s
