"""Money and the conversion of crypto amounts into a threshold's currency.

Thresholds are in a country's currency (KRW, USD, EUR, ...); movements are in crypto. An
amount is valued with the exchange's own last price (a ticker such as BTCUSDT) and then a
configured FX table (USDT→USD 1, USD→KRW, ...). Every price and rate used is kept with its
timestamp in the `Conversion`, so the decision can say exactly how it valued the amount.

Fail closed: a missing price or rate, or one older than `max_age`, raises
`PriceUnavailable`; nothing that moves money is decided on a guess (DESIGN §2).

Rounding: none until presentation. Products of Decimals are exact; the only inexact step
is inverting a rate configured in the other direction (EUR→USD from USD→EUR), done with
Decimal's context precision (28 significant digits), far below any threshold's unit.
Values are rendered as plain strings (`str(Decimal)`) in findings, never floats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

_CODE = re.compile(r"^[A-Z0-9]{2,12}$")

# Quotes tried, in order, when the exchange has no ticker straight into the target
# currency. Stablecoins first: they are the deepest books on a USDT-quoted exchange.
QUOTE_PREFERENCE: tuple[str, ...] = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "EUR")

# An exchange clock may run slightly ahead of ours; a price stamped further in the
# future than this is as untrustworthy as a stale one.
FUTURE_TOLERANCE = timedelta(seconds=5)


class PriceUnavailable(Exception):
    """No fresh price or rate for this asset: the caller must fail closed (503)."""

    def __init__(self, asset: str, reason: str) -> None:
        super().__init__(f"{asset}: {reason}")
        self.asset = asset
        self.reason = reason


def _check_code(code: str, what: str) -> None:
    if not _CODE.match(code):
        raise ValueError(f"{what} must be an upper-case asset or currency code, got {code!r}")


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ValueError("money is a finite Decimal")
        _check_code(self.currency, "currency")

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


@dataclass(frozen=True, slots=True)
class Quote:
    """A price (base→quote, from a ticker) or an FX rate (from→to), with its time."""

    value: Decimal
    as_of: datetime

    def __post_init__(self) -> None:
        if not self.value.is_finite() or self.value <= 0:
            raise ValueError("a price or rate is a positive, finite Decimal")


# (base, quote) → last price, e.g. ("BTC", "USDT"); the gateway splits ticker symbols
# with the exchange's own market list.
Prices = Mapping[tuple[str, str], Quote]
# (from, to) → rate, e.g. ("USDT", "USD") = 1, ("USD", "KRW") = 1350.
FxTable = Mapping[tuple[str, str], Quote]


@dataclass(frozen=True, slots=True)
class FxLeg:
    source: str
    target: str
    rate: Decimal  # the rate applied (already inverted where `inverted`)
    as_of: datetime
    inverted: bool = False  # configured as target→source; 1/rate used
    configured: Decimal | None = None  # where `inverted`: the rate as configured, divided by


@dataclass(frozen=True, slots=True)
class Conversion:
    """How `amount` of `asset` became `value` in `currency`: price times every FX leg."""

    asset: str
    amount: Decimal
    currency: str
    value: Decimal
    quote_asset: str  # the ticker's quote; equals `asset` when no ticker was needed
    price: Decimal  # asset→quote_asset (1 when asset is itself fiat or a stablecoin)
    price_as_of: datetime | None  # None when no ticker was used
    fx_rate: Decimal  # quote_asset→currency, the product of the legs (1 with none)
    fx_legs: tuple[FxLeg, ...] = ()

    @property
    def money(self) -> Money:
        return Money(self.value, self.currency)

    def as_json(self) -> dict[str, Any]:
        """The conversion as recorded in a decision: amounts and rates as strings."""
        return {
            "asset": self.asset,
            "amount": str(self.amount),
            "currency": self.currency,
            "value": str(self.value),
            "quote_asset": self.quote_asset,
            "price": str(self.price),
            "price_as_of": self.price_as_of.isoformat() if self.price_as_of else None,
            "fx_rate": str(self.fx_rate),
            "fx": [
                {
                    "from": leg.source,
                    "to": leg.target,
                    "rate": str(leg.rate),
                    "as_of": leg.as_of.isoformat(),
                    "inverted": leg.inverted,
                }
                for leg in self.fx_legs
            ],
        }


def _fresh(quote: Quote, what: str, asset: str, now: datetime, max_age: timedelta) -> Quote:
    age = now - quote.as_of
    if age > max_age:
        raise PriceUnavailable(asset, f"{what} is stale: as of {quote.as_of.isoformat()}, max age {max_age}")
    if -age > FUTURE_TOLERANCE:
        raise PriceUnavailable(asset, f"{what} is dated in the future: {quote.as_of.isoformat()}")
    return quote


def _leg(fx: FxTable, source: str, target: str) -> FxLeg | None:
    direct = fx.get((source, target))
    if direct is not None:
        return FxLeg(source, target, direct.value, direct.as_of)
    reverse = fx.get((target, source))
    if reverse is not None:
        return FxLeg(
            source, target, Decimal(1) / reverse.value, reverse.as_of, inverted=True, configured=reverse.value
        )
    return None


def _exact_value(value: Decimal, legs: tuple[FxLeg, ...]) -> Decimal:
    """`value` through the legs, dividing by inverted rates last rather than multiplying by
    their rounded reciprocals: KRW 1,300,280 at USD/KRW 1300.28 is USD 1,000 exactly, at
    an "at or above" threshold, not 999.9999… just under it."""
    divisor = Decimal(1)
    for leg in legs:
        if leg.inverted and leg.configured is not None:
            divisor *= leg.configured
        else:
            value *= leg.rate
    return value / divisor if divisor != 1 else value


def fx_path(fx: FxTable, source: str, target: str) -> tuple[FxLeg, ...] | None:
    """The FX legs from `source` to `target`: none, one, or two through a pivot
    (USDT→USD→KRW). Two legs are enough for a table keyed on USD; longer chains would
    multiply the places a stale rate can hide. Deterministic: pivots tried in order."""
    if source == target:
        return ()
    single = _leg(fx, source, target)
    if single is not None:
        return (single,)
    pivots = sorted({c for pair in fx for c in pair} - {source, target})
    for pivot in pivots:
        first, second = _leg(fx, source, pivot), _leg(fx, pivot, target)
        if first is not None and second is not None:
            return (first, second)
    return None


def _source_quote(asset: str, target: str, prices: Prices, fx: FxTable) -> tuple[str, Quote | None]:
    """Which quote asset to value through, and its ticker (None: the asset is its own
    quote, e.g. USDT or a fiat currency in the FX table)."""
    if (asset, target) in prices:
        return target, prices[(asset, target)]
    for quote_asset in QUOTE_PREFERENCE:
        if (asset, quote_asset) in prices and fx_path(fx, quote_asset, target) is not None:
            return quote_asset, prices[(asset, quote_asset)]
    if fx_path(fx, asset, target) is not None:
        return asset, None
    raise PriceUnavailable(asset, f"no ticker and no FX rate lead from {asset} to {target}")


def convert(
    amount: Decimal,
    asset: str,
    target_currency: str,
    prices: Prices,
    fx: FxTable,
    now: datetime,
    max_age: timedelta,
    *,
    fx_max_age: timedelta | None = None,
) -> Conversion:
    """Value `amount` of `asset` in `target_currency`, or raise `PriceUnavailable`.

    The first route found is used (direct ticker, then QUOTE_PREFERENCE, then the FX table
    alone). If its price or a rate on it is stale the call fails: it does not shop for
    another ticker that happens to be fresh, because a stale primary feed is an outage to
    see, and the valuation must not depend on which feed lagged least.
    """
    _check_code(asset, "asset")
    _check_code(target_currency, "target currency")
    if not amount.is_finite():
        raise ValueError("amount must be a finite Decimal")
    quote_asset, ticker = _source_quote(asset, target_currency, prices, fx)
    legs = fx_path(fx, quote_asset, target_currency) or ()
    if ticker is not None:
        _fresh(ticker, f"price {asset}/{quote_asset}", asset, now, max_age)
    for leg in legs:
        stamped = Quote(leg.rate, leg.as_of)
        _fresh(stamped, f"FX rate {leg.source}/{leg.target}", asset, now, fx_max_age or max_age)
    price = ticker.value if ticker is not None else Decimal(1)
    rate = Decimal(1)
    for leg in legs:
        rate *= leg.rate
    return Conversion(
        asset=asset,
        amount=amount,
        currency=target_currency,
        value=_exact_value(amount * price, legs),
        quote_asset=quote_asset,
        price=price,
        price_as_of=ticker.as_of if ticker is not None else None,
        fx_rate=rate,
        fx_legs=legs,
    )


@dataclass
class Valuer:
    """One movement's amount, valued on demand in each currency a rule asks for.

    Conversions are computed once per currency and kept in `used`, so the decision can
    record every price and rate that any rule relied on, in the order they were needed.
    """

    amount: Decimal
    asset: str
    prices: Prices
    fx: FxTable
    now: datetime
    max_age: timedelta
    fx_max_age: timedelta | None = None
    _cache: dict[str, Conversion] = field(default_factory=dict, repr=False)

    def in_currency(self, currency: str) -> Conversion:
        if currency not in self._cache:
            self._cache[currency] = convert(
                self.amount,
                self.asset,
                currency,
                self.prices,
                self.fx,
                self.now,
                self.max_age,
                fx_max_age=self.fx_max_age,
            )
        return self._cache[currency]

    @property
    def used(self) -> tuple[Conversion, ...]:
        return tuple(self._cache.values())
