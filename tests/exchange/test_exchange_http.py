"""The HTTP contract: gateway-only trust, the error shape, the request log, wallet rules."""

from __future__ import annotations

import re
from decimal import Decimal as D
from typing import Any

import aiohttp
import pytest

from exchange.catalog import ADDRESS_REGEX, ASSETS
from exchange.request_log import RequestLog
from tests.exchange.exchange_testkit import GATEWAY_HEADERS, customer_headers


async def _json(resp: aiohttp.ClientResponse) -> Any:
    assert resp.content_type == "application/json"
    return await resp.json()


async def _get(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with http.get(url, headers=headers) as resp:
        return resp.status, await _json(resp)


async def _post_form(
    http: aiohttp.ClientSession, url: str, body: str, headers: dict[str, str]
) -> tuple[int, Any]:
    hdrs = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(url, data=body.encode(), headers=hdrs) as resp:
        return resp.status, await _json(resp)


async def _requests_since(http: aiohttp.ClientSession, base_url: str, since: int) -> Any:
    return (await _get(http, f"{base_url}/ops/requests?since={since}", GATEWAY_HEADERS))[1]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"X-Gateway-Token": "wrong"}, id="wrong-token"),
        pytest.param({"X-Gateway-Token": ""}, id="empty-token"),
        pytest.param({"X-Gateway-Token": "test-service-token-and-more"}, id="token-prefix"),
    ],
)
async def test_bad_token_is_refused_and_not_logged(
    http: aiohttp.ClientSession, base_url: str, headers: dict[str, str]
) -> None:
    for path in ("/api/v3/ping", "/api/v3/account", "/sapi/v1/capital/withdraw/apply", "/ops/stats"):
        async with http.get(base_url + path, headers={**headers, "X-Customer-Id": "c1"}) as resp:
            assert resp.status == 401
            assert await _json(resp) == {
                "code": -2015,
                "msg": "Invalid API-key, IP, or permissions for action.",
            }
    log = await _requests_since(http, base_url, 0)
    assert log == {"total": 0, "requests": []}
    _, stats = await _get(http, f"{base_url}/ops/stats", GATEWAY_HEADERS)
    assert stats["requests_rejected_token"] == 4


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v3/account"),
        ("POST", "/api/v3/order"),
        ("GET", "/api/v3/openOrders"),
        ("GET", "/api/v3/myTrades"),
        ("GET", "/sapi/v1/capital/config/getall"),
        ("POST", "/sapi/v1/capital/withdraw/apply"),
        ("GET", "/sapi/v1/capital/deposit/address"),
    ],
)
async def test_private_endpoint_needs_customer(
    http: aiohttp.ClientSession, base_url: str, method: str, path: str
) -> None:
    async with http.request(method, base_url + path, headers=GATEWAY_HEADERS) as resp:
        assert resp.status == 401
        body = await _json(resp)
    assert body["code"] == -2015
    assert "X-Customer-Id" in body["msg"]


@pytest.mark.asyncio
async def test_market_maker_account_cannot_be_used(http: aiohttp.ClientSession, base_url: str) -> None:
    status, body = await _get(http, f"{base_url}/api/v3/account", customer_headers("__market_maker__"))
    assert (status, body["code"]) == (401, -2015)


@pytest.mark.asyncio
async def test_request_log_is_monotonic_and_skips_ops(http: aiohttp.ClientSession, base_url: str) -> None:
    await _get(http, f"{base_url}/api/v3/ping", GATEWAY_HEADERS)
    await _get(http, f"{base_url}/api/v3/account", customer_headers("cust-log"))
    await _get(http, f"{base_url}/api/v3/depth?symbol=NOPE", GATEWAY_HEADERS)
    log = await _requests_since(http, base_url, 0)
    assert log["total"] == 3
    rows = [(r["seq"], r["method"], r["path"], r["customer_id"], r["status"]) for r in log["requests"]]
    assert rows == [
        (1, "GET", "/api/v3/ping", None, 200),
        (2, "GET", "/api/v3/account", "cust-log", 200),
        (3, "GET", "/api/v3/depth", None, 400),
    ]
    assert (await _requests_since(http, base_url, 2))["requests"][0]["seq"] == 3
    assert (await _requests_since(http, base_url, 3))["requests"] == []


def test_request_log_ring_buffer_keeps_count_monotonic() -> None:
    log = RequestLog(2)
    for i in range(5):
        log.record("GET", f"/p{i}", None, 200, 0)
    assert log.total == 5 and len(log) == 2
    assert [e.seq for e in log.since(0, 100)] == [4, 5]
    assert [e.seq for e in log.since(4, 100)] == [5]
    assert [e.seq for e in log.since(0, 1)] == [4]


@pytest.mark.asyncio
async def test_unknown_route_answers_json(http: aiohttp.ClientSession, base_url: str) -> None:
    status, body = await _get(http, f"{base_url}/api/v3/nope", GATEWAY_HEADERS)
    assert status == 404 and set(body) == {"code", "msg"}


@pytest.mark.asyncio
async def test_exchange_info_lists_catalogue(http: aiohttp.ClientSession, base_url: str) -> None:
    _, info = await _get(http, f"{base_url}/api/v3/exchangeInfo", GATEWAY_HEADERS)
    symbols = {s["symbol"]: s for s in info["symbols"]}
    assert set(symbols) == {
        "BTCUSDT", "ETHUSDT", "XRPUSDT", "ETHBTC", "XMRUSDT", "USDCUSDT", "STKNUSDT", "ICOTUSDT", "BTCKRW",
    }  # fmt: skip
    btc = symbols["BTCUSDT"]
    assert btc["status"] == "TRADING" and {"LIMIT", "MARKET"} <= set(btc["orderTypes"])
    assert {f["filterType"] for f in btc["filters"]} >= {"PRICE_FILTER", "LOT_SIZE", "NOTIONAL"}


@pytest.mark.asyncio
async def test_form_body_merges_query_and_keeps_raw_values(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    headers = customer_headers("cust-raw")
    addr = "bc1qxy2kgdygjrqtzq2n0yrf2493p83kkfjhx0wlh"
    status, body = await _post_form(
        http,
        f"{base_url}/sapi/v1/capital/withdraw/apply?coin=BTC",
        f"timestamp=1&address={addr}&amount=0.01&name=my wallet&recvWindow=10000&signature=ab",
        headers,
    )
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", body["id"])
    _, history = await _get(http, f"{base_url}/sapi/v1/capital/withdraw/history", headers)
    assert [(w["id"], w["address"], w["amount"]) for w in history] == [(body["id"], addr, "0.01000000")]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param("coin=DOGE&address=x&amount=1", -4018, id="unknown-coin"),
        pytest.param("coin=USDT&network=SOL&address=x&amount=10", -4019, id="unknown-network"),
        pytest.param("coin=BTC&address=not-an-address&amount=0.01", -4007, id="bad-address"),
        pytest.param(
            "coin=XRP&address=rPEPPER7kfTD9w2To4CQk6UCfuHM9c6GDY&amount=25", -4008, id="xrp-needs-tag"
        ),
        pytest.param(
            "coin=BTC&address=bc1qxy2kgdygjrqtzq2n0yrf2493p83kkfjhx0wlh&amount=0.0001", -4022, id="below-min"
        ),
        pytest.param(
            "coin=BTC&address=bc1qxy2kgdygjrqtzq2n0yrf2493p83kkfjhx0wlh&amount=3", -4026, id="insufficient"
        ),
        pytest.param(
            "coin=BTC&address=bc1qxy2kgdygjrqtzq2n0yrf2493p83kkfjhx0wlh", -1102, id="missing-amount"
        ),
        pytest.param(
            "coin=BTC&address=bc1qxy2kgdygjrqtzq2n0yrf2493p83kkfjhx0wlh&amount=-1",
            -1100,
            id="negative-amount",
        ),
        pytest.param(
            "coin=USDT&network=TRX&address=TJRabPrwbZy45sbavfcjinPJC18kjpRTv8&amount=10.0000001",
            -4021,
            id="off-multiple",
        ),
    ],
)
async def test_withdraw_rejections_leave_balance_alone(
    http: aiohttp.ClientSession, base_url: str, body: str, code: int
) -> None:
    headers = customer_headers("cust-wd")
    status, answer = await _post_form(http, f"{base_url}/sapi/v1/capital/withdraw/apply", body, headers)
    assert (status, answer["code"]) == (400, code)
    _, account = await _get(http, f"{base_url}/api/v3/account", headers)
    assert {b["asset"]: b["free"] for b in account["balances"]}["BTC"] == "2.00000000"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fee_flag", "debited", "sent"),
    [
        pytest.param("", "0.01020000", "0.01000000", id="fee-added-on-top"),
        pytest.param("&transactionFeeFlag=true", "0.01000000", "0.00980000", id="fee-from-amount"),
    ],
)
async def test_withdraw_fee(
    http: aiohttp.ClientSession, base_url: str, fee_flag: str, debited: str, sent: str
) -> None:
    headers = customer_headers("cust-fee")
    addr = "bc1qxy2kgdygjrqtzq2n0yrf2493p83kkfjhx0wlh"
    status, _ = await _post_form(
        http,
        f"{base_url}/sapi/v1/capital/withdraw/apply",
        f"coin=BTC&address={addr}&amount=0.01{fee_flag}",
        headers,
    )
    assert status == 200
    _, account = await _get(http, f"{base_url}/api/v3/account", headers)
    free = D({b["asset"]: b["free"] for b in account["balances"]}["BTC"])
    assert D(2) - free == D(debited)
    _, (record,) = await _get(http, f"{base_url}/sapi/v1/capital/withdraw/history", headers)
    assert (record["amount"], record["transactionFee"], record["status"]) == (sent, "0.00020000", 6)


@pytest.mark.asyncio
async def test_deposit_addresses_are_deterministic_and_plausible(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    for asset in ASSETS:
        for net in asset.networks:
            url = f"{base_url}/sapi/v1/capital/deposit/address?coin={asset.coin}&network={net.network}"
            _, first = await _get(http, url, customer_headers("cust-a"))
            _, again = await _get(http, url, customer_headers("cust-a"))
            _, other = await _get(http, url, customer_headers("cust-b"))
            assert first == again
            assert re.match(ADDRESS_REGEX[net.kind], first["address"]), (asset.coin, net.network)
            assert (first["address"], first["tag"]) != (other["address"], other["tag"])
            assert first["coin"] == asset.coin
            if net.tag_required:
                assert first["tag"] and first["address"] == other["address"]
    _, btc = await _get(
        http, f"{base_url}/sapi/v1/capital/deposit/address?coin=BTC", customer_headers("cust-a")
    )
    assert btc["address"].startswith("bc1q") and btc["tag"] == ""


KRW_ACCOUNT = "110-123-456789"


@pytest.mark.asyncio
async def test_krw_is_fiat_on_the_bank_network(http: aiohttp.ClientSession, base_url: str) -> None:
    _, config = await _get(http, f"{base_url}/sapi/v1/capital/config/getall", customer_headers("cust-krw"))
    krw = {c["coin"]: c for c in config}["KRW"]
    assert (krw["isLegalMoney"], krw["free"]) == (True, "10000000.00000000")
    (bank,) = krw["networkList"]
    assert (bank["network"], bank["isDefault"], bank["withdrawFee"], bank["withdrawMin"]) == (
        "BANK", True, "1000", "5000",
    )  # fmt: skip
    assert re.match(bank["addressRegex"], KRW_ACCOUNT) and not re.match(
        bank["addressRegex"], "bc1qxy2kgdygjrqtzq2n0yrf2493p83kkfjhx0wlh"
    )
    _, info = await _get(http, f"{base_url}/api/v3/exchangeInfo?symbol=BTCKRW", GATEWAY_HEADERS)
    (btc_krw,) = info["symbols"]
    assert (btc_krw["baseAsset"], btc_krw["quoteAsset"]) == ("BTC", "KRW")
    _, ticker = await _get(http, f"{base_url}/api/v3/ticker/24hr?symbol=BTCKRW", GATEWAY_HEADERS)
    assert D(ticker["bidPrice"]) < D("84000000") < D(ticker["askPrice"])


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "status", "debited"),
    [
        pytest.param(f"coin=KRW&address={KRW_ACCOUNT}&amount=50000", 200, "51000", id="to-bank-account"),
        pytest.param("coin=KRW&network=BANK&address=11012345678901&amount=5000", 200, "6000", id="no-hyphens"),
        pytest.param(f"coin=KRW&address={KRW_ACCOUNT}&amount=4999", -4022, "0", id="below-min"),
        pytest.param(f"coin=KRW&address={KRW_ACCOUNT}&amount=5000.5", -4021, "0", id="fraction-of-a-won"),
        pytest.param("coin=KRW&address=bc1qxy2kgdygjrqtzq2n0yrf2493p83kkfjhx0wlh&amount=5000", -4007, "0",
                     id="crypto-address"),
    ],
)  # fmt: skip
async def test_krw_withdrawal_goes_to_a_bank_account(
    http: aiohttp.ClientSession, base_url: str, body: str, status: int, debited: str
) -> None:
    headers = customer_headers("cust-krw-wd")
    code, answer = await _post_form(http, f"{base_url}/sapi/v1/capital/withdraw/apply", body, headers)
    assert code == 200 if status == 200 else (code, answer["code"]) == (400, status)
    _, account = await _get(http, f"{base_url}/api/v3/account", headers)
    free = D({b["asset"]: b["free"] for b in account["balances"]}["KRW"])
    assert D(10_000_000) - free == D(debited)


@pytest.mark.asyncio
async def test_krw_deposit_credits_the_virtual_account(http: aiohttp.ClientSession, base_url: str) -> None:
    headers = customer_headers("cust-krw-dep")
    _, address = await _get(http, f"{base_url}/sapi/v1/capital/deposit/address?coin=KRW", headers)
    assert re.fullmatch(r"[0-9]{3}-[0-9]{6}-[0-9]{5}", address["address"]) and address["tag"] == ""
    payload = {
        "customer_id": "cust-krw-dep",
        "coin": "KRW",
        "amount": "300000",
        "source_address": KRW_ACCOUNT,
    }
    async with http.post(f"{base_url}/ops/deposits", json=payload, headers=GATEWAY_HEADERS) as resp:
        assert resp.status == 200
        record = await _json(resp)
    assert (record["network"], record["address"], record["balance"]) == (
        "BANK",
        address["address"],
        "10300000.00000000",
    )


@pytest.mark.asyncio
async def test_ops_deposit_credits_and_shows_in_history(http: aiohttp.ClientSession, base_url: str) -> None:
    payload = {
        "customer_id": "cust-dep",
        "coin": "USDT",
        "amount": "250.5",
        "network": "TRX",
        "source_address": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
        "tx_id": "feedbeef",
    }
    async with http.post(f"{base_url}/ops/deposits", json=payload, headers=GATEWAY_HEADERS) as resp:
        assert resp.status == 200
        record = await _json(resp)
    assert (record["customer_id"], record["coin"], record["amount"], record["network"]) == (
        "cust-dep",
        "USDT",
        "250.50000000",
        "TRX",
    )
    assert (record["txId"], record["sourceAddress"], record["status"]) == (
        "feedbeef",
        "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
        1,
    )
    assert record["balance"] == "100250.50000000"
    _, history = await _get(
        http, f"{base_url}/sapi/v1/capital/deposit/hisrec?coin=USDT", customer_headers("cust-dep")
    )
    assert [d["id"] for d in history] == [record["id"]]
    _, view = await _get(http, f"{base_url}/ops/accounts/cust-dep", GATEWAY_HEADERS)
    assert view["balances"]["USDT"]["free"] == "100250.50000000"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"coin": "BTC", "amount": "1"}, id="no-customer"),
        pytest.param({"customer_id": "c", "coin": "BTC", "amount": "0"}, id="zero-amount"),
        pytest.param({"customer_id": "c", "coin": "BTC", "amount": "x"}, id="bad-amount"),
        pytest.param({"customer_id": "c", "coin": "BTC", "amount": "1", "extra": 1}, id="extra-field"),
        pytest.param({"customer_id": "c", "coin": "DOGE", "amount": "1"}, id="unknown-coin"),
        pytest.param(
            {"customer_id": "c", "coin": "BTC", "amount": "1", "network": "TRX"}, id="wrong-network"
        ),
    ],
)
async def test_ops_deposit_rejects_bad_bodies(
    http: aiohttp.ClientSession, base_url: str, payload: dict[str, object]
) -> None:
    async with http.post(f"{base_url}/ops/deposits", json=payload, headers=GATEWAY_HEADERS) as resp:
        assert resp.status == 400
        assert set(await _json(resp)) == {"code", "msg"}
