"""What the AML stage decides on, gathered by the gateway before the pipeline runs.

Everything here is plain data, so a decision can be replayed from it: the prices and FX
rates the gateway held (not a live feed), the customer's recent movements as read under
the customer's lock, and the sanctions screening already done against a named snapshot
(the list itself is too big to keep with every decision; its id is kept instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from aml.money import FxTable, Prices, Quote
from aml.windows import MovementDirection
from policy.decision import Finding


@dataclass(frozen=True, slots=True)
class PricePoint:
    """A last price from the exchange's own ticker: 1 `base` costs `value` `quote`."""

    base: str
    quote: str
    value: Decimal
    as_of: datetime


@dataclass(frozen=True, slots=True)
class FxPoint:
    """A configured exchange rate: 1 `source` is `rate` `target`."""

    source: str
    target: str
    rate: Decimal
    as_of: datetime


@dataclass(frozen=True, slots=True)
class PastMovement:
    """A deposit or withdrawal already counted for the customer, with its value in each
    currency the rules asked for when it was recorded (valued at that day's prices)."""

    at: datetime
    direction: MovementDirection
    asset: str
    amount: Decimal
    values: tuple[tuple[str, Decimal], ...] = ()

    def value_in(self, currency: str) -> Decimal | None:
        for code, value in self.values:
            if code == currency:
                return value
        return None


@dataclass(frozen=True, slots=True)
class AmlFacts:
    direction: MovementDirection
    prices: tuple[PricePoint, ...]
    fx: tuple[FxPoint, ...]
    price_max_age_seconds: int
    history: tuple[PastMovement, ...]
    sanctions_snapshot: str  # the snapshot id the address was screened against
    screening: Finding | None  # a listed or unscreenable address; None when clear
    # The KYC name the travel-rule originator must match (never logged in clear: the
    # decision row keeps findings, not facts; the facts document masks it).
    legal_name: str | None = None
    native_name: str | None = None

    def price_table(self) -> Prices:
        return {(p.base, p.quote): Quote(p.value, p.as_of) for p in self.prices}

    def fx_table(self) -> FxTable:
        return {(r.source, r.target): Quote(r.rate, r.as_of) for r in self.fx}

    @property
    def max_age(self) -> timedelta:
        return timedelta(seconds=self.price_max_age_seconds)
