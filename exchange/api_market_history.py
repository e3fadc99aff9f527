"""Public market history (`/api/v3`): trades, aggregate trades, candles, average price.

All four are read from the engine's trade tape (exchange/tape.py), so a trade a customer
just made through the matching engine shows in each of them at once, with the same id,
price and time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from aiohttp import web

from exchange import errors, params, serialize
from exchange.edge import json_response, state_of
from exchange.klines import INTERVALS, klines
from exchange.orders import ZERO
from exchange.tape import AggTrade

TRADES_DEFAULT: Final = 500
KLINES_DEFAULT: Final = 500
# Binance refuses an aggTrades window longer than an hour (ccxt asks for exactly one).
AGG_TRADES_MAX_HOURS: Final = 1
_HOUR_MS: Final = 3_600_000
# The window of /api/v3/avgPrice, the same as exchangeInfo's NOTIONAL filter `avgPriceMins`.
AVG_PRICE_MINUTES: Final = 5
_UTC: Final = frozenset({"0", "+0", "-0", "0:00", "+0:00", "00:00", "+00:00"})


async def recent_trades(request: web.Request) -> web.Response:
    spec = params.symbol_param(request.query)
    limit = params.limit_param(request.query, TRADES_DEFAULT)
    tape = state_of(request).engine.tapes[spec.symbol]
    return json_response([serialize.public_trade(t) for t in tape.recent(limit)])


async def historical_trades(request: web.Request) -> web.Response:
    spec = params.symbol_param(request.query)
    limit = params.limit_param(request.query, TRADES_DEFAULT)
    from_id = params.int_param(request.query, "fromId")
    tape = state_of(request).engine.tapes[spec.symbol]
    rows = tape.recent(limit) if from_id is None else tape.from_id(from_id, limit)
    return json_response([serialize.public_trade(t) for t in rows])


def _time_window(query: params.Params) -> tuple[int | None, int | None]:
    return params.int_param(query, "startTime"), params.int_param(query, "endTime")


async def agg_trades(request: web.Request) -> web.Response:
    query = request.query
    spec = params.symbol_param(query)
    from_id = params.int_param(query, "fromId")
    start, end = _time_window(query)
    limit = params.limit_param(query, TRADES_DEFAULT)
    if from_id is not None and (start is not None or end is not None):
        raise errors.bad_combination()
    if start is not None and end is not None and end - start > AGG_TRADES_MAX_HOURS * _HOUR_MS:
        raise errors.time_range_too_long(AGG_TRADES_MAX_HOURS)
    rows = state_of(request).engine.tapes[spec.symbol].aggregated()
    return json_response([serialize.agg_trade(a) for a in _agg_page(rows, from_id, start, end, limit)])


def _agg_page(
    rows: list[AggTrade], from_id: int | None, start: int | None, end: int | None, limit: int
) -> list[AggTrade]:
    """From an id or a start time: the first `limit` from there; otherwise the newest."""
    if from_id is not None:
        return [a for a in rows if a.agg_id >= from_id][:limit]
    inside = [
        a for a in rows
        if (start is None or a.time_ms >= start) and (end is None or a.time_ms <= end)
    ]  # fmt: skip
    return inside[:limit] if start is not None else inside[-limit:]


async def candles(request: web.Request) -> web.Response:
    query = request.query
    spec = params.symbol_param(query)
    interval = params.required(query, "interval")
    if interval not in INTERVALS:
        raise errors.invalid_interval()
    zone = params.optional(query, "timeZone")
    if zone is not None and zone not in _UTC:
        # Candles are drawn in UTC only; another zone would silently shift every one.
        raise errors.invalid_parameter("timeZone")
    start, end = _time_window(query)
    limit = params.limit_param(query, KLINES_DEFAULT)
    engine = state_of(request).engine
    rows = klines(engine.tapes[spec.symbol], interval, start=start, end=end, limit=limit, now=engine.clock())
    return json_response([serialize.kline(c) for c in rows])


async def average_price(request: web.Request) -> web.Response:
    spec = params.symbol_param(request.query)
    engine = state_of(request).engine
    tape = engine.tapes[spec.symbol]
    since = engine.clock() - AVG_PRICE_MINUTES * 60_000
    recent = [t for t in tape if t.time_ms >= since]
    volume = sum((t.qty for t in recent), ZERO)
    price: Decimal
    if volume > ZERO:
        price = sum((t.quote_qty for t in recent), ZERO) / volume
    else:
        price = engine.stats[spec.symbol].last_price  # no trades in the window: the last price
    last = tape.recent(1)
    close_ms = last[0].time_ms if last else tape.opened_ms
    return json_response({"mins": AVG_PRICE_MINUTES, "price": serialize.fmt(price), "closeTime": close_ms})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v3/trades", recent_trades),
        web.get("/api/v3/historicalTrades", historical_trades),
        web.get("/api/v3/aggTrades", agg_trades),
        web.get("/api/v3/klines", candles),
        web.get("/api/v3/avgPrice", average_price),
    ]
