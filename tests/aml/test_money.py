"""Conversions: fresh, stale, missing price or rate, and the USDT→USD→KRW chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType

import pytest

from aml.money import Conversion, FxTable, Money, Prices, PriceUnavailable, Quote, convert
from tests.aml.support import FX, FX_MAX_AGE, NOW, PRICE_MAX_AGE, PRICES

D = Decimal


def _convert(amount: str, asset: str, target: str, prices: Prices = PRICES, fx: FxTable = FX) -> Conversion:
    return convert(D(amount), asset, target, prices, fx, NOW, PRICE_MAX_AGE, fx_max_age=FX_MAX_AGE)


@dataclass(frozen=True)
class Ok:
    id: str
    amount: str
    asset: str
    target: str
    value: str
    quote: str
    price: str
    fx_rate: str
    legs: tuple[tuple[str, str], ...]
    prices: Prices = field(default_factory=lambda: PRICES)
    fx: FxTable = field(default_factory=lambda: FX)


OK = [
    Ok("btc-to-usd-via-usdt", "0.5", "BTC", "USD", "30000", "USDT", "60000", "1", (("USDT", "USD"),)),
    Ok("btc-to-krw-usdt-usd-krw-chain", "0.5", "BTC", "KRW", "40500000", "USDT", "60000", "1350", (("USDT", "USD"), ("USD", "KRW"))),
    Ok("eth-to-hkd", "2", "ETH", "HKD", "39000.0", "USDT", "2500", "7.8", (("USDT", "USD"), ("USD", "HKD"))),
    Ok("usdt-needs-no-ticker", "1000", "USDT", "KRW", "1350000", "USDT", "1", "1350", (("USDT", "USD"), ("USD", "KRW"))),
    Ok("same-currency-identity", "10000000", "KRW", "KRW", "10000000", "KRW", "1", "1", ()),
    Ok("fiat-usd-to-jpy", "100", "USD", "JPY", "15000", "USD", "1", "150", (("USD", "JPY"),)),
    Ok(
        "direct-krw-ticker-preferred",
        "0.5", "BTC", "KRW", "41000000", "KRW", "82000000", "1", (),
        prices=MappingProxyType({**PRICES, ("BTC", "KRW"): Quote(D("82000000"), NOW)}),
    ),
    Ok("inverted-rate-eur-to-usd", "80", "EUR", "USD", "100", "EUR", "1", "1.25", (("EUR", "USD"),)),
]  # fmt: skip


@pytest.mark.parametrize("case", OK, ids=lambda c: c.id)
def test_conversion(case: Ok) -> None:
    conversion = _convert(case.amount, case.asset, case.target, case.prices, case.fx)
    assert conversion.value == D(case.value)
    assert conversion.quote_asset == case.quote
    assert conversion.price == D(case.price)
    assert conversion.fx_rate == D(case.fx_rate)
    assert tuple((leg.source, leg.target) for leg in conversion.fx_legs) == case.legs
    assert conversion.money == Money(D(case.value), case.target)


def test_conversion_records_what_it_used() -> None:
    recorded = _convert("0.5", "BTC", "KRW").as_json()
    assert D(recorded["price"]) == 60000 and D(recorded["value"]) == 40500000
    assert recorded["price_as_of"] == (NOW - timedelta(seconds=10)).isoformat()
    assert [leg["rate"] for leg in recorded["fx"]] == ["1", "1350"]
    assert all(isinstance(v, str | list | bool | type(None)) for v in recorded.values())


@dataclass(frozen=True)
class Refused:
    id: str
    asset: str
    target: str
    reason: str  # a fragment of PriceUnavailable.reason
    prices: Prices = field(default_factory=lambda: PRICES)
    fx: FxTable = field(default_factory=lambda: FX)


STALE_BTC = MappingProxyType({("BTC", "USDT"): Quote(D("60000"), NOW - PRICE_MAX_AGE - timedelta(seconds=1))})
STALE_FX = MappingProxyType({**FX, ("USD", "KRW"): Quote(D("1350"), NOW - FX_MAX_AGE - timedelta(seconds=1))})
FUTURE_BTC = MappingProxyType({("BTC", "USDT"): Quote(D("60000"), NOW + timedelta(minutes=1))})
# A fresh ticker elsewhere does not rescue a stale primary one: no shopping for prices.
STALE_USDT_FRESH_USDC = MappingProxyType({**STALE_BTC, ("BTC", "USDC"): Quote(D("60000"), NOW)})
FX_WITH_USDC = MappingProxyType({**FX, ("USDC", "USD"): Quote(D("1"), NOW)})

REFUSED = [
    Refused("stale-price", "BTC", "KRW", "stale", prices=STALE_BTC),
    Refused("stale-fx-rate", "BTC", "KRW", "FX rate USD/KRW is stale", fx=STALE_FX),
    Refused("price-from-the-future", "BTC", "USD", "future", prices=FUTURE_BTC),
    Refused("missing-ticker", "SOL", "USD", "no ticker"),
    Refused("missing-fx-rate", "BTC", "GBP", "no ticker and no FX rate"),
    Refused("stale-primary-not-rescued", "BTC", "USD", "stale", prices=STALE_USDT_FRESH_USDC, fx=FX_WITH_USDC),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.id)
def test_missing_or_stale_fails_closed(case: Refused) -> None:
    with pytest.raises(PriceUnavailable) as raised:
        _convert("1", case.asset, case.target, case.prices, case.fx)
    assert raised.value.asset == case.asset
    assert case.reason in raised.value.reason


def test_price_exactly_max_age_old_is_fresh() -> None:
    prices = {("BTC", "USDT"): Quote(D("60000"), NOW - PRICE_MAX_AGE)}
    assert _convert("1", "BTC", "USD", prices).value == D("60000")


def test_no_rounding_until_presentation() -> None:
    assert _convert("0.00000001", "BTC", "KRW").value == D("0.81")
    # 0.123456789 x 60000 x 1 x 1350, every digit kept.
    assert _convert("0.123456789", "BTC", "KRW").value == D("9999999.909")


def test_an_inverted_rate_divides_exactly() -> None:
    """USD/KRW configured as 1300.28: KRW 1,300,280 is USD 1,000 exactly (a rounded
    reciprocal made it 999.9999…, just under an "at or above" threshold)."""
    fx: FxTable = {("USD", "KRW"): Quote(D("1300.28"), NOW)}
    value = convert(D("1300280"), "KRW", "USD", {}, fx, NOW, PRICE_MAX_AGE).value
    assert value == D("1000")


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(D("NaN"), "USD"), (D("Infinity"), "USD"), (D("1"), "usd"), (D("1"), "")],
    ids=["nan", "infinity", "lower-case-currency", "empty-currency"],
)
def test_money_refuses_bad_values(amount: Decimal, currency: str) -> None:
    with pytest.raises(ValueError):
        Money(amount, currency)


def test_money_adds_only_one_currency() -> None:
    assert Money(D("1.5"), "KRW") + Money(D("2"), "KRW") == Money(D("3.5"), "KRW")
    with pytest.raises(ValueError):
        Money(D("1"), "KRW") + Money(D("1"), "USD")
