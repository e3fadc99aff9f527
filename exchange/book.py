"""A price-time priority limit order book for one symbol. Pure: no I/O, no balances.

Each side keeps a sorted list of its price levels (bisect on insert/remove; a level is
added or removed far less often than orders are matched) and a dict from price to a FIFO
queue. Cancels are lazy: the order is flagged and skipped when it reaches the head of the
queue, so cancelling never scans a queue.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Final

from exchange.orders import ZERO, Order, Side

# Compact a level's queue once cancelled entries outnumber live ones by this much.
_COMPACT_FACTOR: Final = 2
_COMPACT_SLACK: Final = 32


@dataclass(frozen=True, slots=True)
class Match:
    maker: Order
    price: Decimal
    qty: Decimal


class _Level:
    __slots__ = ("live", "price", "queue", "total")

    def __init__(self, price: Decimal) -> None:
        self.price = price
        self.queue: deque[Order] = deque()
        self.total = ZERO
        self.live = 0


class BookSide:
    def __init__(self, *, is_bid: bool) -> None:
        self.is_bid = is_bid
        self._prices: list[Decimal] = []  # ascending for both sides
        self._levels: dict[Decimal, _Level] = {}

    def __bool__(self) -> bool:
        return bool(self._prices)

    def best(self) -> Decimal | None:
        if not self._prices:
            return None
        return self._prices[-1] if self.is_bid else self._prices[0]

    def qty_at(self, price: Decimal) -> Decimal:
        level = self._levels.get(price)
        return level.total if level is not None else ZERO

    def levels(self) -> Iterator[_Level]:
        """Levels best first."""
        prices = reversed(self._prices) if self.is_bid else iter(self._prices)
        for price in prices:
            yield self._levels[price]

    def depth(self, limit: int) -> list[tuple[Decimal, Decimal]]:
        out: list[tuple[Decimal, Decimal]] = []
        for level in self.levels():
            if len(out) >= limit:
                break
            out.append((level.price, level.total))
        return out

    def add(self, order: Order) -> None:
        level = self._levels.get(order.price)
        if level is None:
            level = _Level(order.price)
            self._levels[order.price] = level
            insort(self._prices, order.price)
        level.queue.append(order)
        level.total += order.leaves_qty
        level.live += 1
        order.in_book = True

    def remove(self, order: Order) -> None:
        level = self._levels[order.price]
        level.total -= order.leaves_qty
        level.live -= 1
        order.in_book = False
        if level.live == 0:
            self._drop(level)
        elif len(level.queue) > _COMPACT_FACTOR * level.live + _COMPACT_SLACK:
            # Many cancels behind a live head would otherwise pile up until matched through.
            level.queue = deque(o for o in level.queue if o.in_book)

    def _drop(self, level: _Level) -> None:
        del self._levels[level.price]
        del self._prices[bisect_left(self._prices, level.price)]

    def take_from(self, level: _Level, want: Decimal, out: list[Match]) -> Decimal:
        """Fill up to `want` from one level in time priority; returns the quantity filled."""
        filled = ZERO
        queue = level.queue
        while want > filled and queue:
            maker = queue[0]
            if not maker.in_book:
                queue.popleft()
                continue
            qty = min(want - filled, maker.leaves_qty)
            maker.leaves_qty -= qty
            level.total -= qty
            filled += qty
            out.append(Match(maker, level.price, qty))
            if maker.leaves_qty == ZERO:
                queue.popleft()
                maker.in_book = False
                level.live -= 1
        if level.live == 0:
            self._drop(level)
        return filled


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def _crosses(taker: Side, level_price: Decimal, limit: Decimal | None) -> bool:
    if limit is None:
        return True
    return level_price <= limit if taker is Side.BUY else level_price >= limit


class OrderBook:
    def __init__(self, symbol: str, step_size: Decimal) -> None:
        self.symbol = symbol
        self.step_size = step_size
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)

    def side(self, side: Side) -> BookSide:
        return self.bids if side is Side.BUY else self.asks

    def opposite(self, taker: Side) -> BookSide:
        return self.asks if taker is Side.BUY else self.bids

    def add(self, order: Order) -> None:
        self.side(order.side).add(order)

    def remove(self, order: Order) -> None:
        if order.in_book:
            self.side(order.side).remove(order)

    def would_cross(self, side: Side, price: Decimal) -> bool:
        best = self.opposite(side).best()
        return best is not None and _crosses(side, best, price)

    def _want(self, price: Decimal, qty_left: Decimal | None, quote_left: Decimal | None) -> Decimal:
        if quote_left is None:
            assert qty_left is not None
            return qty_left
        affordable = floor_to_step(quote_left / price, self.step_size)
        return affordable if qty_left is None else min(qty_left, affordable)

    def plan(
        self, taker: Side, limit: Decimal | None, qty: Decimal | None, quote: Decimal | None
    ) -> tuple[Decimal, Decimal]:
        """(base, quote) a taker order would execute right now, without touching the book."""
        base_done = quote_done = ZERO
        for level in self.opposite(taker).levels():
            if not _crosses(taker, level.price, limit):
                break
            qty_left = None if qty is None else qty - base_done
            quote_left = None if quote is None else quote - quote_done
            take = min(level.total, self._want(level.price, qty_left, quote_left))
            if take <= ZERO:
                break
            base_done += take
            quote_done += take * level.price
        return base_done, quote_done

    def take(
        self, taker: Side, limit: Decimal | None, qty: Decimal | None, quote: Decimal | None
    ) -> list[Match]:
        """Match a taker against the opposite side; bounded by `qty` and/or `quote`."""
        book_side = self.opposite(taker)
        matches: list[Match] = []
        base_done = quote_done = ZERO
        while book_side:
            level = next(book_side.levels())
            if not _crosses(taker, level.price, limit):
                break
            qty_left = None if qty is None else qty - base_done
            quote_left = None if quote is None else quote - quote_done
            want = self._want(level.price, qty_left, quote_left)
            if want <= ZERO:
                break
            filled = book_side.take_from(level, want, matches)
            base_done += filled
            quote_done += filled * level.price
            if filled < want and book_side.best() == level.price:
                break  # defensive: a level that cannot fill would otherwise loop forever
        return matches
