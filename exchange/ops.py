"""Operator endpoints under `/ops/` (JSON in and out; gateway token required, no customer).

These are not part of the Binance dialect: tests and demos use them to credit deposits and
to see what the exchange actually received.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from exchange import errors, serialize
from exchange.catalog import ASSETS, SYMBOLS
from exchange.edge import MAX_CUSTOMER_ID_LENGTH, json_response, state_of
from exchange.market_maker import MARKET_MAKER_ID
from exchange.params import int_param, limit_param

REQUESTS_DEFAULT: Final = 1000
REQUESTS_MAX: Final = 10_000


class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: str = Field(min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH)
    coin: str = Field(min_length=1)
    amount: Decimal = Field(gt=0)
    network: str | None = None
    address: str | None = None
    source_address: str | None = None
    tx_id: str | None = None


def _bad_body(msg: str) -> errors.ApiError:
    return errors.ApiError(errors.BAD_REQUEST, errors.CODE_MANDATORY_PARAM, msg)


async def credit_deposit(request: web.Request) -> web.Response:
    try:
        body = DepositIn.model_validate_json(await request.read())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise _bad_body(f"{where}: {first['msg']}") from None
    if body.customer_id == MARKET_MAKER_ID:
        raise _bad_body("customer_id: reserved")
    state = state_of(request)
    account = state.accounts.get_or_create(body.customer_id)
    record = state.wallet.deposit(
        account, body.coin, body.amount, network=body.network, address=body.address,
        source_address=body.source_address, tx_id=body.tx_id,
    )
    out = serialize.deposit(record)
    out["customer_id"] = body.customer_id
    out["balance"] = serialize.fmt(account.free_of(body.coin))
    return json_response(out)


async def list_requests(request: web.Request) -> web.Response:
    log = state_of(request).requests
    since = int_param(request.query, "since") or 0
    limit = limit_param(request.query, REQUESTS_DEFAULT, REQUESTS_MAX)
    rows = log.since(since, limit)
    return json_response({"total": log.total, "requests": [r.as_json() for r in rows]})


async def stats(request: web.Request) -> web.Response:
    state = state_of(request)
    return json_response({
        "requests_total": state.requests.total,
        "requests_retained": len(state.requests),
        "requests_rejected_token": state.requests.rejected,
        "accounts": len(state.accounts),
    })


async def account(request: web.Request) -> web.Response:
    """Read-only view of a customer's balances; does not create the account."""
    customer_id = request.match_info["customer_id"]
    acc = state_of(request).accounts.get(customer_id)
    if acc is None or customer_id == MARKET_MAKER_ID:
        return json_response({"code": -1, "msg": "No such customer."}, 404)
    return json_response({
        "customer_id": customer_id,
        "balances": {
            a: {"free": serialize.fmt(acc.free_of(a)), "locked": serialize.fmt(acc.locked_of(a))}
            for a in acc.assets()
        },
        "open_orders": len(acc.open_orders),
        "deposits": len(acc.deposits),
        "withdrawals": len(acc.withdrawals),
    })


_CATALOG: Final = orjson.dumps({
    "assets": [
        {"coin": a.coin, "name": a.name, "tags": sorted(a.tags),
         "networks": [n.network for n in a.networks]}
        for a in ASSETS
    ],
    "symbols": [{"symbol": s.symbol, "base": s.base, "quote": s.quote} for s in SYMBOLS],
})


async def catalog(request: web.Request) -> web.Response:
    return web.Response(body=_CATALOG, content_type="application/json")


def routes() -> list[web.RouteDef]:
    return [
        web.post("/ops/deposits", credit_deposit),
        web.get("/ops/requests", list_requests),
        web.get("/ops/stats", stats),
        web.get("/ops/accounts/{customer_id}", account),
        web.get("/ops/catalog", catalog),
    ]
