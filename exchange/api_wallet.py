"""Wallet endpoints (`/sapi/v1/capital`): coin config, deposit address, withdraw, history."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final, Protocol, TypeVar

from aiohttp import web

from exchange import errors, params, serialize
from exchange.catalog import ASSETS
from exchange.edge import customer, json_response, request_params, state_of
from exchange.wallet import WithdrawRequest

HISTORY_DEFAULT: Final = 1000
_TRUE: Final = frozenset({"true", "True", "TRUE", "1"})


class _Movement(Protocol):
    @property
    def coin(self) -> str: ...
    @property
    def status(self) -> int: ...


M = TypeVar("M", bound=_Movement)


async def coin_config(request: web.Request) -> web.Response:
    acc = customer(request)
    return json_response([serialize.coin_config(asset, acc) for asset in ASSETS])


async def deposit_address(request: web.Request) -> web.Response:
    acc = customer(request)
    args = request.query
    coin, address, tag = state_of(request).wallet.address(
        acc, params.required(args, "coin"), params.optional(args, "network")
    )
    return json_response({"coin": coin, "address": address, "tag": tag, "url": ""})


async def withdraw(request: web.Request) -> web.Response:
    args = await request_params(request)
    acc = customer(request)
    amount = params.decimal_param(args, "amount")
    if amount is None:
        raise errors.mandatory("amount")
    req = WithdrawRequest(
        coin=params.required(args, "coin"),
        network=params.optional(args, "network"),
        address=params.required(args, "address"),
        address_tag=params.optional(args, "addressTag"),
        amount=amount,
        fee_from_amount=args.get("transactionFeeFlag", "") in _TRUE,
        withdraw_order_id=params.optional(args, "withdrawOrderId"),
        name=params.optional(args, "name"),
    )
    record = state_of(request).wallet.withdraw(acc, req)
    return json_response({"id": record.withdraw_id})


def _page(rows: Iterable[M], args: params.Params, time_of: Callable[[M], int]) -> Sequence[M]:
    """Binance's history filters: coin, status, startTime/endTime, offset, limit; newest first."""
    coin = params.optional(args, "coin")
    status = params.int_param(args, "status")
    start = params.int_param(args, "startTime") or 0
    end = params.int_param(args, "endTime")
    offset = params.int_param(args, "offset") or 0
    limit = params.limit_param(args, HISTORY_DEFAULT)
    picked = [
        r for r in rows
        if (coin is None or r.coin == coin)
        and (status is None or r.status == status)
        and start <= time_of(r)
        and (end is None or time_of(r) <= end)
    ]
    picked.reverse()
    return picked[offset:offset + limit]


async def withdraw_history(request: web.Request) -> web.Response:
    acc = customer(request)
    args = request.query
    rows = list(acc.withdrawals)
    order_id = params.optional(args, "withdrawOrderId")
    if order_id is not None:
        rows = [w for w in rows if w.withdraw_order_id == order_id]
    id_list = params.optional(args, "idList")
    if id_list is not None:
        wanted = set(id_list.split(","))
        rows = [w for w in rows if w.withdraw_id in wanted]
    return json_response([serialize.withdrawal(w) for w in _page(rows, args, lambda w: w.apply_ms)])


async def deposit_history(request: web.Request) -> web.Response:
    acc = customer(request)
    args = request.query
    rows = list(acc.deposits)
    tx_id = params.optional(args, "txId")
    if tx_id is not None:
        rows = [d for d in rows if d.tx_id == tx_id]
    return json_response([serialize.deposit(d) for d in _page(rows, args, lambda d: d.insert_ms)])


def routes() -> list[web.RouteDef]:
    return [
        web.get("/sapi/v1/capital/config/getall", coin_config),
        web.get("/sapi/v1/capital/deposit/address", deposit_address),
        web.post("/sapi/v1/capital/withdraw/apply", withdraw),
        web.get("/sapi/v1/capital/withdraw/history", withdraw_history),
        web.get("/sapi/v1/capital/deposit/hisrec", deposit_history),
    ]
