"""A withdrawal's network and address against the exchange's coin networks (its capital
config, fetched like the market list): unknown networks and addresses a network's pattern
refuses are found before deciding; an answer of the wrong shape is refused whole; a list
too old is not used."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio

from gateway.feeds.capital import INVALID_ADDRESS, UNKNOWN_NETWORK, CoinNetworks, parse_config
from gateway.feeds.markets import utcnow
from gateway.feeds.upstream import Upstream, UpstreamUnavailable
from gateway.metrics import GatewayMetrics
from tests.conftest import Exchange
from tests.support import SERVICE_TOKEN

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
