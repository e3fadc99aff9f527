"""End to end: the real ccxt async Binance client against the mock exchange on 127.0.0.1.

ccxt cannot know about the gateway, so the two headers the gateway would add are set
through ccxt's `headers` option, which ccxt merges into every request it sends.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest
import pytest_asyncio

from tests.exchange.exchange_testkit import GATEWAY_HEADERS, SERVICE_TOKEN

BTC_ADDRESS = "bc1qxy2kgdygjrqtzq2n0yrf2493p83kkfjhx0wlh"
XRP_ADDRESS = "rPEPPER7kfTD9w2To4CQk6UCfuHM9c6GDY"

ClientFactory = Callable[..., Any]


def make_client(base_url: str, customer_id: str, *, fetch_currencies: bool) -> Any:
    client = ccxt.binance(
        {
            "apiKey": "k",
            "secret": "s",
            # The exchange is local; ccxt's client-side throttle would only slow the test down.
            "enableRateLimit": False,
            "headers": {"X-Gateway-Token": SERVICE_TOKEN, "X-Customer-Id": customer_id},
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchMargins": False,
                "fetchCurrencies": fetch_currencies,
                "fetchOpenOrders": {"warnWithoutSymbol": False},
            },
        }
    )
    for key, url in list(client.urls["api"].items()):
        client.urls["api"][key] = re.sub(r"^https?://[^/]+", base_url, url)
    return client


@pytest_asyncio.fixture
async def clients(base_url: str) -> AsyncIterator[ClientFactory]:
    made: list[Any] = []

    def factory(customer_id: str, *, fetch_currencies: bool = False) -> Any:
        client = make_client(base_url, customer_id, fetch_currencies=fetch_currencies)
        made.append(client)
        return client

    try:
        yield factory
    finally:
        for client in made:
            await client.close()


def _free(balance: dict[str, Any], asset: str) -> D:
    return D(str(balance[asset]["free"]))


@pytest.mark.asyncio
@pytest.mark.parametrize("fetch_currencies", [False, True], ids=["currencies-off", "currencies-on"])
async def test_trading_round_trip(clients: ClientFactory, fetch_currencies: bool) -> None:
    ex = clients("cust-1", fetch_currencies=fetch_currencies)
    markets = await ex.load_markets()
    assert {"BTC/USDT", "ETH/USDT", "XRP/USDT", "ETH/BTC", "XMR/USDT", "USDC/USDT"} <= set(markets)
    assert markets["BTC/USDT"]["active"] is True
    assert markets["BTC/USDT"]["precision"]["amount"] == 0.00001

    ticker = await ex.fetch_ticker("BTC/USDT")
    assert ticker["last"] == 60000 and ticker["bid"] < 60000 < ticker["ask"]
    book = await ex.fetch_order_book("BTC/USDT", 5)
    assert len(book["bids"]) == 5 and len(book["asks"]) == 5
    best_ask = D(str(book["asks"][0][0]))

    start = await ex.fetch_balance()
    assert _free(start, "USDT") == 100000 and _free(start, "BTC") == 2

    resting = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
    assert resting["status"] == "open" and resting["filled"] == 0
    assert (await ex.fetch_order(resting["id"], "BTC/USDT"))["status"] == "open"
    assert [o["id"] for o in await ex.fetch_open_orders("BTC/USDT")] == [resting["id"]]
    assert [o["id"] for o in await ex.fetch_open_orders()] == [resting["id"]]
    locked = await ex.fetch_balance()
    assert D(str(locked["USDT"]["used"])) == 500
    canceled = await ex.cancel_order(resting["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert (await ex.fetch_order(resting["id"], "BTC/USDT"))["status"] == "canceled"
    assert await ex.fetch_open_orders("BTC/USDT") == []
    assert _free(await ex.fetch_balance(), "USDT") == 100000

    bought = await ex.create_order("BTC/USDT", "market", "buy", 0.01)
    assert bought["status"] == "closed" and bought["filled"] == 0.01
    assert D(str(bought["average"])) == best_ask
    after_buy = await ex.fetch_balance()
    assert _free(after_buy, "BTC") == D("2.01")
    assert _free(after_buy, "USDT") == 100000 - best_ask * D("0.01")

    sold = await ex.create_order("BTC/USDT", "market", "sell", 0.005)
    assert sold["status"] == "closed" and sold["filled"] == 0.005

    by_cost = await ex.create_market_buy_order_with_cost("BTC/USDT", 50)
    assert by_cost["status"] == "closed" and 0 < by_cost["cost"] <= 50

    crossing = await ex.create_order("BTC/USDT", "limit", "sell", 0.001, 59000)
    assert crossing["status"] == "closed"
    assert crossing["average"] > 59000, "a crossing limit fills at the resting bid"

    trades = await ex.fetch_my_trades("BTC/USDT")
    assert {t["order"] for t in trades} == {bought["id"], sold["id"], by_cost["id"], crossing["id"]}
    assert all(t["symbol"] == "BTC/USDT" for t in trades)


@pytest.mark.asyncio
@pytest.mark.parametrize("fetch_currencies", [False, True], ids=["currencies-off", "currencies-on"])
async def test_wallet_round_trip(
    clients: ClientFactory, base_url: str, http: aiohttp.ClientSession, fetch_currencies: bool
) -> None:
    ex = clients("cust-2", fetch_currencies=fetch_currencies)
    await ex.load_markets()
    if fetch_currencies:
        assert ex.currencies["USDT"]["networks"].keys() >= {"TRC20", "ERC20"}

    btc = await ex.fetch_deposit_address("BTC")
    assert btc["address"].startswith("bc1q")
    usdt_trx = await ex.fetch_deposit_address("USDT", {"network": "TRX"})
    assert usdt_trx["address"].startswith("T")
    xrp = await ex.fetch_deposit_address("XRP")
    assert xrp["address"].startswith("r") and xrp["tag"]

    wd = await ex.withdraw("BTC", 0.01, BTC_ADDRESS, {"network": "BTC", "name": "my wallet"})
    assert re.fullmatch(r"[0-9a-f]{32}", wd["id"])
    wd_xrp = await ex.withdraw("XRP", 25, XRP_ADDRESS, {"tag": "12345"})
    withdrawals = await ex.fetch_withdrawals("BTC")
    assert [(w["id"], w["status"], w["address"]) for w in withdrawals] == [(wd["id"], "ok", BTC_ADDRESS)]
    (xrp_row,) = await ex.fetch_withdrawals("XRP")
    assert (xrp_row["id"], xrp_row["tag"]) == (wd_xrp["id"], "12345")

    deposit = {"customer_id": "cust-2", "coin": "ETH", "amount": "1.5", "source_address": "0x" + "ab" * 20}
    async with http.post(f"{base_url}/ops/deposits", json=deposit, headers=GATEWAY_HEADERS) as resp:
        assert resp.status == 200
        credited = await resp.json()
    deposits = await ex.fetch_deposits("ETH")
    assert [(d["id"], d["amount"], d["status"]) for d in deposits] == [(credited["id"], 1.5, "ok")]
    balance = await ex.fetch_balance()
    assert _free(balance, "ETH") == D("21.5")
    assert _free(balance, "BTC") == D("2") - D("0.01") - D("0.0002")


@pytest.mark.asyncio
async def test_krw_rails_round_trip(clients: ClientFactory) -> None:
    ex = clients("cust-krw", fetch_currencies=True)
    markets = await ex.load_markets()
    krw = ex.currencies["KRW"]
    assert (krw["type"], list(krw["networks"])) == ("fiat", ["BANK"])
    assert markets["BTC/KRW"]["precision"]["price"] == 1000

    virtual = await ex.fetch_deposit_address("KRW")
    assert re.fullmatch(r"[0-9]{3}-[0-9]{6}-[0-9]{5}", virtual["address"])
    wd = await ex.withdraw("KRW", 50000.5, "110-123-456789")  # ccxt sends whole won
    (row,) = await ex.fetch_withdrawals("KRW")
    assert (row["id"], row["amount"], row["address"]) == (wd["id"], 50000, "110-123-456789")

    bought = await ex.create_order("BTC/KRW", "market", "buy", 0.001)
    assert bought["status"] == "closed" and bought["average"] > 84_000_000
    balance = await ex.fetch_balance()
    assert _free(balance, "KRW") == 10_000_000 - 50_000 - 1_000 - D(str(bought["cost"]))
    assert _free(balance, "BTC") == D("2.001")


@pytest.mark.asyncio
async def test_errors_map_to_ccxt_exceptions(clients: ClientFactory) -> None:
    ex = clients("cust-3")
    await ex.load_markets()
    with pytest.raises(ccxt.InsufficientFunds):
        await ex.create_order("BTC/USDT", "limit", "buy", 10, 50000)
    with pytest.raises(ccxt.OrderNotFound):
        await ex.fetch_order("999999", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order("999999", "BTC/USDT")
    with pytest.raises(ccxt.InvalidOrder):
        await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "dup"})
        await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "dup"})
    with pytest.raises(ccxt.BadRequest):
        await ex.create_order("BTC/USDT", "limit", "buy", 0.00001, 50000)  # below NOTIONAL


@pytest.mark.asyncio
async def test_wrong_token_is_an_authentication_error(base_url: str) -> None:
    ex = make_client(base_url, "cust-4", fetch_currencies=False)
    ex.headers["X-Gateway-Token"] = "wrong"
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await ex.fetch_balance()
    finally:
        await ex.close()
