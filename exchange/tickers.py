"""Running per-symbol market statistics for `/api/v3/ticker/24hr`.

The window is "since the exchange started" rather than a rolling 24 hours: the mock is
short-lived, and a rolling window would need per-trade storage on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from exchange.orders import ZERO


@dataclass(slots=True)
class MarketStats:
    open_price: Decimal
    open_ms: int
    last_price: Decimal
    high: Decimal
    low: Decimal
    last_qty: Decimal = ZERO
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    count: int = 0
    first_trade_id: int = -1
    last_trade_id: int = -1

    @classmethod
    def seeded(cls, price: Decimal, now_ms: int) -> MarketStats:
        return cls(open_price=price, open_ms=now_ms, last_price=price, high=price, low=price)

    def on_trade(self, trade_id: int, price: Decimal, qty: Decimal) -> None:
        if self.count == 0:
            self.first_trade_id = trade_id
            self.high = self.low = price
        self.count += 1
        self.last_trade_id = trade_id
        self.last_price = price
        self.last_qty = qty
        self.volume += qty
        self.quote_volume += qty * price
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
