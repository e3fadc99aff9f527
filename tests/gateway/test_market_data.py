"""Market data bots use passes through undecided; order/test is decided and recorded as an
order, forwarded to order/test only, and refused exactly as its order would be."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import yarl

from gateway.feeds.capital import SERVICE_ACCOUNT
from tests.conftest import Exchange, Gateway
from tests.support import SERVICE_TOKEN, Customer, new_customer, signed

pytestmark = pytest.mark.asyncio
EXCHANGE_OPS = {"X-Gateway-Token": SERVICE_TOKEN}
MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}

PUBLIC_READS = [
    "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5",
    "/api/v3/trades?symbol=BTCUSDT&limit=5",
    "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=1",
    "/api/v3/aggTrades?symbol=BTCUSDT&limit=5",
    "/api/v3/avgPrice?symbol=BTCUSDT",
    "/api/v3/ticker/bookTicker?symbol=BTCUSDT",
    "/sapi/v1/system/status",
]


# What the gateway itself asks the exchange for, in the background (market list, prices,
# and, as its own service account, the coin networks).
GATEWAY_REFRESHES = frozenset({"/api/v3/exchangeInfo", "/api/v3/ticker/price"})


async def _exchange_log(http: aiohttp.ClientSession, exchange: Exchange) -> list[tuple[str, str]]:
    """The calls the exchange received on clients' behalf."""
    async with http.get(f"{exchange.url}/ops/requests?since=0", headers=EXCHANGE_OPS) as r:
        entries = (await r.json())["requests"]
    return [
        (e["method"], e["path"])
        for e in entries
        if e["path"] not in GATEWAY_REFRESHES and e["customer_id"] != SERVICE_ACCOUNT
    ]


async def _decision_count(gateway: Gateway) -> int:
    count = await gateway.pool.fetchval("SELECT count(*) FROM decisions")
    assert isinstance(count, int)
    return count


async def _public_reads_counted(http: aiohttp.ClientSession, gateway: Gateway, status: str) -> float:
    async with http.get(gateway.url + "/metrics") as r:
        text = await r.text()
    pattern = rf'^gateway_requests_total\{{route_class="public_read",status="{status}"\}} (\S+)$'
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_each_public_read_passes_through_without_a_decision(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    status, _, _ = await signed(http, gateway.url, "POST", "/api/v3/order", alice, MARKET_BUY)
    assert status == 200  # a trade, so the history has something in it
    decided = await _decision_count(gateway)
    counted = await _public_reads_counted(http, gateway, "200")
    for path in PUBLIC_READS:
        async with http.get(gateway.url + path) as via_gateway:
            assert via_gateway.status == 200, await via_gateway.text()
            body = await via_gateway.json()
        assert body, path
    # Answered as the exchange answers them (the trade history is the same list).
    async with http.get(f"{exchange.url}/api/v3/trades?symbol=BTCUSDT&limit=5", headers=EXCHANGE_OPS) as r:
        direct = await r.json()
    async with http.get(f"{gateway.url}/api/v3/trades?symbol=BTCUSDT&limit=5") as r:
        assert await r.json() == direct and direct
    assert await _decision_count(gateway) == decided
    assert await _public_reads_counted(http, gateway, "200") == counted + len(PUBLIC_READS) + 1
    forwarded = await _exchange_log(http, exchange)
    for path in PUBLIC_READS:
        assert ("GET", path.partition("?")[0]) in forwarded


@pytest.mark.parametrize(
    ("query", "status", "code", "reason"),
    [
        pytest.param("/api/v3/klines?symbol=BTCUSDT&symbol=ETHUSDT&interval=1m", 400, -1101, "duplicate_parameter",
                     id="duplicate-symbol"),
        pytest.param("/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=%D9%A1", 400, -1100, "malformed_parameter",
                     id="limit-arabic-digit"),
        pytest.param("/api/v3/aggTrades?symbol=BTCUSDT&startTime=1e12", 400, -1100, "malformed_parameter",
                     id="start-time-exponent"),
        pytest.param("/api/v3/historicalTrades?symbol=BTCUSDT&fromId=-1", 400, -1100, "malformed_parameter",
                     id="negative-from-id"),
        pytest.param("/api/v3/trades?symbol=BTC%00USDT", 400, -1100, "malformed_parameter", id="control-character"),
        pytest.param("/api/v3/avgPrice?symbol=%FF", 400, -1100, "malformed_encoding", id="not-utf8"),
    ],
)  # fmt: skip
async def test_public_read_parameters_are_held_to_the_gateway_rules(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession, query: str, status: int, code: int, reason: str
) -> None:
    async with http.get(yarl.URL(gateway.url + query, encoded=True)) as r:
        assert r.status == status
        body = await r.json()
    assert body["code"] == code and body["msg"].startswith(f"{reason}: ")
    assert await _exchange_log(http, exchange) == []  # refused here, not forwarded
    assert await _decision_count(gateway) == 0  # no customer: nothing to decide


async def _exchange_account(http: aiohttp.ClientSession, exchange: Exchange, customer: Customer) -> Any:
    async with http.get(f"{exchange.url}/ops/accounts/{customer.id}", headers=EXCHANGE_OPS) as r:
        return r.status, await r.json()


async def _row(gateway: Gateway, decision_id: str) -> dict[str, Any]:
    row = await gateway.pool.fetchrow(
        """SELECT operation, action_kind, outcome, reasons, rule_ids, symbol, side, quantity
             FROM decisions WHERE id = $1""",
        uuid.UUID(decision_id),
    )
    assert row is not None
    return dict(row)


async def test_order_test_is_decided_recorded_and_never_placed(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    status, body, headers = await signed(http, gateway.url, "POST", "/api/v3/order/test", alice, MARKET_BUY)
    assert (status, body) == (200, {})
    row = await _row(gateway, headers["X-Decision-Id"])
    assert (row["operation"], row["action_kind"], row["outcome"]) == ("binance.order.test", "order_test", "allow")
    assert (row["symbol"], row["side"], str(row["quantity"])) == ("BTCUSDT", "buy", "0.001")
    status, body, _ = await signed(
        http, gateway.url, "POST", "/api/v3/order/test", alice, {**MARKET_BUY, "computeCommissionRates": "true"}
    )
    assert status == 200 and body["standardCommissionForOrder"] == {"maker": "0.00000000", "taker": "0.00000000"}

    assert await _exchange_log(http, exchange) == [("POST", "/api/v3/order/test")] * 2
    # The exchange placed nothing: the account it opened has no order and its first balances.
    _, account = await _exchange_account(http, exchange, alice)
    assert account["open_orders"] == 0
    async with http.get(f"{exchange.url}/api/v3/trades?symbol=BTCUSDT", headers=EXCHANGE_OPS) as r:
        assert await r.json() == []
    # Nothing moved, nothing parked, nothing reported.
    for table in ("movements", "held_calls", "report_candidates"):
        assert await gateway.pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    async with http.get(gateway.url + "/metrics") as r:
        assert 'action_kind="order_test"' in await r.text()


@dataclass(frozen=True)
class Parity:
    id: str
    note: str
    params: dict[str, str]
    residence: str = "KR"
    verified: bool = True
    reason: str | None = None  # None: allowed


PARITY = [
    Parity("allowed", "a verified Korean resident", MARKET_BUY),
    Parity("kyc-not-verified", "KYC", MARKET_BUY, verified=False, reason="kyc_not_verified"),
    Parity("cn-resident", "country rules", MARKET_BUY, residence="CN", reason="trading_prohibited"),
    Parity("ico-token", "asset class", {**MARKET_BUY, "symbol": "ICOTUSDT", "quantity": "100"},
           reason="asset_class_prohibited"),
    Parity("unknown-symbol", "the market list", {**MARKET_BUY, "symbol": "NOPEUSDT"}, reason="unknown_symbol"),
    Parity("missing-quantity", "well-formedness", {k: v for k, v in MARKET_BUY.items() if k != "quantity"},
           reason="missing_parameter"),
    Parity("bad-flag", "order/test's own flag", {**MARKET_BUY, "computeCommissionRates": "yes"},
           reason="invalid_value"),
]  # fmt: skip


@pytest.mark.parametrize("case", PARITY, ids=lambda c: c.id)
async def test_order_test_is_refused_exactly_as_its_order(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession, case: Parity
) -> None:
    customer = await new_customer(
        http, gateway.url, "trader", verified=case.verified, residence_country=case.residence,
        nationality=case.residence,
    )  # fmt: skip
    test_status, test_body, test_headers = await signed(
        http, gateway.url, "POST", "/api/v3/order/test", customer, case.params
    )
    test_row = await _row(gateway, test_headers["X-Decision-Id"])
    assert test_row["action_kind"] == "order_test"
    order_params = {k: v for k, v in case.params.items() if k != "computeCommissionRates"}
    if case.id == "bad-flag":  # the flag is order/test's alone: the order itself is fine
        assert (test_status, test_body["code"]) == (400, -1102) and test_row["reasons"] == [case.reason]
        assert await _exchange_log(http, exchange) == []
        return
    status, body, headers = await signed(http, gateway.url, "POST", "/api/v3/order", customer, order_params)
    order_row = await _row(gateway, headers["X-Decision-Id"])
    assert (test_row["outcome"], test_row["reasons"], test_row["rule_ids"]) == (
        order_row["outcome"], order_row["reasons"], order_row["rule_ids"],
    ), case.note  # fmt: skip
    forwarded = await _exchange_log(http, exchange)
    if case.reason is None:
        assert test_status == status == 200 and test_body == {}
        assert forwarded == [("POST", "/api/v3/order/test"), ("POST", "/api/v3/order")]
        return
    assert test_status == status and test_body["code"] == body["code"], case.note
    assert test_body["msg"].startswith(f"{case.reason}: ") and test_body["msg"] == body["msg"]
    assert forwarded == []  # neither reached the exchange


async def test_trade_fee_is_a_decided_account_read(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    unverified = await new_customer(http, gateway.url, "reader", verified=False)
    status, body, headers = await signed(http, gateway.url, "GET", "/sapi/v1/asset/tradeFee", unverified, {"symbol": "BTCUSDT"})
    assert status == 200 and body == [{"symbol": "BTCUSDT", "makerCommission": "0.00000000", "takerCommission": "0.00000000"}]
    row = await _row(gateway, headers["X-Decision-Id"])
    assert (row["operation"], row["action_kind"], row["outcome"]) == ("binance.trade_fee", "account_read", "allow")
    assert await _exchange_log(http, exchange) == [("GET", "/sapi/v1/asset/tradeFee")]
