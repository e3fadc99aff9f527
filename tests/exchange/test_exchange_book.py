"""The bare order book: level ordering, time priority, lazy cancels, planning."""

from __future__ import annotations

from decimal import Decimal as D

from exchange.book import OrderBook
from exchange.orders import Order, OrderType, Side


def _order(order_id: int, side: Side, price: str, qty: str) -> Order:
    order = Order(
        order_id=order_id,
        owner="x",
        client_order_id=f"c{order_id}",
        symbol="BTCUSDT",
        side=side,
        type=OrderType.LIMIT,
        time_in_force=None,
        price=D(price),
        orig_qty=D(qty),
        orig_quote_qty=D(0),
        created_ms=0,
    )
    order.leaves_qty = D(qty)
    return order


def _book(*orders: Order) -> OrderBook:
    book = OrderBook("BTCUSDT", D("0.001"))
    for order in orders:
        book.add(order)
    return book


def test_levels_are_best_first_and_aggregated() -> None:
    book = _book(
        _order(1, Side.BUY, "99", "1"),
        _order(2, Side.BUY, "100", "2"),
        _order(3, Side.BUY, "100", "3"),
        _order(4, Side.SELL, "102", "1"),
        _order(5, Side.SELL, "101", "4"),
    )
    assert book.bids.depth(5) == [(D(100), D(5)), (D(99), D(1))]
    assert book.asks.depth(5) == [(D(101), D(4)), (D(102), D(1))]
    assert book.bids.depth(1) == [(D(100), D(5))]


def test_time_priority_within_a_level() -> None:
    first, second = _order(1, Side.SELL, "100", "1"), _order(2, Side.SELL, "100", "1")
    book = _book(first, second)
    matches = book.take(Side.BUY, D(100), D("1.5"), None)
    assert [(m.maker.order_id, m.qty) for m in matches] == [(1, D(1)), (2, D("0.5"))]
    assert not first.in_book and second.in_book and second.leaves_qty == D("0.5")
    assert book.asks.depth(5) == [(D(100), D("0.5"))]


def test_limit_stops_at_price() -> None:
    book = _book(_order(1, Side.SELL, "100", "1"), _order(2, Side.SELL, "101", "1"))
    matches = book.take(Side.BUY, D(100), D(5), None)
    assert [(m.price, m.qty) for m in matches] == [(D(100), D(1))]
    assert book.asks.depth(5) == [(D(101), D(1))]


def test_cancel_is_lazy_and_skipped_by_matching() -> None:
    a, b = _order(1, Side.SELL, "100", "1"), _order(2, Side.SELL, "100", "2")
    book = _book(a, b)
    book.remove(a)
    assert book.asks.depth(5) == [(D(100), D(2))]
    matches = book.take(Side.BUY, None, D(1), None)
    assert [m.maker.order_id for m in matches] == [2]


def test_cancelling_last_order_drops_the_level() -> None:
    a = _order(1, Side.BUY, "100", "1")
    book = _book(a)
    book.remove(a)
    assert book.bids.best() is None
    assert not book.bids


def test_quote_budget_floors_to_step() -> None:
    book = _book(_order(1, Side.SELL, "30000", "1"))
    matches = book.take(Side.BUY, None, None, D(100))
    assert [(m.price, m.qty) for m in matches] == [(D(30000), D("0.003"))]


def test_plan_matches_take_and_does_not_mutate() -> None:
    book = _book(_order(1, Side.SELL, "100", "1"), _order(2, Side.SELL, "110", "1"))
    planned = book.plan(Side.BUY, None, D("1.5"), None)
    assert planned == (D("1.5"), D(155))
    assert book.asks.depth(5) == [(D(100), D(1)), (D(110), D(1))]
    matches = book.take(Side.BUY, None, D("1.5"), None)
    assert sum(m.qty for m in matches) == planned[0]
    assert sum(m.qty * m.price for m in matches) == planned[1]


def test_many_cancels_behind_a_live_head_are_compacted() -> None:
    head = _order(0, Side.SELL, "100", "1")
    book = _book(head)
    for i in range(1, 500):
        order = _order(i, Side.SELL, "100", "1")
        book.add(order)
        book.remove(order)
    level = next(book.asks.levels())
    assert len(level.queue) < 100
    assert book.asks.depth(5) == [(D(100), D(1))]
    assert [m.maker.order_id for m in book.take(Side.BUY, None, D(1), None)] == [0]
