"""Public market history (trades, aggTrades, klines, avgPrice), tradeFee and order/test.

The engine cases build books by hand (no market maker) and move a fake clock, so every
trade's time, every candle and every aggregate is predictable; the HTTP cases check that
the served data agrees with the matching engine and that parameters are refused as
Binance refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import aiohttp
import pytest

from exchange.accounts import Accounts
from exchange.catalog import SYMBOLS
from exchange.engine import Engine
from exchange.klines import klines
from exchange.market_maker import MarketMaker
from exchange.orders import OrderRequest, OrderType, Side, TimeInForce
from tests.exchange.exchange_testkit import GATEWAY_HEADERS, customer_headers

SYMBOL = "BTCUSDT"
START_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z, a Tuesday
MINUTE = 60_000


class Clock:
    def __init__(self, now: int = START_MS) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _engine(clock: Clock, history_limit: int = 1000) -> Engine:
    accounts = Accounts({"USDT": D(1_000_000), "BTC": D(100)}, history_limit)
    return Engine(SYMBOLS, accounts, market_maker=MarketMaker(0), clock=clock, history_limit=history_limit)


def _rest(engine: Engine, side: Side, qty: str, price: str) -> None:
    account = engine.accounts.get_or_create("alice")
    engine.place(account, OrderRequest(SYMBOL, side, OrderType.LIMIT, D(qty), None, D(price), TimeInForce.GTC, None))


def _take(engine: Engine, side: Side, qty: str) -> None:
    account = engine.accounts.get_or_create("bob")
    engine.place(account, OrderRequest(SYMBOL, side, OrderType.MARKET, D(qty), None, None, None, None))


def _trade(engine: Engine, clock: Clock, at: int, price: str, qty: str = "0.1", side: Side = Side.BUY) -> None:
    """One trade at `price`, time `at`: alice rests, bob takes."""
    clock.now = at
    _rest(engine, Side.SELL if side is Side.BUY else Side.BUY, qty, price)
    _take(engine, side, qty)


def test_fills_of_one_taker_at_one_price_are_one_aggregate() -> None:
    clock = Clock()
    engine = _engine(clock)
    _rest(engine, Side.SELL, "0.1", "60000")
    _rest(engine, Side.SELL, "0.2", "60000")
    _rest(engine, Side.SELL, "0.3", "60010")
    _take(engine, Side.BUY, "0.6")  # three fills, two prices
    _trade(engine, clock, START_MS + 1, "60010", "0.1", Side.SELL)  # another taker, same price
    tape = engine.tapes[SYMBOL]
    assert [t.trade_id for t in tape] == [1, 2, 3, 4]
    rows = [(a.agg_id, a.price, a.qty, a.first_trade_id, a.last_trade_id, a.buyer_is_maker)
            for a in tape.aggregated()]  # fmt: skip
    assert rows == [
        (1, D("60000"), D("0.3"), 1, 2, False),
        (2, D("60010"), D("0.3"), 3, 3, False),
        (3, D("60010"), D("0.1"), 4, 4, True),  # a sell taker: the buyer made the market
    ]


@dataclass(frozen=True)
class KlineCase:
    id: str
    note: str
    interval: str
    start: int | None
    end: int | None
    limit: int
    expected: list[tuple[int, str, str, str, str, str, int]]  # open, o, h, l, c, volume, count


# Trades after the start: 60000 at 30 s, 60100 at 70 s, 59900 at 95 s, 60050 at 185 s; "now"
# is 241 s. The exchange opened at START_MS, 20 s into the minute _M0.
_M0 = START_MS - 20_000  # the minute holding START_MS
KLINE_CASES = [
    KlineCase("1m-newest", "every minute since the start, quiet ones at the last price", "1m", None, None, 500, [
        (_M0, "60000", "60000", "60000", "60000", "0.1", 1),
        (_M0 + MINUTE, "60100", "60100", "59900", "59900", "0.2", 2),
        (_M0 + 2 * MINUTE, "59900", "59900", "59900", "59900", "0", 0),
        (_M0 + 3 * MINUTE, "60050", "60050", "60050", "60050", "0.1", 1),
        (_M0 + 4 * MINUTE, "60050", "60050", "60050", "60050", "0", 0),
    ]),
    KlineCase("1m-limit", "without startTime the newest `limit`", "1m", None, None, 2, [
        (_M0 + 3 * MINUTE, "60050", "60050", "60050", "60050", "0.1", 1),
        (_M0 + 4 * MINUTE, "60050", "60050", "60050", "60050", "0", 0),
    ]),
    KlineCase("1m-start", "startTime: candles opening at or after it, oldest first", "1m",
              _M0 + MINUTE + 1, None, 2, [
        (_M0 + 2 * MINUTE, "59900", "59900", "59900", "59900", "0", 0),
        (_M0 + 3 * MINUTE, "60050", "60050", "60050", "60050", "0.1", 1),
    ]),
    KlineCase("1m-end", "endTime: candles opening at or before it", "1m", None, _M0 + MINUTE, 500, [
        (_M0, "60000", "60000", "60000", "60000", "0.1", 1),
        (_M0 + MINUTE, "60100", "60100", "59900", "59900", "0.2", 2),
    ]),
    KlineCase("start-after-end", "an empty range is an empty list", "1m", _M0 + 3 * MINUTE, _M0, 500, []),
    KlineCase("start-in-future", "nothing opens after now", "1m", START_MS + 3_600_000, None, 500, []),
    KlineCase("huge-start", "19 digits: nothing, and no overflow", "1M", 9_999_999_999_999_999_999, None, 500, []),
    KlineCase("1h", "one candle holds all trades", "1h", None, None, 500, [
        (1_699_999_200_000, "60000", "60100", "59900", "60050", "0.4", 4),
    ]),
    KlineCase("1w", "weeks open on Monday 00:00 UTC", "1w", None, None, 500, [
        (int(datetime(2023, 11, 13, tzinfo=UTC).timestamp() * 1000), "60000", "60100", "59900", "60050", "0.4", 4),
    ]),
    KlineCase("3d", "three days from the epoch", "3d", None, None, 500, [
        (19_674 * 86_400_000, "60000", "60100", "59900", "60050", "0.4", 4),
    ]),
    KlineCase("1M", "calendar months", "1M", None, None, 500, [
        (int(datetime(2023, 11, 1, tzinfo=UTC).timestamp() * 1000), "60000", "60100", "59900", "60050", "0.4", 4),
    ]),
]  # fmt: skip


def _traded_engine() -> tuple[Engine, Clock]:
    clock = Clock()
    engine = _engine(clock)
    _trade(engine, clock, START_MS + 30_000, "60000")
    _trade(engine, clock, START_MS + 70_000, "60100")
    _trade(engine, clock, START_MS + 95_000, "59900", side=Side.SELL)
    _trade(engine, clock, START_MS + 185_000, "60050")
    clock.now = START_MS + 241_000
    return engine, clock


@pytest.mark.parametrize("case", KLINE_CASES, ids=lambda c: c.id)
def test_klines(case: KlineCase) -> None:
    engine, clock = _traded_engine()
    rows = klines(engine.tapes[SYMBOL], case.interval, start=case.start, end=case.end, limit=case.limit,
                  now=clock.now)  # fmt: skip
    got = [(c.open_ms, c.open, c.high, c.low, c.close, c.volume, c.count) for c in rows]
    assert got == [(o, D(a), D(b), D(c), D(d), D(v), n) for o, a, b, c, d, v, n in case.expected], case.note


def test_kline_taker_volumes_and_close_time() -> None:
    engine, clock = _traded_engine()
    second = klines(engine.tapes[SYMBOL], "1m", start=_M0 + MINUTE, end=None, limit=1, now=clock.now)[0]
    assert second.close_ms == _M0 + 2 * MINUTE - 1
    # The 60100 trade was a taker buy, the 59900 one a taker sell.
    assert (second.taker_buy_volume, second.taker_buy_quote_volume) == (D("0.1"), D("6010"))
    assert second.quote_volume == D("6010") + D("5990")


def test_klines_start_after_the_newest_forgotten_trade() -> None:
    clock = Clock()
    engine = _engine(clock, history_limit=2)
    _trade(engine, clock, START_MS + 30_000, "60000")
    _trade(engine, clock, START_MS + 70_000, "60100")  # forgotten once a third trade comes
    _trade(engine, clock, START_MS + 130_000, "60200")
    _trade(engine, clock, START_MS + 200_000, "60300")
    clock.now = START_MS + 200_000
    rows = klines(engine.tapes[SYMBOL], "1m", start=None, end=None, limit=500, now=clock.now)
    # The minute of the forgotten 60100 trade is incomplete, so the first candle is the next
    # one, opening at the forgotten trade's price.
    assert [(c.open_ms, c.open, c.close, c.count) for c in rows] == [
        (_M0 + 2 * MINUTE, D("60200"), D("60200"), 1),
        (_M0 + 3 * MINUTE, D("60300"), D("60300"), 1),
    ]
    assert engine.tapes[SYMBOL].price_before(_M0 + 2 * MINUTE) == D("60100")


# -- over HTTP --------------------------------------------------------------------------------


async def _get(http: aiohttp.ClientSession, url: str, headers: dict[str, str] = GATEWAY_HEADERS) -> tuple[int, Any]:
    async with http.get(url, headers=headers) as resp:
        return resp.status, await resp.json()


async def _post(http: aiohttp.ClientSession, url: str, body: str, customer: str = "c1") -> tuple[int, Any]:
    headers = {**customer_headers(customer), "Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(url, data=body.encode(), headers=headers) as resp:
        return resp.status, await resp.json()


@pytest.mark.asyncio
async def test_public_history_agrees_with_the_matching_engine(http: aiohttp.ClientSession, base_url: str) -> None:
    # A market buy large enough to sweep several of the market maker's levels.
    status, order = await _post(http, f"{base_url}/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1.2")
    assert status == 200 and len({f["price"] for f in order["fills"]}) > 1
    _, mine = await _get(http, f"{base_url}/api/v3/myTrades?symbol=BTCUSDT", customer_headers("c1"))
    _, public = await _get(http, f"{base_url}/api/v3/trades?symbol=BTCUSDT")
    assert [(t["id"], t["price"], t["qty"], t["time"]) for t in public] == [
        (t["id"], t["price"], t["qty"], t["time"]) for t in mine
    ]
    assert all(t["isBuyerMaker"] is False for t in public)  # the customer took as buyer

    _, aggs = await _get(http, f"{base_url}/api/v3/aggTrades?symbol=BTCUSDT")
    assert [a["p"] for a in aggs] == sorted({t["price"] for t in public})  # one per price
    assert sum(D(a["q"]) for a in aggs) == D("1.2")
    _, candles = await _get(http, f"{base_url}/api/v3/klines?symbol=BTCUSDT&interval=1d")
    volume = sum((D(t["qty"]) for t in public), D(0))
    assert sum(D(c[5]) for c in candles) == volume and sum(c[8] for c in candles) == len(public)
    _, avg = await _get(http, f"{base_url}/api/v3/avgPrice?symbol=BTCUSDT")
    vwap = sum((D(t["quoteQty"]) for t in public), D(0)) / volume
    assert avg["mins"] == 5 and D(avg["price"]) == vwap.quantize(D("0.00000001"))

    second = public[1]["id"]
    _, older = await _get(http, f"{base_url}/api/v3/historicalTrades?symbol=BTCUSDT&fromId={second}&limit=1")
    assert [t["id"] for t in older] == [second]
    _, limited = await _get(http, f"{base_url}/api/v3/trades?symbol=BTCUSDT&limit=1")
    assert limited == public[-1:]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param("/api/v3/klines?interval=1m", -1102, id="klines-no-symbol"),
        pytest.param("/api/v3/klines?symbol=NOPE&interval=1m", -1121, id="klines-unknown-symbol"),
        pytest.param("/api/v3/klines?symbol=BTCUSDT", -1102, id="klines-no-interval"),
        pytest.param("/api/v3/klines?symbol=BTCUSDT&interval=1H", -1120, id="klines-interval-case"),
        pytest.param("/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=ten", -1100, id="klines-limit-text"),
        pytest.param("/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=-5", -1100, id="klines-negative-start"),
        pytest.param("/api/v3/klines?symbol=BTCUSDT&interval=1m&endTime=1e12", -1100, id="klines-exponent"),
        pytest.param("/api/v3/klines?symbol=BTCUSDT&interval=1m&timeZone=8", -1130, id="klines-time-zone"),
        pytest.param("/api/v3/trades?symbol=BTCUSDT&limit=%D9%A1", -1100, id="trades-arabic-digit"),
        pytest.param("/api/v3/aggTrades?symbol=BTCUSDT&fromId=1&startTime=0", -1128, id="agg-from-id-and-time"),
        pytest.param("/api/v3/aggTrades?symbol=BTCUSDT&startTime=0&endTime=3600001", -1127, id="agg-over-an-hour"),
        pytest.param("/api/v3/historicalTrades?symbol=BTCUSDT&fromId=x", -1100, id="historical-from-id"),
        pytest.param("/api/v3/avgPrice", -1102, id="avg-no-symbol"),
    ],
)
async def test_market_history_parameters_are_refused_as_binance_does(
    http: aiohttp.ClientSession, base_url: str, query: str, code: int
) -> None:
    status, body = await _get(http, base_url + query)
    assert (status, body["code"]) == (400, code), body


@pytest.mark.asyncio
async def test_agg_trades_window_of_exactly_one_hour_is_served(http: aiohttp.ClientSession, base_url: str) -> None:
    # ccxt's fetch_trades(since=…) asks for [since, since + 1 h].
    status, body = await _get(http, f"{base_url}/api/v3/aggTrades?symbol=BTCUSDT&startTime=0&endTime=3600000")
    assert (status, body) == (200, [])


@pytest.mark.asyncio
async def test_order_test_validates_and_places_nothing(http: aiohttp.ClientSession, base_url: str) -> None:
    before = (await _get(http, f"{base_url}/api/v3/account", customer_headers("c1")))[1]["balances"]
    _, depth_before = await _get(http, f"{base_url}/api/v3/depth?symbol=BTCUSDT")
    for body in ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.5",
                 "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=70000"):  # fmt: skip
        assert await _post(http, f"{base_url}/api/v3/order/test", body) == (200, {})
    status, rates = await _post(
        http, f"{base_url}/api/v3/order/test", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.5&computeCommissionRates=true"
    )
    assert status == 200 and set(rates) == {
        "standardCommissionForOrder", "specialCommissionForOrder", "taxCommissionForOrder", "discount"
    }  # fmt: skip
    assert rates["standardCommissionForOrder"] == {"maker": "0.00000000", "taker": "0.00000000"}
    # Refused as the order itself would be.
    status, body = await _post(http, f"{base_url}/api/v3/order/test", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.001")
    assert (status, body) == (400, {"code": -1013, "msg": "Filter failure: PRICE_FILTER"})
    status, body = await _post(http, f"{base_url}/api/v3/order/test", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&computeCommissionRates=yes")
    assert (status, body["code"]) == (400, -1100)

    assert (await _get(http, f"{base_url}/api/v3/account", customer_headers("c1")))[1]["balances"] == before
    assert (await _get(http, f"{base_url}/api/v3/openOrders", customer_headers("c1")))[1] == []
    assert (await _get(http, f"{base_url}/api/v3/trades?symbol=BTCUSDT"))[1] == []
    _, depth_after = await _get(http, f"{base_url}/api/v3/depth?symbol=BTCUSDT")
    assert (depth_after["bids"], depth_after["asks"]) == (depth_before["bids"], depth_before["asks"])


@pytest.mark.asyncio
async def test_trade_fee_is_an_account_read_of_zero_commission(http: aiohttp.ClientSession, base_url: str) -> None:
    status, every = await _get(http, f"{base_url}/sapi/v1/asset/tradeFee", customer_headers("c1"))
    assert status == 200 and [f["symbol"] for f in every] == [s.symbol for s in SYMBOLS]
    status, one = await _get(http, f"{base_url}/sapi/v1/asset/tradeFee?symbol=ETHUSDT", customer_headers("c1"))
    assert (status, one) == (200, [{"symbol": "ETHUSDT", "makerCommission": "0.00000000", "takerCommission": "0.00000000"}])
    assert (await _get(http, f"{base_url}/sapi/v1/asset/tradeFee?symbol=NOPE", customer_headers("c1")))[1]["code"] == -1121
    status, _ = await _get(http, f"{base_url}/sapi/v1/asset/tradeFee")  # no customer
    assert status == 401
