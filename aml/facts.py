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
    currency the rules asked for when it was recorded (valued at that day's prices).

    Or `count` of them, summed (an hour's bucket, or the older part of a window: see
    gateway/store/movements.py), all at or after `at`: `unvalued` then holds, per
    currency in `values`, the amount of those that were not valued in it."""

    at: datetime
    direction: MovementDirection
    asset: str
    amount: Decimal
    values: tuple[tuple[str, Decimal], ...] = ()
    count: int = 1
    unvalued: tuple[tuple[str, Decimal], ...] = ()

    def value_in(self, currency: str) -> Decimal | None:
        for code, value in self.values:
            if code == currency:
                return value
        return None

    def unvalued_in(self, currency: str) -> Decimal:
        """The amount a recorded value in `currency` leaves out (0 for a single movement)."""
        for code, amount in self.unvalued:
            if code == currency:
                return amount
        return Decimal(0)


@dataclass(frozen=True, slots=True)
class AmlFacts:
    direction: MovementDirection
    prices: tuple[PricePoint, ...]
    fx: tuple[FxPoint, ...]
    price_max_age_seconds: int
    # Facts/1: every counted movement of the longest window. Since facts/2: window sums
    # (gateway/store/movements.py), with the entries in a structuring band in `banded`.
    history: tuple[PastMovement, ...]
    sanctions_snapshot: str  # the snapshot id the address was screened against
    screening: Finding | None  # a listed or unscreenable address; None when clear
    # The KYC name the travel-rule originator must match (never logged in clear: the
    # decision row keeps findings, not facts; the facts document masks it).
    legal_name: str | None = None
    native_name: str | None = None
    # The single movements in the structuring bands of the rules in force (None: facts/1,
    # whose history holds every movement and is read for structuring too).
    banded: tuple[PastMovement, ...] | None = None

    def price_table(self) -> Prices:
        return {(p.base, p.quote): Quote(p.value, p.as_of) for p in self.prices}

    def fx_table(self) -> FxTable:
        return {(r.source, r.target): Quote(r.rate, r.as_of) for r in self.fx}

    @property
    def max_age(self) -> timedelta:
        return timedelta(seconds=self.price_max_age_seconds)
