"""Bad input gets a clear Binance-style error, is counted, is recorded where a customer is
known, and nothing reaches the exchange."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest

from tests.conftest import Exchange, Gateway
from tests.support import Customer, new_customer, sign, signed

pytestmark = pytest.mark.asyncio

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.001",
    "price": "50000",
    "timeInForce": "GTC",
}


async def _received(exchange: Exchange, http: aiohttp.ClientSession) -> int:
    from tests.support import SERVICE_TOKEN

    async with http.get(exchange.url + "/ops/stats", headers={"X-Gateway-Token": SERVICE_TOKEN}) as r:
        stats = await r.json()
    return int(stats["requests_total"])


async def _decision(gateway: Gateway, decision_id: str) -> dict[str, Any]:
    row = await gateway.pool.fetchrow(
        "SELECT outcome, reasons, customer_id::text AS customer_id FROM decisions WHERE id = $1",
        uuid.UUID(decision_id),
    )
    assert row is not None, "the refusal must be on the customer's record"
    return dict(row)


WITHDRAWAL = {"coin": "BTC", "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "amount": "0.001"}
LISTED_ADDRESS = "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX"  # in the packaged OFAC snapshot


def _now_ms() -> int:
    return int(time.time() * 1000)


# (case id, how to build the request, expected HTTP status, expected code, expected reason)
SIGNED_CASES = [
    (
        "bad-signature",
        lambda c: ("POST", "/api/v3/order", ORDER, {"secret": "wrong"}),
        400,
        -1022,
        "bad_signature",
    ),
    (
        "stale-timestamp",
        lambda c: ("POST", "/api/v3/order", ORDER, {"timestamp": _now_ms() - 120_000}),
        400,
        -1021,
        "stale_timestamp",
    ),
    (
        "future-timestamp",
        lambda c: ("POST", "/api/v3/order", ORDER, {"timestamp": _now_ms() + 60_000}),
        400,
        -1021,
        "future_timestamp",
    ),
    (
        "recv-window-too-large",
        lambda c: ("GET", "/api/v3/account", {"recvWindow": "90000"}, {}),
        400,
        -1131,
        "bad_recv_window",
    ),
    (
        "duplicate-parameter",
        lambda c: ("POST", "/api/v3/order", [*ORDER.items(), ("quantity", "5")], {}),
        400,
        -1101,
        "duplicate_parameter",
    ),
    (
        "missing-side",
        lambda c: ("POST", "/api/v3/order", {k: v for k, v in ORDER.items() if k != "side"}, {}),
        400,
        -1102,
        "missing_parameter",
    ),
    (
        "non-numeric-quantity",
        lambda c: ("POST", "/api/v3/order", {**ORDER, "quantity": "lots"}, {}),
        400,
        -1100,
        "malformed_parameter",
    ),
    (
        "exponent-quantity",
        lambda c: ("POST", "/api/v3/order", {**ORDER, "quantity": "1e3"}, {}),
        400,
        -1100,
        "malformed_parameter",
    ),
    (
        "negative-amount",
        lambda c: (
            "POST",
            "/sapi/v1/capital/withdraw/apply",
            {**WITHDRAWAL, "amount": "-1"},
            {},
        ),
        400,
        -1013,
        "non_positive_amount",
    ),
    (
        "zero-quantity",
        lambda c: ("POST", "/api/v3/order", {**ORDER, "quantity": "0"}, {}),
        400,
        -1013,
        "non_positive_amount",
    ),
    (
        "unknown-symbol",
        lambda c: ("POST", "/api/v3/order", {**ORDER, "symbol": "DOGEUSDT"}, {}),
        400,
        -1121,
        "unknown_symbol",
    ),
    (
        "unknown-coin",
        lambda c: ("GET", "/sapi/v1/capital/deposit/address", {"coin": "NOPE"}, {}),
        400,
        -1013,
        "unknown_asset",
    ),
    (
        "bad-side",
        lambda c: ("POST", "/api/v3/order", {**ORDER, "side": "HOLD"}, {}),
        400,
        -1102,
        "invalid_value",
    ),
    (
        "non-ascii-digit-amount",
        lambda c: ("POST", "/sapi/v1/capital/withdraw/apply", {**WITHDRAWAL, "amount": "0.00\u0661"}, {}),
        400,
        -1100,
        "malformed_parameter",
    ),
    (
        "non-numeric-order-id",
        lambda c: ("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": "last"}, {}),
        400,
        -1100,
        "malformed_parameter",
    ),
    (
        "non-numeric-limit",
        lambda c: ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "limit": "ten"}, {}),
        400,
        -1100,
        "malformed_parameter",
    ),
    # Postgres refuses NUL in text: such a row would have failed its whole batch.
    (
        "nul-in-client-order-id",
        lambda c: ("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "\x00"}, {}),
        400,
        -1100,
        "malformed_parameter",
    ),
    (
        "nul-in-address-tag",
        lambda c: ("POST", "/sapi/v1/capital/withdraw/apply", {**WITHDRAWAL, "addressTag": "\x00"}, {}),
        400,
        -1100,
        "malformed_parameter",
    ),
    # C1 controls (U+0080..U+009F) are control characters too, as the admin edge reads them.
    (
        "c1-control-in-a-parameter",
        lambda c: ("GET", "/api/v3/account", {"note": "a\u0085b"}, {}),
        400,
        -1100,
        "malformed_parameter",
    ),
    (
        "nul-in-a-duplicated-name",
        lambda c: ("GET", "/api/v3/account", [("k\x00", "1"), ("k\x00", "2")], {}),
        400,
        -1100,
        "malformed_parameter",
    ),
]


@pytest.mark.parametrize(
    ("build", "status", "code", "reason"), [c[1:] for c in SIGNED_CASES], ids=[c[0] for c in SIGNED_CASES]
)
async def test_signed_bad_input_is_refused_and_recorded(
    gateway: Gateway,
    exchange: Exchange,
    http: aiohttp.ClientSession,
    build: Any,
    status: int,
    code: int,
    reason: str,
) -> None:
    customer = await new_customer(http, gateway.url, "mallory")
    method, path, params, tweaks = build(customer)
    signer = customer
    if "secret" in tweaks:
        signer = Customer(customer.id, customer.reference, customer.api_key, tweaks.pop("secret"))
    before = await _received(exchange, http)
    got_status, body, headers = await signed(http, gateway.url, method, path, signer, params, **tweaks)
    assert (got_status, body["code"]) == (status, code), body
    assert body["msg"].startswith(reason + ":")
    decision = await _decision(gateway, headers["X-Decision-Id"])
    assert decision == {"outcome": "deny", "reasons": [reason], "customer_id": customer.id}
    assert await _received(exchange, http) == before


async def _raw(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any, Any]:
    async with http.request(method, url, **kwargs) as response:
        return response.status, await response.json(content_type=None), response.headers


async def test_unknown_and_missing_api_key(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    before = await _received(exchange, http)
    query = sign("whatever", {"symbol": "BTCUSDT"})
    status, body, _ = await _raw(
        http, "GET", f"{gateway.url}/api/v3/openOrders?{query}", headers={"X-MBX-APIKEY": "nope"}
    )
    assert (status, body["code"]) == (401, -2015) and body["msg"].startswith("unknown_api_key:")
    status, body, _ = await _raw(http, "GET", f"{gateway.url}/api/v3/openOrders?{query}")
    assert (status, body["code"]) == (401, -2014) and body["msg"].startswith("missing_api_key:")
    assert await gateway.pool.fetchval("SELECT count(*) FROM decisions") == 0
    assert await _received(exchange, http) == before


async def test_api_key_that_is_not_utf8(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /api/v3/account?timestamp=1&signature=00 HTTP/1.1\r\nHost: x\r\n"
        b"X-MBX-APIKEY: \xff\xfe\r\nConnection: close\r\n\r\n"
    )
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401")
    assert orjson.loads(body)["code"] == -2015


@pytest.mark.parametrize(
    ("tail", "code", "reason"),
    [("", -1102, "missing_signature"), ("&signature=%C3%A9", -1022, "bad_signature")],
    ids=["missing-signature", "signature-not-ascii"],
)
async def test_unsigned_or_oddly_signed(
    gateway: Gateway, http: aiohttp.ClientSession, tail: str, code: int, reason: str
) -> None:
    customer = await new_customer(http, gateway.url, "nosig")
    url = f"{gateway.url}/api/v3/account?timestamp={_now_ms()}{tail}"
    status, body, headers = await _raw(http, "GET", url, headers={"X-MBX-APIKEY": customer.api_key})
    assert (status, body["code"]) == (400, code) and body["msg"].startswith(f"{reason}:")
    assert (await _decision(gateway, headers["X-Decision-Id"]))["reasons"] == [reason]


async def test_oversized_body(gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession) -> None:
    customer = await new_customer(http, gateway.url, "bigbody")
    before = await _received(exchange, http)
    body = sign(customer.secret, {**ORDER, "newClientOrderId": "x", "pad": "a" * 200_000})
    status, answer, headers = await _raw(
        http, "POST", gateway.url + "/api/v3/order", data=body.encode(),
        headers={"X-MBX-APIKEY": customer.api_key, "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert (status, answer["code"]) == (413, -1104) and answer["msg"].startswith("body_too_large:")
    assert (await _decision(gateway, headers["X-Decision-Id"]))["reasons"] == ["body_too_large"]
    assert await _received(exchange, http) == before


async def test_wrong_content_type(gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession) -> None:
    customer = await new_customer(http, gateway.url, "jsonbody")
    before = await _received(exchange, http)
    status, answer, headers = await _raw(
        http, "POST", gateway.url + "/api/v3/order", data=b'{"symbol": "BTCUSDT"}',
        headers={"X-MBX-APIKEY": customer.api_key, "Content-Type": "application/json"},
    )  # fmt: skip
    assert (status, answer["code"]) == (415, -1102) and answer["msg"].startswith("unsupported_content_type:")
    assert (await _decision(gateway, headers["X-Decision-Id"]))["reasons"] == ["unsupported_content_type"]
    assert await _received(exchange, http) == before


async def test_unknown_endpoint(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    status, body, _ = await _raw(http, "GET", gateway.url + "/api/v3/nothingHere")
    assert (status, body["code"]) == (404, -1000) and body["msg"].startswith("unknown_endpoint:")


async def test_suspended_customer_is_refused(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    carol = await new_customer(http, gateway.url, "carol", status="suspended")
    before = await _received(exchange, http)
    status, body, headers = await signed(http, gateway.url, "POST", "/api/v3/order", carol, ORDER)
    assert (status, body["code"]) == (401, -1002) and body["msg"].startswith("customer_inactive:")
    assert (await _decision(gateway, headers["X-Decision-Id"]))["reasons"] == ["customer_inactive"]
    assert await _received(exchange, http) == before


async def test_refusals_are_counted(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    customer = await new_customer(http, gateway.url, "counted")
    await signed(http, gateway.url, "POST", "/api/v3/order", customer, {**ORDER, "symbol": "NOPEUSDT"})
    async with http.get(gateway.url + "/metrics") as response:
        text = await response.text()
    assert 'gateway_refusals_total{reason="unknown_symbol"} 1.0' in text
    assert 'gateway_decisions_total{action_kind="order",outcome="deny",reason="unknown_symbol"} 1.0' in text


async def _split_call(
    http: aiohttp.ClientSession, gateway: Gateway, customer: Customer, path: str, query: str, body: str
) -> tuple[int, Any, Any]:
    """Parameters split between the query string and the form body, signed as Binance
    defines it: HMAC over the query followed directly by the body."""
    signature = hmac.new(customer.secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    return await _raw(
        http, "POST", f"{gateway.url}{path}?{query}", data=f"{body}&signature={signature}".encode(),
        headers={"X-MBX-APIKEY": customer.api_key, "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip


async def test_parameters_split_between_query_and_body_are_all_seen(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    customer = await new_customer(http, gateway.url, "splitter")
    before = await _received(exchange, http)
    # A body pair is not glued onto the query's last value: the policy sees both
    # quantities, and the call is refused instead of deciding on one and sending the other.
    order = f"timestamp={_now_ms()}&{urlencode(ORDER)}&x="
    status, answer, headers = await _split_call(
        http, gateway, customer, "/api/v3/order", order, "quantity=0.5"
    )
    assert (status, answer["code"]) == (400, -1101) and answer["msg"].startswith("duplicate_parameter:")
    assert (await _decision(gateway, headers["X-Decision-Id"]))["reasons"] == ["duplicate_parameter"]
    # The same trick once hid a sanctioned payee behind a clean address.
    payout = f"timestamp={_now_ms()}&{urlencode(WITHDRAWAL)}&x="
    status, answer, headers = await _split_call(
        http, gateway, customer, "/sapi/v1/capital/withdraw/apply", payout, f"address={LISTED_ADDRESS}"
    )
    assert (status, answer["code"]) == (400, -1101) and answer["msg"].startswith("duplicate_parameter:")
    assert await _received(exchange, http) == before


async def test_a_call_split_as_binance_documents_it_is_decided_on_every_parameter(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    customer = await new_customer(http, gateway.url, "documented")
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    body = f"quantity=0.002&price=50000&timestamp={_now_ms()}"
    status, answer, headers = await _split_call(http, gateway, customer, "/api/v3/order", query, body)
    assert status == 200, answer
    assert (answer["timeInForce"], answer["origQty"]) == ("GTC", "0.00200000")
    row = await gateway.pool.fetchrow(
        "SELECT outcome, quantity, price FROM decisions WHERE id = $1", uuid.UUID(headers["X-Decision-Id"])
    )
    assert (row["outcome"], row["quantity"], row["price"]) == ("allow", Decimal("0.002"), Decimal("50000"))


async def test_many_duplicates_make_a_bounded_record(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    customer = await new_customer(http, gateway.url, "repeater")
    pairs = [("a", "1")] * 2000 + [(f"k{n}", "1") for n in range(30) for _ in range(2)]
    status, body, headers = await signed(
        http, gateway.url, "POST", "/api/v3/order", customer, [*ORDER.items(), *pairs]
    )
    assert (status, body["code"]) == (400, -1101)
    findings = await gateway.pool.fetchval(
        "SELECT findings::text FROM decisions WHERE id = $1", uuid.UUID(headers["X-Decision-Id"])
    )
    problems = orjson.loads(findings)
    assert len(problems) == 10 and len({p["message"] for p in problems}) == 10


async def test_the_signature_covers_the_query_as_sent(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    """ccxt signs `a%2Cb` and sends it so (yarl.URL(..., encoded=True)): the gateway must
    check the query as it arrived, not a re-quoted form of it (`a,b`)."""
    customer = await new_customer(http, gateway.url, "encoder")
    status, body, _ = await signed(
        http, gateway.url, "GET", "/api/v3/account", customer, {"note": "a,b~c:d/e"}
    )
    assert status == 200, body
