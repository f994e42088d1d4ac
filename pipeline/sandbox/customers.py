"""A seeded, deterministic population of simulated customers with purchase histories.

Histories follow archetypes (frequent, occasional, lapsed, never) and value tiers, so the
engagement tags of design.md §5 have something to find. The same seed gives the same people,
numbers and orders; a number the population does not know is adopted deterministically too
(derived from the seed and the number), so any ``to`` behaves reproducibly.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import phonenumbers

from pipeline.sandbox.config import PopulationSpec

# Local offset, language, currency exponent (minor units) and typical order value (major units).
_COUNTRY: dict[str, tuple[float, str, int, float]] = {
    "82": (9.0, "ko", 0, 45000.0),
    "1": (-5.0, "en", 2, 60.0),
    "55": (-3.0, "pt", 2, 150.0),
    "91": (5.5, "en", 2, 2500.0),
}
_DEFAULT_COUNTRY = (0.0, "en", 2, 50.0)
_TIER_FACTOR = {"high": 3.0, "mid": 1.0, "low": 0.35}
_ARCHETYPES = (("frequent", 0.15), ("occasional", 0.35), ("lapsed", 0.25), ("never", 0.25))
_NAMES = ("Minji", "Jiho", "Seoyeon", "Alex", "Sam", "Ana", "Priya", "Lucas", "Yuna", "Chris")
SKUS = tuple(f"SKU-{n:04d}" for n in range(1, 41))


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseItem:
    sku: str
    quantity: int
    amount_minor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SimPurchase:
    order_id: str
    wa_id: str
    amount_minor: int
    currency: str
    currency_exponent: int
    items: tuple[PurchaseItem, ...]
    ts_s: float
    utc_offset_h: float

    def payload(self) -> dict[str, Any]:
        """The JSON the purchases endpoint receives (issue 4 / ingest contract)."""
        zone = timezone(timedelta(hours=self.utc_offset_h))
        return {
            "order_id": self.order_id,
            "customer": self.wa_id,
            "amount": _decimal(self.amount_minor, self.currency_exponent),
            "currency": self.currency,
            "items": [
                {
                    "sku": item.sku,
                    "quantity": item.quantity,
                    "amount": _decimal(item.amount_minor, self.currency_exponent),
                }
                for item in self.items
            ],
            "ts": datetime.fromtimestamp(self.ts_s, tz=UTC).astimezone(zone).isoformat(),
        }


@dataclass(slots=True, kw_only=True)
class Customer:
    wa_id: str
    calling_code: str
    name: str
    language: str
    utc_offset_h: float
    currency: str
    currency_exponent: int
    typical_order_major: float
    value_tier: str
    archetype: str
    reachable: bool = True
    marketing_stopped: bool = False
    history: list[SimPurchase] = field(default_factory=list)

    def local_hour(self, sim_s: float) -> float:
        return ((sim_s / 3600.0) + self.utc_offset_h) % 24.0


def derived_rng(seed: int, *parts: object) -> random.Random:
    """A random stream that depends only on the seed and ``parts`` (not on call order)."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


class Population:
    """The simulated customers, by WhatsApp id."""

    def __init__(self, spec: PopulationSpec, *, seed: int, now_s: float) -> None:
        self._spec = spec
        self._seed = seed
        self._now_s = now_s
        self._currency = dict(spec.currency_by_code)
        self._by_wa_id: dict[str, Customer] = {}
        rng = derived_rng(seed, "population")
        for index in range(spec.size):
            code = _pick(rng, spec.country_mix) if spec.country_mix else "82"
            wa_id = _number(rng, code)
            while wa_id in self._by_wa_id:
                wa_id = _number(rng, code)
            self._by_wa_id[wa_id] = self._make(wa_id, code, derived_rng(seed, "customer", index))

    def __len__(self) -> int:
        return len(self._by_wa_id)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_wa_id.values())

    def get(self, wa_id: str) -> Customer | None:
        return self._by_wa_id.get(wa_id)

    def get_or_adopt(self, wa_id: str) -> Customer:
        customer = self._by_wa_id.get(wa_id)
        if customer is None:
            code = _calling_code(wa_id)
            customer = self._make(
                wa_id, code, derived_rng(self._seed, "adopt", wa_id), with_history=False
            )
            self._by_wa_id[wa_id] = customer
        return customer

    def wa_ids(self) -> list[str]:
        return list(self._by_wa_id)

    def histories(self) -> list[SimPurchase]:
        orders = [p for c in self._by_wa_id.values() for p in c.history]
        orders.sort(key=lambda p: (p.ts_s, p.order_id))
        return orders

    def _make(
        self, wa_id: str, code: str, rng: random.Random, *, with_history: bool = True
    ) -> Customer:
        offset, language, exponent, typical = _COUNTRY.get(code, _DEFAULT_COUNTRY)
        tier = _pick(rng, (("high", 0.2), ("mid", 0.5), ("low", 0.3)))
        customer = Customer(
            wa_id=wa_id,
            calling_code=code,
            name=rng.choice(_NAMES),
            language=language,
            utc_offset_h=offset,
            currency=self._currency.get(code, "USD"),
            currency_exponent=exponent,
            typical_order_major=typical * _TIER_FACTOR[tier],
            value_tier=tier,
            archetype=_pick(rng, _ARCHETYPES),
            reachable=rng.random() >= self._spec.unreachable_share,
            marketing_stopped=rng.random() < self._spec.marketing_stopped_share,
        )
        if with_history:
            customer.history = self._history(customer, rng)
        return customer

    def _history(self, customer: Customer, rng: random.Random) -> list[SimPurchase]:
        days = self._spec.history_days
        # Orders per archetype, and how recent they are, so freq:* tags have all four answers.
        if customer.archetype == "frequent":
            count, oldest_d, newest_d = rng.randint(4, 10), min(days, 90), 0
        elif customer.archetype == "occasional":
            count, oldest_d, newest_d = rng.randint(1, 2), min(days, 89), 0
        elif customer.archetype == "lapsed":
            count, oldest_d, newest_d = rng.randint(1, 4), days, min(days, 95)
        else:
            return []
        orders = []
        for n in range(count):
            ts_s = self._now_s - rng.uniform(newest_d, oldest_d) * 86400.0
            orders.append(
                make_purchase(customer, rng, ts_s=ts_s, order_id=f"H-{customer.wa_id[-6:]}-{n:03d}")
            )
        orders.sort(key=lambda p: p.ts_s)
        return orders


def make_purchase(
    customer: Customer, rng: random.Random, *, ts_s: float, order_id: str
) -> SimPurchase:
    scale = 10**customer.currency_exponent
    lines = []
    for _ in range(rng.randint(1, 3)):
        quantity = rng.randint(1, 3)
        unit_major = rng.lognormvariate(0, 0.5) * customer.typical_order_major / 2.5
        amount_minor = max(1, round(unit_major * quantity * scale))
        if customer.currency_exponent == 0:
            amount_minor = max(100, round(amount_minor, -2))  # KRW prices end in 00
        lines.append(
            PurchaseItem(sku=rng.choice(SKUS), quantity=quantity, amount_minor=amount_minor)
        )
    return SimPurchase(
        order_id=order_id,
        wa_id=customer.wa_id,
        amount_minor=sum(line.amount_minor for line in lines),
        currency=customer.currency,
        currency_exponent=customer.currency_exponent,
        items=tuple(lines),
        ts_s=ts_s,
        utc_offset_h=customer.utc_offset_h,
    )


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random()
    for value, share in weighted:
        roll -= share
        if roll < 0:
            return value
    return weighted[-1][0]


def _candidate(rng: random.Random, code: str) -> str:
    if code == "82":
        return "8210" + f"{rng.randrange(10**8):08d}"
    if code == "1":
        return "1" + str(rng.randint(201, 989)) + f"{rng.randrange(10**7):07d}"
    if code == "55":  # Brazilian mobiles: area code, then 9 and eight digits
        return "55" + str(rng.randint(11, 99)) + "9" + f"{rng.randrange(10**8):08d}"
    if code == "91":  # Indian mobiles start with 6-9
        return "91" + str(rng.randint(6, 9)) + f"{rng.randrange(10**9):09d}"
    return code + f"{rng.randrange(10**10):010d}"


def _number(rng: random.Random, code: str) -> str:
    # Real receivers validate numbers (wapipe's purchase intake uses phonenumbers): draw until
    # the number is a valid one, deterministically from the same random stream.
    candidate = _candidate(rng, code)
    for _ in range(50):
        if phonenumbers.is_valid_number(phonenumbers.parse("+" + candidate)):
            return candidate
        candidate = _candidate(rng, code)
    return candidate


def _calling_code(wa_id: str) -> str:
    for length in (3, 2, 1):
        if wa_id[:length] in _COUNTRY:
            return wa_id[:length]
    return wa_id[:2]


def _decimal(amount_minor: int, exponent: int) -> str:
    return str(Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))
