"""Settings validation, the command line, and seed-price overrides."""

from __future__ import annotations

from decimal import Decimal as D

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from exchange.__main__ import TOKEN_ENV, parse_cli
from exchange.app import create_exchange_app
from exchange.settings import DEFAULT_STARTING_BALANCES, ExchangeSettings
from tests.exchange.exchange_testkit import GATEWAY_HEADERS, SERVICE_TOKEN


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        pytest.param({"service_token": ""}, "service_token", id="empty-token"),
        pytest.param({"seed_prices": {"DOGEUSDT": D(1)}}, "seed_prices[DOGEUSDT]", id="unknown-symbol"),
        pytest.param({"seed_prices": {"BTCUSDT": D(0)}}, "seed_prices[BTCUSDT]", id="zero-seed"),
        pytest.param({"starting_balances": {"BTC": D(-1)}}, "starting_balances[BTC]", id="negative-balance"),
        pytest.param({"request_log_size": 0}, "request_log_size", id="empty-log"),
        pytest.param({"market_maker_levels": 0}, "market_maker_levels", id="no-levels"),
    ],
)
def test_bad_setting_names_its_key(kwargs: dict[str, object], key: str) -> None:
    base: dict[str, object] = {"service_token": "t"}
    with pytest.raises(ValueError, match=key.replace("[", r"\[").replace("]", r"\]")):
        ExchangeSettings(**{**base, **kwargs})  # type: ignore[arg-type]


def test_cli_flags() -> None:
    config = parse_cli(
        [
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--service-token",
            "tok",
            "--seed-price",
            "BTCUSDT=65000",
            "--starting-balance",
            "USDT=5",
        ]
    )
    assert (config.host, config.port, config.settings.service_token) == ("127.0.0.1", 0, "tok")
    assert config.settings.seed_prices == {"BTCUSDT": D(65000)}
    assert config.settings.starting_balances == {**DEFAULT_STARTING_BALANCES, "USDT": D(5)}


def test_cli_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert parse_cli([]).settings.service_token == "from-env"


def test_cli_requires_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(SystemExit):
        parse_cli([])


@pytest.mark.asyncio
async def test_seed_price_and_starting_balance_overrides() -> None:
    settings = ExchangeSettings(
        service_token=SERVICE_TOKEN,
        seed_prices={"BTCUSDT": D(65000)},
        starting_balances={"USDT": D(7)},
    )
    server = TestServer(create_exchange_app(settings), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            url = server.make_url("/api/v3/ticker/24hr?symbol=BTCUSDT")
            async with http.get(url, headers=GATEWAY_HEADERS) as resp:
                ticker = await resp.json()
            headers = {**GATEWAY_HEADERS, "X-Customer-Id": "fresh"}
            async with http.get(server.make_url("/api/v3/account"), headers=headers) as resp:
                account = await resp.json()
    finally:
        await server.close()
    assert ticker["lastPrice"] == "65000.00000000"
    assert D(ticker["bidPrice"]) < 65000 < D(ticker["askPrice"])
    assert account["balances"] == [{"asset": "USDT", "free": "7.00000000", "locked": "0.00000000"}]
