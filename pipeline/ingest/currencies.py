"""ISO 4217 minor units: how many decimals each currency's amounts have (KRW 0, USD 2, BHD 3).

Amounts are stored as integer minor units (design.md §3), so the exponent decides both the
conversion and which amounts are exact: 12.345 USD is refused, never rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from pipeline.errors import PayloadError

_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR "
    "FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW "
    "KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN "
    "NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD "
    "SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU "
    "UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL"
)

MINOR_UNIT_EXPONENT: dict[str, int] = {
    code: exponent
    for exponent, codes in ((0, _EXPONENT_0), (2, _EXPONENT_2), (3, _EXPONENT_3), (4, _EXPONENT_4))
    for code in codes.split()
}

#: Largest amount in minor units we accept: Avro's long, with room for sums downstream.
MAX_AMOUNT_MINOR = 10**15


def currency_code(value: object) -> str:
    if not isinstance(value, str) or value.strip().upper() not in MINOR_UNIT_EXPONENT:
        raise PayloadError(f"currency {value!r:.20} is not an ISO 4217 code wapipe knows")
    return value.strip().upper()


def to_minor_units(amount: object, currency: str, *, what: str = "amount") -> int:
    """``Decimal("12.50")``, ``"12.50"`` or ``12`` in USD → ``1250``. Floats are refused."""
    if isinstance(amount, bool | float):
        raise PayloadError(f"{what} must be a decimal string or integer, never a float")
    if isinstance(amount, int | Decimal):
        value = Decimal(amount)
    elif isinstance(amount, str):
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            raise PayloadError(f"{what} {amount!r:.30} is not a decimal number") from None
    else:
        raise PayloadError(f"{what} is missing or not a number")
    if not value.is_finite():
        raise PayloadError(f"{what} {amount!r:.30} is not a finite number")
    if value < 0:
        raise PayloadError(f"{what} {value} is negative: record refunds separately")
    return _exact_minor(value, MINOR_UNIT_EXPONENT[currency], what=what, currency=currency)


def _exact_minor(value: Decimal, exponent: int, *, what: str, currency: str) -> int:
    # Integer arithmetic on the decimal's digits: Decimal operations round to the context's
    # 28 digits, which would silently accept 1.000…0001 as 1.
    _sign, digits, exp = value.as_tuple()
    if not isinstance(exp, int) or len(digits) > 40:
        raise PayloadError(f"{what} {value:.40} is not a plausible amount")
    coefficient = int("".join(map(str, digits)) or "0")
    while exp < -exponent and coefficient and coefficient % 10 == 0:
        coefficient //= 10
        exp += 1
    if coefficient and exp < -exponent:
        raise PayloadError(f"{what} {value} has more decimals than {currency} allows ({exponent})")
    shift = exp + exponent
    if coefficient and (len(str(coefficient)) + shift > 16):
        raise PayloadError(f"{what} {value} {currency} is too large")
    minor = coefficient * 10**shift if shift >= 0 else 0
    if minor > MAX_AMOUNT_MINOR:
        raise PayloadError(f"{what} {value} {currency} is too large")
    return minor
