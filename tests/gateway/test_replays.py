"""A signed state-changing call (order, cancel, withdrawal) is accepted once: the same bytes
sent again within their recvWindow are refused `replayed_request` (400, -1021: ccxt's
InvalidNonce), on the record, and never reach the exchange. The check lives in Postgres,
so it holds across replicas and for copies racing each other. A re-signed retry (new
timestamp) is a new call; reads are not checked."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import yarl

from gateway.store.seen_requests import SeenRequestPruner, seen_request
from tests.conftest import Exchange, Gateway
from tests.review.support import ADDRESS, FORM, WITHDRAW_PATH, another_gateway
from tests.support import SERVICE_TOKEN, Customer, new_customer, sign, signed

ORDER_PATH = "/api/v3/order"
RESTING_ORDER = {
    "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
    "quantity": "0.001", "price": "20000",
}  # fmt: skip
WITHDRAWAL = {"coin": "BTC", "address": ADDRESS, "amount": "0.001"}


class Call:
    """One signed call, its bytes fixed once: sending it again sends the same bytes."""

    def __init__(self, kind: str, method: str, path: str, customer: Customer, params: dict[str, Any]) -> None:
        self.kind, self.method, self.path, self.customer = kind, method, path, customer
        self.query = sign(customer.secret, params)

    async def send(self, http: aiohttp.ClientSession, base: str) -> tuple[int, Any]:
        headers = {"X-MBX-APIKEY": self.customer.api_key}
        if self.method == "POST":
            headers["Content-Type"] = FORM
            url, data = yarl.URL(base + self.path, encoded=True), self.query.encode()
        else:
            url, data = yarl.URL(f"{base}{self.path}?{self.query}", encoded=True), None
        async with http.request(self.method, url, headers=headers, data=data) as response:
            return response.status, await response.json(content_type=None)


async def _order(http: aiohttp.ClientSession, base: str, customer: Customer) -> Call:
    return Call("order", "POST", ORDER_PATH, customer, RESTING_ORDER)


async def _cancel(http: aiohttp.ClientSession, base: str, customer: Customer) -> Call:
    status, order, _ = await signed(http, base, "POST", ORDER_PATH, customer, RESTING_ORDER)
    assert status == 200, order
    return Call("cancel", "DELETE", ORDER_PATH, customer, {"symbol": "BTCUSDT", "orderId": order["orderId"]})


async def _withdrawal(http: aiohttp.ClientSession, base: str, customer: Customer) -> Call:
    return Call("withdrawal", "POST", WITHDRAW_PATH, customer, WITHDRAWAL)


MakeCall = Callable[[aiohttp.ClientSession, str, Customer], Awaitable[Call]]
CALLS: list[MakeCall] = [_order, _cancel, _withdrawal]
IDS = ["order", "cancel", "withdrawal"]


async def _exchange_saw(http: aiohttp.ClientSession, exchange: Exchange, call: Call) -> int:
    async with http.get(
        exchange.url + "/ops/requests?since=0", headers={"X-Gateway-Token": SERVICE_TOKEN}
    ) as r:
        log = await r.json()
    return sum(
        1
        for entry in log["requests"]
        if (entry["customer_id"], entry["method"], entry["path"])
        == (call.customer.id, call.method, call.path)
    )


async def _decided(gateway: Gateway, call: Call) -> list[tuple[str, list[str]]]:
    rows = await gateway.pool.fetch(
        """SELECT outcome, reasons FROM decisions
            WHERE customer_id = $1 AND action_kind = $2 ORDER BY decided_at, id""",
        uuid.UUID(call.customer.id),
        call.kind,
    )
    return [(r["outcome"], list(r["reasons"])) for r in rows]


def _replayed(status: int, body: Any) -> bool:
    return (status, body.get("code")) == (400, -1021) and body["msg"].startswith("replayed_request:")


@pytest.mark.asyncio
@pytest.mark.parametrize("make", CALLS, ids=IDS)
async def test_the_same_signed_call_twice_is_refused_the_second_time(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession, make: MakeCall
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    call = await make(http, gateway.url, alice)
    status, body = await call.send(http, gateway.url)
    assert status == 200, body
    status, body = await call.send(http, gateway.url)
    assert _replayed(status, body), body
    assert await _exchange_saw(http, exchange, call) == 1
    assert (await _decided(gateway, call))[-2:] == [("allow", []), ("deny", ["replayed_request"])]


@pytest.mark.asyncio
@pytest.mark.parametrize("make", CALLS, ids=IDS)
async def test_the_same_signed_call_on_another_replica_is_refused(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession, make: MakeCall
) -> None:
    """Two gateway processes on one database: the check is not a replica's memory."""
    alice = await new_customer(http, gateway.url, "alice")
    call = await make(http, gateway.url, alice)
    async with another_gateway(gateway, exchange) as (_, replica):
        status, body = await call.send(http, gateway.url)
        assert status == 200, body
        status, body = await call.send(http, replica)
        assert _replayed(status, body), body
    assert await _exchange_saw(http, exchange, call) == 1
    assert (await _decided(gateway, call))[-2:] == [("allow", []), ("deny", ["replayed_request"])]


@pytest.mark.asyncio
@pytest.mark.parametrize("make", [_order, _withdrawal], ids=["order", "withdrawal"])
async def test_copies_sent_at_once_are_forwarded_once(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession, make: MakeCall
) -> None:
    """Racing copies, in one group-commit batch or queued on one customer's lock: the
    digest's primary key lets exactly one through."""
    alice = await new_customer(http, gateway.url, "alice")
    call = await make(http, gateway.url, alice)
    async with another_gateway(gateway, exchange) as (_, replica):
        answers = await asyncio.gather(*(call.send(http, base) for base in [gateway.url, replica] * 4))
    assert sorted(status for status, _ in answers) == [200] + [400] * 7, answers
    assert all(_replayed(status, body) for status, body in answers if status != 200), answers
    assert await _exchange_saw(http, exchange, call) == 1
    decided = await _decided(gateway, call)
    assert sorted(decided) == [("allow", [])] + [("deny", ["replayed_request"])] * 7


@pytest.mark.asyncio
async def test_a_re_signed_retry_is_a_new_call(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    now = int(time.time() * 1000)
    for timestamp in (now, now + 1):
        status, body, _ = await signed(
            http, gateway.url, "POST", ORDER_PATH, alice, RESTING_ORDER, timestamp=timestamp
        )
        assert status == 200, body


@pytest.mark.asyncio
async def test_reads_are_not_checked(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    read = Call("account_read", "GET", "/api/v3/account", alice, {})
    for _ in range(2):
        status, body = await read.send(http, gateway.url)
        assert status == 200, body
    assert await gateway.pool.fetchval("SELECT count(*) FROM seen_requests") == 0


@pytest.mark.asyncio
async def test_expired_digests_are_pruned_and_only_they(gateway: Gateway) -> None:
    """As the runtime role (the gateway's own pool): the grant allows the delete."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    old = seen_request(
        "k", "POST", ORDER_PATH, "a=1", b"", timestamp_ms=now_ms - 3_600_000, recv_window_ms=5000
    )
    young = seen_request("k", "POST", ORDER_PATH, "a=2", b"", timestamp_ms=now_ms, recv_window_ms=5000)
    assert young.expires_at - datetime.now(UTC) > timedelta(seconds=5)  # the grace for replicas' clocks
    await gateway.pool.execute(
        "INSERT INTO seen_requests SELECT * FROM unnest($1::bytea[], $2::timestamptz[])",
        [old.digest, young.digest],
        [old.expires_at, young.expires_at],
    )
    pruner = SeenRequestPruner(gateway.pool, timeout=10)
    assert await pruner.run_once() >= 1
    left = {r["digest"] for r in await gateway.pool.fetch("SELECT digest FROM seen_requests")}
    assert old.digest not in left and young.digest in left


def test_the_digest_is_of_the_call_exactly_as_sent() -> None:
    base = {"timestamp_ms": 1_700_000_000_000, "recv_window_ms": 5000}
    one = seen_request("key", "POST", ORDER_PATH, "a=1", b"b=2", **base)
    assert seen_request("key", "POST", ORDER_PATH, "a=1", b"b=2", **base) == one
    others = [
        seen_request("other", "POST", ORDER_PATH, "a=1", b"b=2", **base),
        seen_request("key", "DELETE", ORDER_PATH, "a=1", b"b=2", **base),
        seen_request("key", "POST", ORDER_PATH, "a=1b=2", b"", **base),  # parts cannot slide
        seen_request("key", "POST", ORDER_PATH, "a=1", b"b=3", **base),
    ]
    assert all(o.digest != one.digest for o in others)
