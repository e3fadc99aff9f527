"""A real client (ccxt, async) through the gateway to the mock exchange, and the decision
row written for each call."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.conftest import Gateway
from tests.support import Customer, ccxt_client, new_customer

pytestmark = pytest.mark.asyncio


async def _decisions(gateway: Gateway, customer: Customer) -> list[dict[str, Any]]:
    rows = await gateway.pool.fetch(
        """SELECT id::text, operation, action_kind, outcome, symbol, asset, side, order_type,
                  quantity, price, address, reasons, rule_pack_version
             FROM decisions WHERE customer_id = $1 ORDER BY decided_at, id""",
        uuid.UUID(customer.id),
    )
    return [dict(r) for r in rows]


async def test_every_ccxt_call_works_and_is_decided(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    client = ccxt_client(gateway.url, alice)
    try:
        markets = await client.load_markets()
        assert "BTC/USDT" in markets and markets["BTC/USDT"]["active"]

        ticker = await client.fetch_ticker("BTC/USDT")
        assert ticker["last"] is not None and ticker["last"] > 0
        book = await client.fetch_order_book("BTC/USDT")
        assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]

        balance = await client.fetch_balance()
        usdt_before = Decimal(str(balance["USDT"]["free"]))
        btc_before = Decimal(str(balance["BTC"]["free"]))

        # A limit buy far below the market rests on the book.
        resting = await client.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
        assert resting["status"] == "open"
        fetched = await client.fetch_order(resting["id"], "BTC/USDT")
        assert fetched["id"] == resting["id"] and fetched["status"] == "open"
        open_orders = await client.fetch_open_orders("BTC/USDT")
        assert [o["id"] for o in open_orders] == [resting["id"]]
        cancelled = await client.cancel_order(resting["id"], "BTC/USDT")
        assert cancelled["status"] == "canceled"
        assert await client.fetch_open_orders("BTC/USDT") == []

        # Market buy and sell fill against the seeded book and move balances.
        bought = await client.create_order("BTC/USDT", "market", "buy", 0.01)
        assert bought["status"] == "closed" and bought["filled"] == pytest.approx(0.01)
        sold = await client.create_order("BTC/USDT", "market", "sell", 0.005)
        assert sold["status"] == "closed"
        # A limit sell that crosses the book fills at once.
        crossing = await client.create_order("BTC/USDT", "limit", "sell", 0.001, 20000)
        assert crossing["status"] == "closed"
        trades = await client.fetch_my_trades("BTC/USDT")
        assert len(trades) >= 3

        balance = await client.fetch_balance()
        assert Decimal(str(balance["BTC"]["free"])) == btc_before + Decimal("0.01") - Decimal(
            "0.005"
        ) - Decimal("0.001")
        assert Decimal(str(balance["USDT"]["free"])) != usdt_before

        address = await client.fetch_deposit_address("BTC")
        assert address["address"]
        withdrawal = await client.withdraw("BTC", 0.001, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
        assert withdrawal["id"]
    finally:
        await client.close()

    rows = await _decisions(gateway, alice)
    operations = [r["operation"] for r in rows]
    # Public market data is not decided; every signed call is, once, and all were allowed.
    # load_markets is signed only for its currency list.
    assert operations == [
        "binance.capital.config",  # load_markets asks for currencies and networks
        "binance.account",
        "binance.order.create",
        "binance.order.get",
        "binance.orders.open",
        "binance.order.cancel",
        "binance.orders.open",
        "binance.order.create",
        "binance.order.create",
        "binance.order.create",
        "binance.trades.mine",
        "binance.account",
        "binance.deposit.address",
        "binance.withdraw.apply",
    ]
    assert {r["outcome"] for r in rows} == {"allow"}
    first_order = next(r for r in rows if r["operation"] == "binance.order.create")
    assert (first_order["symbol"], first_order["side"], first_order["order_type"]) == (
        "BTCUSDT",
        "buy",
        "LIMIT",
    )
    assert first_order["quantity"] == Decimal("0.001") and first_order["price"] == Decimal("20000")
    withdraw_row = rows[-1]
    assert withdraw_row["action_kind"] == "withdrawal" and withdraw_row["asset"] == "BTC"
    assert withdraw_row["address"] == "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    assert all(r["rule_pack_version"].startswith("sha256:") for r in rows)
    # Every forwarded call has the exchange's answer recorded beside its decision (the
    # last answers ride with a later batch, or go after a short linger: wait, bounded).
    for _ in range(100):
        statuses = await gateway.pool.fetch(
            """SELECT u.http_status FROM upstream_results u
                 JOIN decisions d ON d.id = u.decision_id WHERE d.customer_id = $1""",
            uuid.UUID(alice.id),
        )
        if len(statuses) >= len(rows):
            break
        await asyncio.sleep(0.05)
    assert len(statuses) == len(rows) and {s["http_status"] for s in statuses} == {200}


async def test_market_buy_by_cost_and_decision_header(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    bob = await new_customer(http, gateway.url, "bob")
    client = ccxt_client(gateway.url, bob)
    try:
        await client.load_markets()
        order = await client.create_order("ETH/USDT", "market", "buy", None, None, {"cost": 50})
        assert order["status"] == "closed"
        decision_id = client.last_response_headers["X-Decision-Id"]
    finally:
        await client.close()
    row = await gateway.pool.fetchrow(
        "SELECT operation, notional, notional_asset FROM decisions WHERE id = $1::uuid", decision_id
    )
    assert row["operation"] == "binance.order.create"
    assert (row["notional"], row["notional_asset"]) == (Decimal("50"), "USDT")
