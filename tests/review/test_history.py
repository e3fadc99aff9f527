"""Held withdrawals in the client's withdraw history, with Binance's statuses, merged into
the exchange's answer (gateway/binance/withdraw_history.py; the proxy calls it after forwarding)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import aiohttp
import ccxt
import orjson
import pytest

from gateway import appkeys as K
from gateway.binance.withdraw_history import merge_withdraw_history
from gateway.review.keys import derived_key, key_secret
from tests.conftest import Exchange, Gateway
from tests.review.support import make_hold, review
from tests.support import SECRET_KEY, SERVICE_TOKEN, new_customer, signed

pytestmark = pytest.mark.asyncio
HISTORY = "/sapi/v1/capital/withdraw/history"


async def _exchange_history(http: aiohttp.ClientSession, exchange: Exchange, customer_id: str) -> bytes:
    headers = {"X-Gateway-Token": SERVICE_TOKEN, "X-Customer-Id": customer_id}
    async with http.get(f"{exchange.url}/sapi/v1/capital/withdraw/history", headers=headers) as response:
        return await response.read()


async def test_held_withdrawals_appear_with_binance_statuses(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    other = await new_customer(http, gateway.url, "other")
    pending = await make_hold(gateway, alice, amount="0.02", extra=[("withdrawOrderId", "mine-1")])
    rejected = await make_hold(gateway, alice)
    expired = await make_hold(gateway, alice, held_ago=timedelta(hours=2), expires_in=timedelta(hours=1))
    released = await make_hold(gateway, alice)
    await make_hold(gateway, other)  # someone else's: never shown
    assert (await review(http, gateway.url, rejected, "reject"))[0] == 200
    assert (await review(http, gateway.url, released, "approve"))[0] == 200
    await gateway.app[K.REVIEW].sweep()
    customer = uuid.UUID(alice.id)

    merged = orjson.loads(
        await merge_withdraw_history(
            gateway.pool, customer, {}, await _exchange_history(http, exchange, alice.id)
        )
    )
    by_id = {row["id"]: row for row in merged}
    assert set(by_id) == {str(pending), str(rejected), str(expired), str(released)}
    assert {k: by_id[str(k)]["status"] for k in (pending, rejected, expired, released)} == {
        pending: 2, rejected: 3, expired: 1, released: 6,  # released: the exchange's own row
    }  # fmt: skip
    assert by_id[str(pending)]["amount"] == "0.02" and by_id[str(pending)]["withdrawOrderId"] == "mine-1"
    assert by_id[str(released)]["withdrawOrderId"] == derived_key(key_secret(SECRET_KEY), released)
    assert [r["applyTime"] for r in merged] == sorted((r["applyTime"] for r in merged), reverse=True)

    # ccxt reads them as a client would (fetch_withdrawals tags each row as a withdrawal).
    parsed = ccxt.binance().parse_transactions([{**r, "type": "withdrawal"} for r in merged])
    statuses = {t["id"]: t["status"] for t in parsed}
    assert statuses == {
        str(pending): "pending",
        str(rejected): "failed",
        str(expired): "canceled",
        str(released): "ok",
    }

    # The client's filters apply to held rows too.
    upstream = await _exchange_history(http, exchange, alice.id)
    only_waiting = orjson.loads(
        await merge_withdraw_history(gateway.pool, customer, {"status": "2"}, upstream)
    )
    assert [r["id"] for r in only_waiting if r["status"] == 2] == [str(pending)]
    by_order = orjson.loads(
        await merge_withdraw_history(gateway.pool, customer, {"withdrawOrderId": "mine-1"}, b"[]")
    )
    assert [r["id"] for r in by_order] == [str(pending)]
    other_coin = orjson.loads(await merge_withdraw_history(gateway.pool, customer, {"coin": "ETH"}, b"[]"))
    assert other_coin == []
    limited = orjson.loads(await merge_withdraw_history(gateway.pool, customer, {"limit": "2"}, upstream))
    assert len(limited) == 2
    # A limit in another script's digits is no limit, not an error.
    unlimited = orjson.loads(
        await merge_withdraw_history(gateway.pool, customer, {"limit": "\u00b2"}, upstream)
    )
    assert len(unlimited) == 4


async def test_a_released_hold_is_found_by_the_id_the_client_was_given(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    """The exchange filters idList by its own ids; the gateway asks for the exchange's id
    of a forwarded hold and shows the row under the hold's id."""
    alice = await new_customer(http, gateway.url, "alice")
    released, pending = await make_hold(gateway, alice), await make_hold(gateway, alice)
    assert (await review(http, gateway.url, released, "approve"))[0] == 200
    for wanted in ([released], [released, pending], [pending]):
        status, rows, _ = await signed(
            http, gateway.url, "GET", HISTORY, alice, {"idList": ",".join(map(str, wanted))}
        )
        assert status == 200, rows
        assert sorted(r["id"] for r in rows) == sorted(map(str, wanted))


async def test_exchange_errors_pass_unchanged(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    bob = await new_customer(http, gateway.url, "bob")
    await make_hold(gateway, bob)
    for body in (b'{"code":-1022,"msg":"Signature for this request is not valid."}', b"not json"):
        assert await merge_withdraw_history(gateway.pool, uuid.UUID(bob.id), {}, body) == body
