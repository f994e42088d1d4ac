"""What a message costs: Meta's per-message price table and the providers' fees.

Since 1 July 2025 Meta charges per delivered template message by category and the recipient's
country (whatsapp-cloud-api.md, Pricing): service (non-template) messages are free, utility
templates inside an open service window are free, and so is everything in the 72 h free entry
point after a click-to-WhatsApp ad. Our model adds a monthly free allowance (design.md §6,
default 1,000) and provider presets so analysts can compare providers on their own volume.

Money is integer micro-USD (``*_micros``, millionths of a dollar): no floats.
The default prices are illustrative, close to Meta's mid-2025 list in USD; put your own rate
card in a :class:`PriceTable` for real numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.policy.customer_numbers import region_for

MICROS_PER_USD = 1_000_000

SERVICE = "service"
UTILITY = "utility"
MARKETING = "marketing"
AUTHENTICATION = "authentication"


@dataclass(frozen=True, slots=True, kw_only=True)
class CategoryPrices:
    """Price of one delivered template message per category, micro-USD."""

    marketing_micros: int
    utility_micros: int
    authentication_micros: int

    def for_category(self, category: str) -> int:
        if category == MARKETING:
            return self.marketing_micros
        if category == UTILITY:
            return self.utility_micros
        if category == AUTHENTICATION:
            return self.authentication_micros
        if category == SERVICE:
            return 0
        raise ValueError(
            f"unknown message category {category!r}; use marketing, utility, authentication "
            "or service"
        )


def _prices(marketing: int, utility: int, authentication: int) -> CategoryPrices:
    return CategoryPrices(
        marketing_micros=marketing, utility_micros=utility, authentication_micros=authentication
    )


_DEFAULT_RATES: tuple[tuple[str, CategoryPrices], ...] = (
    ("US", _prices(25_000, 4_000, 13_500)),
    ("CA", _prices(25_000, 4_000, 13_500)),
    ("BR", _prices(62_500, 6_800, 31_500)),
    ("MX", _prices(30_500, 8_500, 23_900)),
    ("IN", _prices(10_700, 1_400, 1_400)),
    ("ID", _prices(41_100, 2_500, 3_000)),
    ("GB", _prices(52_900, 22_000, 35_800)),
    ("DE", _prices(136_500, 55_000, 76_800)),
    ("KR", _prices(73_200, 11_300, 33_600)),
    ("JP", _prices(73_200, 11_300, 33_600)),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceTable:
    """Category × country prices; ``default`` for every country not listed."""

    rates: tuple[tuple[str, CategoryPrices], ...] = _DEFAULT_RATES
    default: CategoryPrices = field(default_factory=lambda: _prices(60_400, 7_700, 42_400))
    free_messages_per_month: int = 1_000

    def prices_for(self, country: str | None) -> CategoryPrices:
        for code, prices in self.rates:
            if code == country:
                return prices
        return self.default

    def list_price_micros(
        self,
        *,
        category: str,
        country: str | None,
        service_window_open: bool,
        free_entry_point: bool = False,
    ) -> int:
        """Meta's price of one delivered message before the monthly free allowance."""
        if category == SERVICE or free_entry_point:
            return 0
        if category == UTILITY and service_window_open:
            return 0
        return self.prices_for(country).for_category(category)

    def message_cost_micros(
        self,
        *,
        customer: str,
        category: str,
        service_window_open: bool,
        billable_earlier_this_month: int,
        free_entry_point: bool = False,
    ) -> int:
        """Cost of one delivered message, given how many billable ones came before this month."""
        price = self.list_price_micros(
            category=category,
            country=region_for(customer),
            service_window_open=service_window_open,
            free_entry_point=free_entry_point,
        )
        if price and billable_earlier_this_month < self.free_messages_per_month:
            return 0
        return price

    def month_cost_micros(self, list_prices_micros: Iterable[int]) -> int:
        """A month's bill from its delivered messages' list prices, in delivery order."""
        billable = [p for p in list_prices_micros if p > 0]
        return sum(billable[self.free_messages_per_month :])


DEFAULT_PRICE_TABLE = PriceTable()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderPreset:
    """A provider's own fees (Meta's per-message charges come on top, the same for all)."""

    name: str
    monthly_fee_micros: int
    per_message_micros: int
    free_messages: int


TWILIO = ProviderPreset(
    name="twilio", monthly_fee_micros=0, per_message_micros=5_000, free_messages=0
)
MESSAGEBIRD = ProviderPreset(
    name="messagebird", monthly_fee_micros=50_000_000, per_message_micros=4_500, free_messages=1_000
)
ZENVIA = ProviderPreset(
    name="zenvia", monthly_fee_micros=30_000_000, per_message_micros=6_000, free_messages=500
)
PROVIDERS: dict[str, ProviderPreset] = {p.name: p for p in (TWILIO, MESSAGEBIRD, ZENVIA)}


def monthly_cost(provider: ProviderPreset, messages: int) -> int:
    """The provider's bill in micro-USD for ``messages`` messages in one month."""
    if messages < 0:
        raise ValueError(f"messages must be ≥ 0, got {messages}")
    return provider.monthly_fee_micros + max(0, messages - provider.free_messages) * (
        provider.per_message_micros
    )


def provider_named(name: str) -> ProviderPreset:
    try:
        return PROVIDERS[name.lower()]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ValueError(f"unknown provider {name!r}; use one of: {known}") from None


__all__ = [
    "DEFAULT_PRICE_TABLE",
    "MESSAGEBIRD",
    "MICROS_PER_USD",
    "PROVIDERS",
    "TWILIO",
    "ZENVIA",
    "CategoryPrices",
    "PriceTable",
    "ProviderPreset",
    "monthly_cost",
    "provider_named",
]
