"""The matching engine: reserve funds, match against the book, settle both sides, re-quote.

Every public method is synchronous and runs to completion, so on a single event loop an
order's reservation, matching and settlement can never interleave with another request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from exchange import errors
from exchange.accounts import Account, Accounts
from exchange.book import Match, OrderBook
from exchange.catalog import SymbolSpec
from exchange.market_maker import MARKET_MAKER_BALANCE, MARKET_MAKER_ID, MarketMaker
from exchange.orders import (
    ZERO,
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    PlaceResult,
    Side,
    TimeInForce,
    Trade,
)
from exchange.tape import TradeTape
from exchange.tickers import MarketStats

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Engine:
    def __init__(
        self,
        symbols: Iterable[SymbolSpec],
        accounts: Accounts,
        *,
        seed_prices: Mapping[str, Decimal] | None = None,
        market_maker: MarketMaker | None = None,
        clock: Clock = wall_clock_ms,
        history_limit: int = 10_000,
    ) -> None:
        self.accounts = accounts
        self.clock = clock
        self.symbols = {spec.symbol: spec for spec in symbols}
        overrides = seed_prices or {}
        self.reference = {s: overrides.get(s, spec.seed_price) for s, spec in self.symbols.items()}
        self.books = {s: OrderBook(s, spec.step_size) for s, spec in self.symbols.items()}
        now = clock()
        self.stats = {s: MarketStats.seeded(self.reference[s], now) for s in self.symbols}
        self.tapes = {s: TradeTape(self.reference[s], now, history_limit) for s in self.symbols}
        self.maker = market_maker or MarketMaker()
        assets = {a for spec in self.symbols.values() for a in (spec.base, spec.quote)}
        self.maker_account = Account(
            MARKET_MAKER_ID, dict.fromkeys(assets, MARKET_MAKER_BALANCE), history_limit,
            keep_history=False,
        )
        accounts.add(self.maker_account)
        self._next_order_id = 1
        self._next_trade_id = 1
        for symbol in self.symbols:
            self.replenish(symbol, Side.BUY)
            self.replenish(symbol, Side.SELL)

    @property
    def sequence(self) -> int:
        """Grows with every order and trade: the book's `lastUpdateId`."""
        return self._next_order_id + self._next_trade_id

    # -- new orders -------------------------------------------------------------------------

    def place(self, account: Account, req: OrderRequest) -> PlaceResult:
        spec = self.symbols[req.symbol]
        book = self.books[req.symbol]
        if req.client_order_id is not None and req.client_order_id in account.open_by_client_id:
            raise errors.order_rejected("Duplicate order sent.")
        if req.type is OrderType.LIMIT_MAKER:
            assert req.price is not None
            if book.would_cross(req.side, req.price):
                raise errors.order_rejected("Order would immediately match and take.")
        order = self._new_order(account, req)
        lock_asset, lock_amount = self._reservation(req, spec, book)
        if not account.lock(order, lock_asset, lock_amount):
            raise errors.insufficient_balance()
        account.open(order)
        result = PlaceResult(order)
        limit = req.price if req.type is not OrderType.MARKET else None
        fok_short = (
            req.time_in_force is TimeInForce.FOK
            and req.quantity is not None
            and book.plan(req.side, limit, req.quantity, None)[0] < req.quantity
        )
        matches = [] if fok_short else book.take(req.side, limit, req.quantity, req.quote_quantity)
        result.fills = [self._settle(order, account, spec, m) for m in matches]
        # Finish before re-quoting: the final status depends on whether the book ran dry.
        self._finish(order, account, book)
        if matches:
            self.replenish(req.symbol, Side.SELL if req.side is Side.BUY else Side.BUY)
        return result

    def _new_order(self, account: Account, req: OrderRequest) -> Order:
        order_id = self._next_order_id
        self._next_order_id += 1
        now = self.clock()
        return Order(
            order_id=order_id,
            owner=account.customer_id,
            client_order_id=req.client_order_id or f"mock-{order_id}",
            symbol=req.symbol,
            side=req.side,
            type=req.type,
            time_in_force=req.time_in_force,
            price=req.price if req.price is not None else ZERO,
            orig_qty=req.quantity if req.quantity is not None else ZERO,
            orig_quote_qty=req.quote_quantity if req.quote_quantity is not None else ZERO,
            created_ms=now,
            updated_ms=now,
        )

    @staticmethod
    def _reservation(req: OrderRequest, spec: SymbolSpec, book: OrderBook) -> tuple[str, Decimal]:
        """Which asset, and how much of it, the order must reserve before it may match."""
        if req.side is Side.SELL:
            if req.quantity is not None:
                return spec.base, req.quantity
            base, _ = book.plan(Side.SELL, None, None, req.quote_quantity)
            return spec.base, base
        if req.type is not OrderType.MARKET:
            assert req.price is not None and req.quantity is not None
            return spec.quote, req.quantity * req.price
        if req.quote_quantity is not None:
            return spec.quote, req.quote_quantity
        _, cost = book.plan(Side.BUY, None, req.quantity, None)
        return spec.quote, cost

    def _settle(self, taker: Order, taker_account: Account, spec: SymbolSpec, match: Match) -> Fill:
        maker = match.maker
        maker_account = self.accounts.get(maker.owner)
        assert maker_account is not None
        qty, price = match.qty, match.price
        quote = qty * price
        if taker.side is Side.BUY:
            buyer, buy_order, seller, sell_order = taker_account, taker, maker_account, maker
        else:
            buyer, buy_order, seller, sell_order = maker_account, maker, taker_account, taker
        buyer.consume_locked(buy_order, quote)
        buyer.credit(spec.base, qty)
        seller.consume_locked(sell_order, qty)
        seller.credit(spec.quote, quote)

        now = self.clock()
        for order in (taker, maker):
            order.executed_qty += qty
            order.cumulative_quote += quote
            order.updated_ms = now
        if maker.leaves_qty == ZERO:
            maker.status = OrderStatus.FILLED
            maker_account.close(maker)
        else:
            maker.status = OrderStatus.PARTIALLY_FILLED

        trade_id = self._next_trade_id
        self._next_trade_id += 1
        for account, order, is_maker in ((taker_account, taker, False), (maker_account, maker, True)):
            is_buyer = order.side is Side.BUY
            account.record_trade(Trade(
                trade_id=trade_id, symbol=spec.symbol, order_id=order.order_id, price=price,
                qty=qty, quote_qty=quote, commission=ZERO,
                commission_asset=spec.base if is_buyer else spec.quote, time_ms=now,
                is_buyer=is_buyer, is_maker=is_maker,
            ))
        self.stats[spec.symbol].on_trade(trade_id, price, qty)
        self.tapes[spec.symbol].record(
            trade_id, price, qty, now, buyer_is_maker=maker.side is Side.BUY, taker_order_id=taker.order_id
        )
        return Fill(price, qty, ZERO, spec.base if taker.side is Side.BUY else spec.quote, trade_id)

    def _finish(self, order: Order, account: Account, book: OrderBook) -> None:
        """Decide the taker's final status: rest the remainder, or close and release funds."""
        remaining = order.orig_qty - order.executed_qty
        rests = order.type is not OrderType.MARKET and order.time_in_force in (None, TimeInForce.GTC)
        if order.type is OrderType.MARKET and order.orig_quote_qty > ZERO:
            # Binance reports the executed size as origQty for quoteOrderQty orders. Stopping
            # with liquidity left means the leftover quote was below one lot: that is FILLED.
            order.orig_qty = order.executed_qty
            filled = order.executed_qty > ZERO and bool(book.opposite(order.side))
            order.status = OrderStatus.FILLED if filled else OrderStatus.EXPIRED
        elif remaining == ZERO:
            order.status = OrderStatus.FILLED
        elif rests:
            order.leaves_qty = remaining
            if order.side is Side.BUY:
                # Fills at better prices leave surplus reserved; keep exactly what can still be paid.
                account.release(order, order.locked - remaining * order.price)
            order.status = OrderStatus.NEW if order.executed_qty == ZERO else OrderStatus.PARTIALLY_FILLED
            book.add(order)
            return
        else:
            order.status = OrderStatus.EXPIRED
        account.close(order)

    # -- cancels and the market maker --------------------------------------------------------

    def cancel(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        order = account.find_order(order_id, client_id)
        if order is None or order.symbol != symbol or not order.is_open:
            raise errors.unknown_order_cancel()
        self.books[symbol].remove(order)
        order.status = OrderStatus.CANCELED
        order.updated_ms = self.clock()
        account.close(order)
        return order

    def cancel_all(self, account: Account, symbol: str) -> list[Order]:
        mine = [o for o in account.open_orders.values() if o.symbol == symbol]
        return [self.cancel(account, symbol, o.order_id, None) for o in mine]

    def replenish(self, symbol: str, side: Side) -> None:
        spec = self.symbols[symbol]
        book = self.books[symbol]
        for price, qty in list(self.maker.top_ups(book, spec, self.reference[symbol], side)):
            req = OrderRequest(symbol, side, OrderType.LIMIT, qty, None, price, TimeInForce.GTC, None)
            order = self._new_order(self.maker_account, req)
            asset, amount = self._reservation(req, spec, book)
            if not self.maker_account.lock(order, asset, amount):
                return  # out of inventory: leave the level thin rather than fail the customer
            self.maker_account.open(order)
            order.leaves_qty = qty
            book.add(order)
