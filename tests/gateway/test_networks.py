"""A withdrawal's network and address against the exchange's coin networks (its capital
config, fetched like the market list): unknown networks and addresses a network's pattern
refuses are found before deciding; an answer of the wrong shape is refused whole; a list
too old is not used. Through the gateway: a withdrawal the networks refuse is refused
before deciding, and without a list young enough withdrawals fail closed (503)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr

from gateway.app import create_app
from gateway.feeds.capital import CONFIG_PATH, INVALID_ADDRESS, UNKNOWN_NETWORK, CoinNetworks, parse_config
from gateway.feeds.markets import utcnow
from gateway.feeds.upstream import Upstream, UpstreamUnavailable
from gateway.metrics import GatewayMetrics
from tests.conftest import Exchange, Gateway, gateway_settings, runtime_dsn
from tests.review.support import WITHDRAW_PATH, withdrawals
from tests.support import SERVICE_TOKEN, ccxt_client, new_customer, serving, signed

BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
EVM_ADDRESS = "0x" + "ab" * 20


@pytest_asyncio.fixture
async def networks(exchange: Exchange) -> AsyncIterator[CoinNetworks]:
    upstream = Upstream(exchange.url, SERVICE_TOKEN, timeout=10)
    await upstream.open()
    try:
        feed = CoinNetworks(upstream, GatewayMetrics(), refresh=60, max_age=60)
        assert await feed.refresh()
        yield feed
    finally:
        await upstream.close()


# (id, coin, network, address, expected reason or None)
CASES = [
    ("default network, its address", "BTC", None, BTC_ADDRESS, None),
    ("named network, its address", "BTC", "BTC", BTC_ADDRESS, None),
    ("a network the coin does not have", "BTC", "ETH", EVM_ADDRESS, UNKNOWN_NETWORK),
    ("a made-up network", "BTC", "NOPE", BTC_ADDRESS, UNKNOWN_NETWORK),
    ("a coin the exchange does not list", "NOSUCHCOIN", None, BTC_ADDRESS, UNKNOWN_NETWORK),
    ("an EVM address on the Bitcoin network", "BTC", "BTC", EVM_ADDRESS, INVALID_ADDRESS),
    (
        "a Bitcoin address with a character outside base58",
        "BTC",
        None,
        BTC_ADDRESS[:-1] + "O",
        INVALID_ADDRESS,
    ),
    ("an address with a suffix the pattern does not allow", "BTC", None, BTC_ADDRESS + "\n", INVALID_ADDRESS),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("coin", "network", "address", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_networks_and_addresses_are_checked_against_the_exchange(
    networks: CoinNetworks, coin: str, network: str | None, address: str, reason: str | None
) -> None:
    config = networks.current(utcnow())
    assert config is not None
    problem = config.check(coin, network, address)
    assert (problem.reason if problem else None) == reason, problem


@pytest.mark.asyncio
async def test_a_config_too_old_is_not_used(networks: CoinNetworks) -> None:
    assert networks.current(utcnow()) is not None
    assert networks.current(utcnow() + timedelta(seconds=61)) is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"coin": "BTC"}',
        b'[{"coin": "BTC"}]',
        b'[{"coin": "BTC", "networkList": [{"addressRegex": "^x$"}]}]',
        b'[{"coin": "BTC", "networkList": [{"network": "BTC", "addressRegex": "^(unclosed$"}]}]',
    ],
    ids=["not-json", "not-a-list", "no-networks", "network-without-name", "unreadable-pattern"],
)
def test_an_answer_of_the_wrong_shape_is_refused_whole(body: bytes) -> None:
    with pytest.raises(UpstreamUnavailable):
        parse_config(body, utcnow())


# Through the gateway, as a client sees it: (id, network, address, reason, Binance code)
REFUSED = [
    ("a network the coin does not have", "ETH", EVM_ADDRESS, UNKNOWN_NETWORK, -1102),
    ("an EVM address on the Bitcoin network", "BTC", EVM_ADDRESS, INVALID_ADDRESS, -4007),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("network", "address", "reason", "code"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
async def test_a_withdrawal_the_networks_refuse_is_refused_before_deciding(
    gateway: Gateway,
    exchange: Exchange,
    http: aiohttp.ClientSession,
    network: str,
    address: str,
    reason: str,
    code: int,
) -> None:
    """A real client (ccxt) sees BadRequest naming the reason; the refusal is on the record
    and nothing reaches the exchange's withdraw endpoint."""
    import ccxt.async_support as ccxt

    alice = await new_customer(http, gateway.url, "alice")
    client = ccxt_client(gateway.url, alice)
    try:
        with pytest.raises(ccxt.BadRequest) as refused:
            await client.withdraw("BTC", 0.001, address, params={"network": network})
    finally:
        await client.close()
    assert f'"code":{code}' in str(refused.value).replace(" ", ""), refused.value
    assert f"{reason}:" in str(refused.value), refused.value
    rows = await gateway.pool.fetch(
        "SELECT outcome, reasons FROM decisions WHERE customer_id = $1 AND action_kind = 'withdrawal'",
        uuid.UUID(alice.id),
    )
    assert [(r["outcome"], list(r["reasons"])) for r in rows] == [("deny", [reason])]
    assert await withdrawals(http, exchange, alice.id) == []


@pytest_asyncio.fixture
async def no_networks(exchange: Exchange) -> AsyncIterator[str]:
    """The exchange, except that its capital config fails: the URL of that front."""

    async def relay(request: web.Request) -> web.Response:
        if request.path == CONFIG_PATH:
            return web.json_response({"code": -1001, "msg": "Internal error."}, status=500)
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                exchange.url + request.path_qs,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                data=await request.read(),
            ) as answer,
        ):
            return web.Response(
                body=await answer.read(), status=answer.status, content_type="application/json"
            )

    front = web.Application()
    front.router.add_route("*", "/{tail:.*}", relay)
    async with serving(front) as url:
        yield url


@pytest.mark.asyncio
async def test_without_the_networks_withdrawals_fail_closed_and_orders_go_on(
    database_url: str, no_networks: str, http: aiohttp.ClientSession
) -> None:
    settings = gateway_settings(
        runtime_dsn(database_url), no_networks, migration_database_url=SecretStr(database_url)
    )
    async with serving(create_app(settings)) as url:
        alice = await new_customer(http, url, "alice")
        params = {"coin": "BTC", "address": BTC_ADDRESS, "amount": "0.001"}
        status, body, headers = await signed(http, url, "POST", WITHDRAW_PATH, alice, params)
        assert (status, body["code"]) == (503, -1001), body
        assert body["msg"].startswith("networks_unavailable:"), body
        assert "X-Decision-Id" not in headers  # could not decide: nothing decided
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
        status, body, _ = await signed(http, url, "POST", "/api/v3/order", alice, order)
        assert status == 200, body
        async with http.get(url + "/metrics") as response:
            metrics = await response.text()
        assert 'gateway_fail_closed_total{reason="networks_unavailable"} 1.0' in metrics
