"""Matching and settlement through the engine, one readable case per row.

Books are built by hand (no market maker) so every fill and balance is predictable:
the maker is "alice", the taker "bob", each starting with 100 000 USDT and 10 BTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.accounts import Account, Accounts
from exchange.catalog import SYMBOLS, SYMBOLS_BY_ID
from exchange.engine import Engine
from exchange.market_maker import MARKET_MAKER_ID, MarketMaker
from exchange.orders import OrderRequest, OrderStatus, OrderType, Side, TimeInForce

START = {"USDT": D(100_000), "BTC": D(10)}
SYMBOL = "BTCUSDT"


def _engine(maker_levels: int = 0) -> Engine:
    return Engine(
        SYMBOLS,
        Accounts(START, 1000),
        market_maker=MarketMaker(maker_levels),
        clock=lambda: 1_700_000_000_000,
    )


def limit(
    side: Side, qty: str, price: str, tif: TimeInForce = TimeInForce.GTC, client_id: str | None = None
) -> OrderRequest:
    return OrderRequest(SYMBOL, side, OrderType.LIMIT, D(qty), None, D(price), tif, client_id)


def market(side: Side, qty: str | None = None, quote: str | None = None) -> OrderRequest:
    return OrderRequest(
        SYMBOL, side, OrderType.MARKET, D(qty) if qty else None, D(quote) if quote else None, None, None, None
    )


BUY, SELL = Side.BUY, Side.SELL


@dataclass(frozen=True)
class Case:
    id: str
    note: str
    resting: list[tuple[str, OrderRequest]]
    taker: OrderRequest
    status: OrderStatus
    fills: list[tuple[str, str]]  # (price, qty)
    # Expected (free, locked) of bob after the order, per asset.
    bob: dict[str, tuple[str, str]]
    alice: dict[str, tuple[str, str]] = field(default_factory=dict)
    asks: list[tuple[str, str]] | None = None
    bids: list[tuple[str, str]] | None = None


CASES = [
    Case(
        "limit-rests",
        "a non-crossing limit buy rests and locks quote at its price",
        [],
        limit(BUY, "0.1", "50000"),
        OrderStatus.NEW,
        [],
        bob={"USDT": ("95000", "5000"), "BTC": ("10", "0")},
        bids=[("50000", "0.1")],
    ),
    Case(
        "limit-sell-rests",
        "a resting limit sell locks base",
        [],
        limit(SELL, "0.5", "70000"),
        OrderStatus.NEW,
        [],
        bob={"USDT": ("100000", "0"), "BTC": ("9.5", "0.5")},
        asks=[("70000", "0.5")],
    ),
    Case(
        "crossing-limit-fills-at-resting-price",
        "buyer's surplus lock is released",
        [("alice", limit(SELL, "0.1", "59000"))],
        limit(BUY, "0.1", "60000"),
        OrderStatus.FILLED,
        [("59000", "0.1")],
        bob={"USDT": ("94100", "0"), "BTC": ("10.1", "0")},
        alice={"USDT": ("105900", "0"), "BTC": ("9.9", "0")},
        asks=[],
        bids=[],
    ),
    Case(
        "partial-fill-rests-remainder",
        "remainder rests, lock is exactly remainder x limit",
        [("alice", limit(SELL, "0.1", "59000"))],
        limit(BUY, "0.3", "60000"),
        OrderStatus.PARTIALLY_FILLED,
        [("59000", "0.1")],
        bob={"USDT": ("82100", "12000"), "BTC": ("10.1", "0")},
        asks=[],
        bids=[("60000", "0.2")],
    ),
    Case(
        "resting-order-partially-filled",
        "the maker keeps the rest of its order working",
        [("alice", limit(SELL, "1", "59000"))],
        limit(BUY, "0.25", "59000"),
        OrderStatus.FILLED,
        [("59000", "0.25")],
        bob={"USDT": ("85250", "0"), "BTC": ("10.25", "0")},
        alice={"USDT": ("114750", "0"), "BTC": ("9", "0.75")},
        asks=[("59000", "0.75")],
    ),
    Case(
        "price-then-time-priority",
        "better price first, then first come at the same price",
        [
            ("alice", limit(SELL, "0.1", "59000")),
            ("carol", limit(SELL, "0.1", "59000")),
            ("alice", limit(SELL, "0.1", "58000")),
        ],
        limit(BUY, "0.25", "59000"),
        OrderStatus.FILLED,
        [("58000", "0.1"), ("59000", "0.1"), ("59000", "0.05")],
        bob={"USDT": ("85350", "0"), "BTC": ("10.25", "0")},
        asks=[("59000", "0.05")],
    ),
    Case(
        "market-buy-by-quantity-walks-levels",
        "locks the planned cost, spends exactly it",
        [("alice", limit(SELL, "0.1", "59000")), ("alice", limit(SELL, "0.1", "59500"))],
        market(BUY, qty="0.15"),
        OrderStatus.FILLED,
        [("59000", "0.1"), ("59500", "0.05")],
        bob={"USDT": ("91125", "0"), "BTC": ("10.15", "0")},
        asks=[("59500", "0.05")],
    ),
    Case(
        "market-buy-by-quote",
        "quoteOrderQty buys what the quote affords",
        [("alice", limit(SELL, "0.1", "50000"))],
        market(BUY, quote="1000"),
        OrderStatus.FILLED,
        [("50000", "0.02")],
        bob={"USDT": ("99000", "0"), "BTC": ("10.02", "0")},
        asks=[("50000", "0.08")],
    ),
    Case(
        "market-buy-by-quote-floors-to-lot",
        "leftover below one lot is returned, still FILLED",
        [("alice", limit(SELL, "1", "30000"))],
        market(BUY, quote="100"),
        OrderStatus.FILLED,
        [("30000", "0.00333")],
        bob={"USDT": ("99900.1", "0"), "BTC": ("10.00333", "0")},
    ),
    Case(
        "market-sell-by-quantity",
        "sells into the bids best first",
        [("alice", limit(BUY, "0.1", "50000")), ("alice", limit(BUY, "0.1", "49000"))],
        market(SELL, qty="0.15"),
        OrderStatus.FILLED,
        [("50000", "0.1"), ("49000", "0.05")],
        bob={"USDT": ("107450", "0"), "BTC": ("9.85", "0")},
        alice={"USDT": ("90100", "2450"), "BTC": ("10.15", "0")},
        bids=[("49000", "0.05")],
    ),
    Case(
        "market-sell-by-quote",
        "quoteOrderQty on a sell sells until that much quote is raised",
        [("alice", limit(BUY, "1", "50000"))],
        market(SELL, quote="5000"),
        OrderStatus.FILLED,
        [("50000", "0.1")],
        bob={"USDT": ("105000", "0"), "BTC": ("9.9", "0")},
    ),
    Case(
        "market-expires-when-book-runs-dry",
        "what filled stays filled, the rest expires",
        [("alice", limit(SELL, "0.1", "50000"))],
        market(BUY, qty="0.3"),
        OrderStatus.EXPIRED,
        [("50000", "0.1")],
        bob={"USDT": ("95000", "0"), "BTC": ("10.1", "0")},
        asks=[],
    ),
    Case(
        "market-on-empty-book-expires",
        "nothing to match: EXPIRED, no funds move",
        [],
        market(SELL, qty="0.3"),
        OrderStatus.EXPIRED,
        [],
        bob={"USDT": ("100000", "0"), "BTC": ("10", "0")},
    ),
    Case(
        "ioc-expires-remainder",
        "IOC never rests",
        [("alice", limit(SELL, "0.1", "50000"))],
        limit(BUY, "0.3", "50000", TimeInForce.IOC),
        OrderStatus.EXPIRED,
        [("50000", "0.1")],
        bob={"USDT": ("95000", "0"), "BTC": ("10.1", "0")},
        bids=[],
    ),
    Case(
        "fok-short-expires-untouched",
        "FOK that cannot fill fully trades nothing",
        [("alice", limit(SELL, "0.1", "50000"))],
        limit(BUY, "0.3", "50000", TimeInForce.FOK),
        OrderStatus.EXPIRED,
        [],
        bob={"USDT": ("100000", "0"), "BTC": ("10", "0")},
        asks=[("50000", "0.1")],
    ),
    Case(
        "fok-fills-fully",
        "FOK with enough depth fills",
        [("alice", limit(SELL, "0.3", "50000"))],
        limit(BUY, "0.3", "50000", TimeInForce.FOK),
        OrderStatus.FILLED,
        [("50000", "0.3")],
        bob={"USDT": ("85000", "0"), "BTC": ("10.3", "0")},
    ),
]


def _balances(account: Account) -> dict[str, tuple[D, D]]:
    return {a: (account.free_of(a), account.locked_of(a)) for a in ("USDT", "BTC")}


def _expect(spec: dict[str, tuple[str, str]]) -> dict[str, tuple[D, D]]:
    return {a: (D(free), D(locked)) for a, (free, locked) in spec.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matching(case: Case) -> None:
    engine = _engine()
    for owner, req in case.resting:
        engine.place(engine.accounts.get_or_create(owner), req)
    bob = engine.accounts.get_or_create("bob")

    result = engine.place(bob, case.taker)

    assert result.order.status is case.status, case.note
    assert [(f.price, f.qty) for f in result.fills] == [(D(p), D(q)) for p, q in case.fills]
    assert result.order.executed_qty == sum((D(q) for _, q in case.fills), D(0))
    assert _balances(bob) == _expect(case.bob), case.note
    if case.alice:
        assert _balances(engine.accounts.get_or_create("alice")) == _expect(case.alice)
    book = engine.books[SYMBOL]
    if case.asks is not None:
        assert book.asks.depth(10) == [(D(p), D(q)) for p, q in case.asks]
    if case.bids is not None:
        assert book.bids.depth(10) == [(D(p), D(q)) for p, q in case.bids]


def test_trades_recorded_for_both_sides() -> None:
    engine = _engine()
    alice, bob = engine.accounts.get_or_create("alice"), engine.accounts.get_or_create("bob")
    resting = engine.place(alice, limit(SELL, "0.1", "59000")).order
    taken = engine.place(bob, limit(BUY, "0.1", "60000")).order
    (mine,), (theirs,) = bob.trades, alice.trades
    assert mine.trade_id == theirs.trade_id
    assert (mine.order_id, mine.is_buyer, mine.is_maker) == (taken.order_id, True, False)
    assert (theirs.order_id, theirs.is_buyer, theirs.is_maker) == (resting.order_id, False, True)
    assert mine.quote_qty == D(5900)
    assert resting.status is OrderStatus.FILLED and not alice.open_orders


def test_cancel_releases_funds() -> None:
    engine = _engine()
    bob = engine.accounts.get_or_create("bob")
    order = engine.place(bob, limit(BUY, "0.1", "50000")).order
    canceled = engine.cancel(bob, SYMBOL, order.order_id, None)
    assert canceled.status is OrderStatus.CANCELED
    assert _balances(bob) == _expect({"USDT": ("100000", "0"), "BTC": ("10", "0")})
    assert engine.books[SYMBOL].bids.depth(5) == []
    with pytest.raises(errors.ApiError) as again:
        engine.cancel(bob, SYMBOL, order.order_id, None)
    assert again.value.code == errors.CODE_CANCEL_REJECTED


def test_cancel_partially_filled_releases_only_the_rest() -> None:
    engine = _engine()
    alice, bob = engine.accounts.get_or_create("alice"), engine.accounts.get_or_create("bob")
    engine.place(alice, limit(SELL, "0.1", "59000"))
    order = engine.place(bob, limit(BUY, "0.3", "60000")).order
    engine.cancel(bob, SYMBOL, None, order.client_order_id)
    assert _balances(bob) == _expect({"USDT": ("94100", "0"), "BTC": ("10.1", "0")})


@pytest.mark.parametrize(
    "req",
    [
        pytest.param(limit(BUY, "2", "60000"), id="limit-buy-beyond-quote"),
        pytest.param(limit(SELL, "11", "60000"), id="limit-sell-beyond-base"),
        pytest.param(market(SELL, qty="10.5"), id="market-sell-beyond-base"),
        pytest.param(market(BUY, quote="100001"), id="market-buy-quote-beyond-quote"),
        pytest.param(market(BUY, qty="3"), id="market-buy-cost-beyond-quote"),
    ],
)
def test_insufficient_balance_changes_nothing(req: OrderRequest) -> None:
    engine = _engine()
    engine.place(engine.accounts.get_or_create("alice"), limit(SELL, "5", "59000"))
    bob = engine.accounts.get_or_create("bob")
    with pytest.raises(errors.ApiError) as rejected:
        engine.place(bob, req)
    assert rejected.value.body() == {"code": -2010, "msg": errors.MSG_INSUFFICIENT_BALANCE}
    assert _balances(bob) == _expect({"USDT": ("100000", "0"), "BTC": ("10", "0")})
    assert not bob.open_orders


def test_duplicate_client_order_id_only_among_open_orders() -> None:
    engine = _engine()
    bob = engine.accounts.get_or_create("bob")
    first = engine.place(bob, limit(BUY, "0.1", "50000", client_id="mine-1")).order
    with pytest.raises(errors.ApiError) as dup:
        engine.place(bob, limit(BUY, "0.1", "50000", client_id="mine-1"))
    assert dup.value.body() == {"code": -2010, "msg": "Duplicate order sent."}
    other = engine.accounts.get_or_create("carol")
    engine.place(other, limit(BUY, "0.1", "50000", client_id="mine-1"))  # other customer: fine
    engine.cancel(bob, SYMBOL, first.order_id, None)
    engine.place(bob, limit(BUY, "0.1", "50000", client_id="mine-1"))  # no longer open: fine


def test_limit_maker_that_would_take_is_rejected() -> None:
    engine = _engine()
    engine.place(engine.accounts.get_or_create("alice"), limit(SELL, "1", "59000"))
    bob = engine.accounts.get_or_create("bob")
    req = OrderRequest(SYMBOL, BUY, OrderType.LIMIT_MAKER, D("0.1"), None, D(59000), None, None)
    with pytest.raises(errors.ApiError) as rejected:
        engine.place(bob, req)
    assert rejected.value.code == -2010


def test_market_maker_seeds_a_deterministic_ladder_on_every_symbol() -> None:
    first, second = _engine(maker_levels=10), _engine(maker_levels=10)
    for spec in SYMBOLS:
        bids = first.books[spec.symbol].bids.depth(100)
        asks = first.books[spec.symbol].asks.depth(100)
        assert len(bids) == len(asks) == 10, spec.symbol
        assert bids[0][0] < spec.seed_price < asks[0][0]
        assert all(q == spec.maker_level_qty for _, q in bids + asks)
        assert bids == second.books[spec.symbol].bids.depth(100)
        assert asks == second.books[spec.symbol].asks.depth(100)


def test_replenishment_keeps_the_book_alive_under_many_market_orders() -> None:
    engine = Engine(
        SYMBOLS,
        Accounts({"USDT": D(10**9), "BTC": D(10**4)}, 100),
        market_maker=MarketMaker(10),
        clock=lambda: 0,
    )
    bench = engine.accounts.get_or_create("bench")
    spec = SYMBOLS_BY_ID[SYMBOL]
    book = engine.books[SYMBOL]
    for i in range(3000):
        side = BUY if i % 3 else SELL
        result = engine.place(bench, market(side, qty="0.05"))
        assert result.order.status is OrderStatus.FILLED
    for book_side in (book.bids, book.asks):
        levels = book_side.depth(100)
        assert len(levels) == 10
        assert all(q >= spec.maker_level_qty / 2 for _, q in levels)
    maker = engine.accounts.get(MARKET_MAKER_ID)
    assert maker is not None
    assert len(maker.orders) == len(maker.open_orders), "filled maker orders are not retained"
    assert len(bench.trades) == 100, "history is bounded"


def test_market_by_quote_that_empties_the_book_expires_even_after_requote() -> None:
    engine = _engine(maker_levels=1)
    bob = engine.accounts.get_or_create("bob")
    ask_qty = engine.books[SYMBOL].asks.depth(1)[0][1]
    result = engine.place(bob, market(BUY, quote="99000"))  # far more than the one level holds
    assert result.order.status is OrderStatus.EXPIRED
    assert result.order.executed_qty == ask_qty == result.order.orig_qty
    assert engine.books[SYMBOL].asks.depth(1), "the market maker re-quoted afterwards"
