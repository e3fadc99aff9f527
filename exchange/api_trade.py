"""Private spot trading endpoints (`/api/v3`): account, orders, trades."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from exchange import errors, params, serialize
from exchange.catalog import SYMBOLS
from exchange.edge import customer, json_response, request_params, state_of
from exchange.orders import ZERO, Order

TRADES_DEFAULT: Final = 500
ORDERS_DEFAULT: Final = 500
# The engine charges no commission (Trade.commission is zero), and says so wherever
# Binance publishes rates: the account, the trade fee list and a test order's answer.
COMMISSION_RATE: Final = ZERO
_BOOLEANS: Final = {"true": True, "false": False}


async def account(request: web.Request) -> web.Response:
    acc = customer(request)
    return json_response(serialize.account(acc, state_of(request).engine.clock()))


async def new_order(request: web.Request) -> web.Response:
    args = await request_params(request)
    acc = customer(request)
    engine = state_of(request).engine
    reference = engine.stats[params.symbol_param(args).symbol].last_price
    req = params.order_request(args, reference)
    resp_type = args.get("newOrderRespType", "FULL")
    result = engine.place(acc, req)
    order = result.order
    if resp_type == "ACK":
        return json_response({
            "symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
            "clientOrderId": order.client_order_id, "transactTime": order.updated_ms,
        })
    body = serialize.order_ack(order, result.fills)
    if resp_type == "RESULT":
        del body["fills"]
    return json_response(body)


async def test_order(request: web.Request) -> web.Response:
    """Validated exactly as a new order, then dropped: it never reaches the engine."""
    args = await request_params(request)
    customer(request)
    engine = state_of(request).engine
    params.order_request(args, engine.stats[params.symbol_param(args).symbol].last_price)
    with_rates = params.optional(args, "computeCommissionRates") or "false"
    if with_rates not in _BOOLEANS:
        raise errors.illegal_chars("computeCommissionRates", "true, false")
    return json_response(_commission_rates() if _BOOLEANS[with_rates] else {})


def _commission_rates() -> serialize.Json:
    """The shape Binance documents for `computeCommissionRates=true`."""
    rate = serialize.fmt(COMMISSION_RATE)
    return {
        "standardCommissionForOrder": {"maker": rate, "taker": rate},
        "specialCommissionForOrder": {"maker": rate, "taker": rate},
        "taxCommissionForOrder": {"maker": rate, "taker": rate},
        "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                     "discount": serialize.fmt(ZERO)},
    }  # fmt: skip


async def trade_fee(request: web.Request) -> web.Response:
    customer(request)
    spec = params.optional_symbol(request.query)
    rate = serialize.fmt(COMMISSION_RATE)
    return json_response([
        {"symbol": s.symbol, "makerCommission": rate, "takerCommission": rate}
        for s in SYMBOLS if spec is None or s.symbol == spec.symbol
    ])


def _find(request: web.Request, args: params.Params) -> Order:
    acc = customer(request)
    spec = params.symbol_param(args)
    order_id, client_id = params.order_ref(args)
    order = acc.find_order(order_id, client_id)
    if order is None or order.symbol != spec.symbol:
        raise errors.no_such_order()
    return order


async def query_order(request: web.Request) -> web.Response:
    return json_response(serialize.order(_find(request, request.query)))


async def cancel_order(request: web.Request) -> web.Response:
    args = await request_params(request)
    acc = customer(request)
    spec = params.symbol_param(args)
    order_id, client_id = params.order_ref(args)
    order = state_of(request).engine.cancel(acc, spec.symbol, order_id, client_id)
    return json_response(_canceled(order))


def _canceled(order: Order) -> serialize.Json:
    body = serialize.order(order)
    body["origClientOrderId"] = order.client_order_id
    body["transactTime"] = order.updated_ms
    return body


async def open_orders(request: web.Request) -> web.Response:
    acc = customer(request)
    spec = params.optional_symbol(request.query)
    rows = [
        serialize.order(o) for o in acc.open_orders.values()
        if spec is None or o.symbol == spec.symbol
    ]
    return json_response(rows)


async def cancel_open_orders(request: web.Request) -> web.Response:
    args = await request_params(request)
    acc = customer(request)
    spec = params.symbol_param(args)
    canceled = state_of(request).engine.cancel_all(acc, spec.symbol)
    return json_response([_canceled(o) for o in canceled])


async def all_orders(request: web.Request) -> web.Response:
    acc = customer(request)
    args = request.query
    spec = params.symbol_param(args)
    from_id = params.int_param(args, "orderId") or 0
    limit = params.limit_param(args, ORDERS_DEFAULT)
    rows = [o for o in acc.orders.values() if o.symbol == spec.symbol and o.order_id >= from_id]
    return json_response([serialize.order(o) for o in rows[:limit]])


async def my_trades(request: web.Request) -> web.Response:
    acc = customer(request)
    args = request.query
    spec = params.symbol_param(args)
    order_id = params.int_param(args, "orderId")
    from_id = params.int_param(args, "fromId") or 0
    start = params.int_param(args, "startTime") or 0
    end = params.int_param(args, "endTime")
    limit = params.limit_param(args, TRADES_DEFAULT)
    rows = [
        t for t in acc.trades
        if t.symbol == spec.symbol
        and t.trade_id >= from_id
        and t.time_ms >= start
        and (end is None or t.time_ms <= end)
        and (order_id is None or t.order_id == order_id)
    ]
    # Binance answers the most recent `limit` trades (oldest first) unless paging by fromId.
    rows = rows[:limit] if from_id else rows[-limit:]
    return json_response([serialize.trade(t) for t in rows])


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v3/account", account),
        web.post("/api/v3/order", new_order),
        web.post("/api/v3/order/test", test_order),
        web.get("/api/v3/order", query_order),
        web.delete("/api/v3/order", cancel_order),
        web.get("/api/v3/openOrders", open_orders),
        web.delete("/api/v3/openOrders", cancel_open_orders),
        web.get("/api/v3/allOrders", all_orders),
        web.get("/api/v3/myTrades", my_trades),
        web.get("/sapi/v1/asset/tradeFee", trade_fee),
    ]
