"""Public market data (`/api/v3`) and the stubs ccxt's load_markets may call."""

from __future__ import annotations

from typing import Final

import orjson
from aiohttp import web

from exchange import errors, params, serialize
from exchange.catalog import SYMBOLS, SYMBOLS_BY_ID, SymbolSpec
from exchange.edge import json_response, state_of
from exchange.orders import ZERO

DEPTH_DEFAULT: Final = 100
DEPTH_MAX: Final = 5000
_SYMBOL_INFO: Final = {spec.symbol: serialize.symbol_info(spec) for spec in SYMBOLS}


def _symbols_param(request: web.Request) -> list[SymbolSpec] | None:
    """`symbol=X` or `symbols=["X","Y"]` (Binance's JSON-array form); None means all."""
    query = request.query
    if query.get("symbol"):
        return [params.symbol_param(query)]
    raw = query.get("symbols")
    if not raw:
        return None
    try:
        names = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.illegal_chars("symbols", '["SYMBOL", ...]') from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise errors.illegal_chars("symbols", '["SYMBOL", ...]')
    specs = [SYMBOLS_BY_ID.get(name) for name in names]
    if any(spec is None for spec in specs):
        raise errors.invalid_symbol()
    return [spec for spec in specs if spec is not None]


async def ping(request: web.Request) -> web.Response:
    return json_response({})


async def server_time(request: web.Request) -> web.Response:
    return json_response({"serverTime": state_of(request).engine.clock()})


async def exchange_info(request: web.Request) -> web.Response:
    specs = _symbols_param(request) or SYMBOLS
    return json_response({
        "timezone": "UTC",
        "serverTime": state_of(request).engine.clock(),
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": [_SYMBOL_INFO[spec.symbol] for spec in specs],
    })


async def ticker_24hr(request: web.Request) -> web.Response:
    engine = state_of(request).engine
    now = engine.clock()
    single = bool(request.query.get("symbol"))
    specs = _symbols_param(request) or SYMBOLS
    rows = [
        serialize.ticker(spec, engine.stats[spec.symbol], engine.books[spec.symbol], now)
        for spec in specs
    ]
    return json_response(rows[0] if single else rows)


async def ticker_price(request: web.Request) -> web.Response:
    engine = state_of(request).engine
    single = bool(request.query.get("symbol"))
    specs = _symbols_param(request) or SYMBOLS
    rows = [
        {"symbol": s.symbol, "price": serialize.fmt(engine.stats[s.symbol].last_price)}
        for s in specs
    ]
    return json_response(rows[0] if single else rows)


async def book_ticker(request: web.Request) -> web.Response:
    engine = state_of(request).engine
    single = bool(request.query.get("symbol"))
    rows = []
    for spec in _symbols_param(request) or SYMBOLS:
        book = engine.books[spec.symbol]
        bid, ask = book.bids.depth(1), book.asks.depth(1)
        zero = (ZERO, ZERO)
        (bp, bq), (ap, aq) = (bid[0] if bid else zero), (ask[0] if ask else zero)
        rows.append({
            "symbol": spec.symbol, "bidPrice": serialize.fmt(bp), "bidQty": serialize.fmt(bq),
            "askPrice": serialize.fmt(ap), "askQty": serialize.fmt(aq),
        })
    return json_response(rows[0] if single else rows)


async def depth(request: web.Request) -> web.Response:
    engine = state_of(request).engine
    spec = params.symbol_param(request.query)
    limit = params.limit_param(request.query, DEPTH_DEFAULT, DEPTH_MAX)
    book = engine.books[spec.symbol]
    fmt = serialize.fmt
    return json_response({
        "lastUpdateId": engine.sequence,
        "bids": [[fmt(p), fmt(q)] for p, q in book.bids.depth(limit)],
        "asks": [[fmt(p), fmt(q)] for p, q in book.asks.depth(limit)],
    })


async def empty_list(request: web.Request) -> web.Response:
    return json_response([])


async def no_symbols(request: web.Request) -> web.Response:
    return json_response({"symbols": []})


async def system_status(request: web.Request) -> web.Response:
    return json_response({"status": 0, "msg": "normal"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v3/ping", ping),
        web.get("/api/v3/time", server_time),
        web.get("/api/v3/exchangeInfo", exchange_info),
        web.get("/api/v3/ticker/24hr", ticker_24hr),
        web.get("/api/v3/ticker/price", ticker_price),
        web.get("/api/v3/ticker/bookTicker", book_ticker),
        web.get("/api/v3/depth", depth),
        web.get("/sapi/v1/system/status", system_status),
        web.get("/sapi/v1/margin/allPairs", empty_list),
        web.get("/sapi/v1/margin/isolated/allPairs", empty_list),
        web.get("/fapi/v1/exchangeInfo", no_symbols),
        web.get("/dapi/v1/exchangeInfo", no_symbols),
    ]
