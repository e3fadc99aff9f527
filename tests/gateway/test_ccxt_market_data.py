"""ccxt's market-data calls through the gateway: candles, trades, status, trading fees, and a
test order, against the mock exchange's own trades."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from tests.conftest import Gateway
from tests.support import ccxt_client, new_customer

pytestmark = pytest.mark.asyncio


async def test_ccxt_market_data_through_the_gateway(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    client = ccxt_client(gateway.url, alice)
    try:
        await client.load_markets()
        bought = await client.create_order("BTC/USDT", "market", "buy", 0.01)
        mine = await client.fetch_my_trades("BTC/USDT")

        trades = await client.fetch_trades("BTC/USDT")
        assert trades and sum(t["amount"] for t in trades) == pytest.approx(bought["filled"])
        assert {t["price"] for t in trades} == {t["price"] for t in mine}
        assert all(t["side"] == "buy" for t in trades)  # the taker bought
        since = trades[0]["timestamp"]
        assert await client.fetch_trades("BTC/USDT", since=since) == trades

        candles = await client.fetch_ohlcv("BTC/USDT", "1m", limit=3)
        assert candles and len(candles) <= 3
        assert sum(c[5] for c in candles) == pytest.approx(bought["filled"])
        traded = [c for c in candles if c[5]]
        assert traded[0][2] >= traded[0][3] > 0  # high >= low
        hourly = await client.fetch_ohlcv("BTC/USDT", "1h", since=since - since % 3_600_000)
        assert hourly[0][0] == since - since % 3_600_000

        assert (await client.fetch_status())["status"] == "ok"
        fees = await client.fetch_trading_fees()
        assert fees["BTC/USDT"]["maker"] == 0 and fees["BTC/USDT"]["taker"] == 0
        assert fees.keys() >= {"ETH/USDT", "BTC/KRW"}

        # ccxt's test order: decided as an order, answered by order/test, nothing placed.
        await client.create_order("BTC/USDT", "limit", "buy", 0.001, 20000, {"test": True})
        assert await client.fetch_open_orders("BTC/USDT") == []
    finally:
        await client.close()

    rows = await gateway.pool.fetch(
        "SELECT operation, action_kind, outcome FROM decisions WHERE customer_id = $1 ORDER BY decided_at, id",
        uuid.UUID(alice.id),
    )
    decided = [(r["operation"], r["action_kind"]) for r in rows]
    # Candles, trades and the status are public: not decided. The fee list and the test
    # order are signed: decided once each, the test under its own kind.
    assert ("binance.trade_fee", "account_read") in decided
    assert ("binance.order.test", "order_test") in decided
    assert not any(op.startswith(("binance.klines", "binance.agg_trades", "binance.system")) for op, _ in decided)
    assert {r["outcome"] for r in rows} == {"allow"}
