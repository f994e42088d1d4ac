"""Pricing: free categories, the monthly allowance, and provider bills."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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

categories = st.sampled_from(["marketing", "utility", "authentication", "service"])
countries = st.none() | st.sampled_from(["US", "KR", "BR", "DE", "FR", "ZZ"])


@settings(deadline=None)
@given(category=categories, country=countries, open_window=st.booleans(), ad=st.booleans())
def test_free_rules(category: str, country: str | None, open_window: bool, ad: bool) -> None:
    price = DEFAULT_PRICE_TABLE.list_price_micros(
        category=category, country=country, service_window_open=open_window, free_entry_point=ad
    )
    free = category == "service" or ad or (category == "utility" and open_window)
    assert (price == 0) == free
    assert price >= 0


def test_unlisted_countries_use_the_default_prices() -> None:
    table = DEFAULT_PRICE_TABLE
    assert table.prices_for("FR") == table.default
    assert table.prices_for(None) == table.default
    assert table.prices_for("KR") != table.default


@settings(deadline=None)
@given(prices=st.lists(st.integers(0, 200_000), max_size=60), free=st.integers(0, 30))
def test_month_bill_equals_message_by_message_costs(prices: list[int], free: int) -> None:
    table = PriceTable(
        rates=(),
        default=CategoryPrices(marketing_micros=1, utility_micros=1, authentication_micros=1),
        free_messages_per_month=free,
    )
    billable = [p for p in prices if p > 0]
    assert table.month_cost_micros(prices) == sum(billable) - sum(billable[:free])


def test_first_thousand_billable_messages_a_month_are_free() -> None:
    cost = [
        DEFAULT_PRICE_TABLE.message_cost_micros(
            customer="821012345678",
            category="marketing",
            service_window_open=False,
            billable_earlier_this_month=n,
        )
        for n in (0, 999, 1_000)
    ]
    assert cost == [0, 0, DEFAULT_PRICE_TABLE.prices_for("KR").marketing_micros]


@settings(deadline=None)
@given(provider=st.sampled_from(list(PROVIDERS.values())), messages=st.integers(0, 10**7))
def test_provider_bill_is_fee_plus_messages_beyond_the_allowance(
    provider: ProviderPreset, messages: int
) -> None:
    bill = monthly_cost(provider, messages)
    assert bill >= provider.monthly_fee_micros
    assert monthly_cost(provider, messages + 1) >= bill
    if messages <= provider.free_messages:
        assert bill == provider.monthly_fee_micros


def test_presets_match_the_design_brief() -> None:
    usd = MICROS_PER_USD
    assert monthly_cost(TWILIO, 10_000) == 50 * usd  # $0.005 × 10,000
    assert monthly_cost(MESSAGEBIRD, 10_000) == 50 * usd + 9_000 * 4_500
    assert monthly_cost(ZENVIA, 500) == 30 * usd
    assert monthly_cost(ZENVIA, 1_500) == 30 * usd + 6 * usd
    assert provider_named("Twilio") is TWILIO
    with pytest.raises(ValueError, match="use one of"):
        provider_named("pigeon")
    with pytest.raises(ValueError, match="messages"):
        monthly_cost(TWILIO, -1)


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="category"):
        DEFAULT_PRICE_TABLE.list_price_micros(
            category="promo", country="US", service_window_open=False
        )
