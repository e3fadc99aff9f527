"""The public trade tape of one symbol: what `trades`, `aggTrades`, `klines` and `avgPrice`
are read from, so all four agree with each other and with the matching engine.

Bounded like account history (`history_limit` trades per symbol): the oldest trades are
forgotten first, and the last one forgotten is remembered so candles after it still know
the price they open from.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class PublicTrade:
    trade_id: int
    # Binance aggregates the fills of one taker order at one price into one aggTrade.
    agg_id: int
    price: Decimal
    qty: Decimal
    time_ms: int
    buyer_is_maker: bool

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty


@dataclass(frozen=True, slots=True)
class AggTrade:
    agg_id: int
    price: Decimal
    qty: Decimal
    first_trade_id: int
    last_trade_id: int
    time_ms: int
    buyer_is_maker: bool


class TradeTape:
    def __init__(self, seed_price: Decimal, opened_ms: int, limit: int) -> None:
        self.seed_price = seed_price
        self.opened_ms = opened_ms
        self._trades: deque[PublicTrade] = deque()
        self._limit = limit
        self.forgotten: PublicTrade | None = None  # the newest trade no longer kept
        self._agg_id = 0
        self._agg_key: tuple[int, Decimal] | None = None

    def __len__(self) -> int:
        return len(self._trades)

    def record(
        self, trade_id: int, price: Decimal, qty: Decimal, time_ms: int, *, buyer_is_maker: bool,
        taker_order_id: int,
    ) -> None:
        key = (taker_order_id, price)
        if key != self._agg_key:
            self._agg_key = key
            self._agg_id += 1
        self._trades.append(PublicTrade(trade_id, self._agg_id, price, qty, time_ms, buyer_is_maker))
        if len(self._trades) > self._limit:
            self.forgotten = self._trades.popleft()

    def __iter__(self) -> Iterator[PublicTrade]:
        return iter(self._trades)

    def recent(self, limit: int) -> list[PublicTrade]:
        """The newest `limit` trades, oldest first."""
        start = max(0, len(self._trades) - limit)
        return [self._trades[i] for i in range(start, len(self._trades))]

    def from_id(self, first_id: int, limit: int) -> list[PublicTrade]:
        """Up to `limit` trades from id `first_id` on (from the oldest kept, if it is gone)."""
        out: list[PublicTrade] = []
        for trade in self._trades:
            if trade.trade_id >= first_id:
                out.append(trade)
                if len(out) >= limit:
                    break
        return out

    def aggregated(self) -> list[AggTrade]:
        """Every kept trade, fills of one taker order at one price summed into one row."""
        out: list[AggTrade] = []
        for t in self._trades:
            last = out[-1] if out else None
            if last is not None and last.agg_id == t.agg_id:
                out[-1] = AggTrade(last.agg_id, last.price, last.qty + t.qty, last.first_trade_id,
                                   t.trade_id, last.time_ms, last.buyer_is_maker)  # fmt: skip
            else:
                out.append(AggTrade(t.agg_id, t.price, t.qty, t.trade_id, t.trade_id, t.time_ms,
                                    t.buyer_is_maker))  # fmt: skip
        return out

    def price_before(self, time_ms: int) -> Decimal:
        """The last price traded before `time_ms`: a candle with no trades opens and closes there."""
        price = self.forgotten.price if self.forgotten is not None else self.seed_price
        for trade in self._trades:
            if trade.time_ms >= time_ms:
                break
            price = trade.price
        return price
