"""Deterministic seed liquidity: a ladder of resting quotes around each symbol's seed price.

The market maker is a planner only: it says which quotes are missing and the engine posts
them as ordinary resting orders of the `__market_maker__` account. After every taker order
the engine asks for top-ups on the side that was consumed, so a stream of small market
orders never drains the book. No randomness: the ladder depends only on the catalogue and
the seed price, so two runs produce identical books.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Final

from exchange.book import OrderBook, floor_to_step
from exchange.catalog import SymbolSpec
from exchange.orders import Side

MARKET_MAKER_ID: Final = "__market_maker__"
# Enough of every asset that the market maker can always re-quote during a long benchmark,
# and still small enough that amounts stay well inside Decimal's 28 significant digits.
MARKET_MAKER_BALANCE: Final = Decimal(10) ** 12
DEFAULT_LEVELS: Final = 10
DEFAULT_SPACING_BPS: Final = Decimal(5)
_BPS: Final = Decimal(10_000)
# A level is topped up once it has less than this fraction of its nominal size.
_REFILL_FRACTION: Final = Decimal("0.5")


class MarketMaker:
    def __init__(self, levels: int = DEFAULT_LEVELS, spacing_bps: Decimal = DEFAULT_SPACING_BPS) -> None:
        self.levels = levels
        self.spacing_bps = spacing_bps
        self._ladders: dict[tuple[str, Side], tuple[Decimal, ...]] = {}

    def ladder(self, spec: SymbolSpec, reference: Decimal, side: Side) -> tuple[Decimal, ...]:
        """Quote prices for one side, best first (cached: the reference never moves)."""
        key = (spec.symbol, side)
        cached = self._ladders.get(key)
        if cached is not None:
            return cached
        spacing = max(spec.tick_size, floor_to_step(reference * self.spacing_bps / _BPS, spec.tick_size))
        centre = floor_to_step(reference, spec.tick_size)
        sign = -1 if side is Side.BUY else 1
        prices = tuple(
            price
            for k in range(1, self.levels + 1)
            if spec.min_price <= (price := centre + sign * k * spacing) <= spec.max_price
        )
        self._ladders[key] = prices
        return prices

    def top_ups(
        self, book: OrderBook, spec: SymbolSpec, reference: Decimal, side: Side
    ) -> Iterator[tuple[Decimal, Decimal]]:
        """(price, qty) of quotes to add on `side` so that every ladder level is full again."""
        book_side = book.side(side)
        threshold = spec.maker_level_qty * _REFILL_FRACTION
        for price in self.ladder(spec, reference, side):
            have = book_side.qty_at(price)
            if have >= threshold:
                continue
            # Never quote through a customer's resting order: the maker must only rest.
            if book.would_cross(side, price):
                continue
            yield price, spec.maker_level_qty - have
