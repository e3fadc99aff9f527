"""The market list and the prices are refetched in the background from the exchange. An
answer of the wrong shape is an upstream error: counted, logged without flooding, and the
last good data stays. No failure of one refresh ends the loop; only cancelling it does."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from gateway.feeds import markets as markets_module
from gateway.feeds.markets import MarketList, Refreshing, utcnow
from gateway.feeds.prices import PriceFeed
from gateway.feeds.upstream import Upstream
from gateway.metrics import GatewayMetrics
from tests.support import SERVICE_TOKEN, serving

pytestmark = pytest.mark.asyncio

INFO = "/api/v3/exchangeInfo"
PRICES = "/api/v3/ticker/price"
BTC = {"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "status": "TRADING"}
ETH = {"symbol": "ETHUSDT", "baseAsset": "ETH", "quoteAsset": "USDT", "status": "TRADING"}
GOOD_INFO = orjson.dumps({"symbols": [BTC]})
GOOD_PRICES = orjson.dumps([{"symbol": "BTCUSDT", "price": "60000.00"}])


class FakeExchange:
    """Serves the queued answers of each path in turn, the last one again once the queue
    is down to it, and counts the calls."""

    def __init__(self) -> None:
        self.answers: dict[str, list[bytes]] = {INFO: [GOOD_INFO], PRICES: [GOOD_PRICES]}
        self.calls: Counter[str] = Counter()

    async def answer(self, request: web.Request) -> web.Response:
        queue = self.answers[request.path]
        self.calls[request.path] += 1
        body = queue.pop(0) if len(queue) > 1 else queue[0]
        return web.Response(body=body, content_type="application/json")


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeExchange]:
    yield FakeExchange()


@pytest_asyncio.fixture
async def upstream(fake: FakeExchange) -> AsyncIterator[Upstream]:
    app = web.Application()
    app.router.add_get(INFO, fake.answer)
    app.router.add_get(PRICES, fake.answer)
    async with serving(app) as url:
        upstream = Upstream(url, SERVICE_TOKEN, timeout=10)
        await upstream.open()
        try:
            yield upstream
        finally:
            await upstream.close()


def _markets(upstream: Upstream) -> MarketList:
    # Refreshed on success only after an hour: every fetch a loop test sees is a retry.
    return MarketList(upstream, GatewayMetrics(), refresh=3600, max_age=600)


def _errors(metrics: GatewayMetrics, kind: str = "unavailable") -> float:
    value = metrics.registry.get_sample_value("gateway_upstream_errors_total", {"kind": kind})
    assert value is not None
    return value


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):  # bounded: a loop that died fails here instead of hanging
        while not condition():
            await asyncio.sleep(0.01)


BAD_INFO = [
    ("a-list", b"[]"),
    ("null", b"null"),
    ("not-json", b"<html>busy</html>"),
    ("no-symbols", b"{}"),
    ("symbols-an-object", orjson.dumps({"symbols": {"BTCUSDT": BTC}})),
    ("entry-a-string", orjson.dumps({"symbols": ["BTCUSDT"]})),
    ("entry-a-list", orjson.dumps({"symbols": [[BTC]]})),
    ("entry-without-quote-asset", orjson.dumps({"symbols": [{**BTC, "quoteAsset": None}]})),
    ("entry-symbol-a-number", orjson.dumps({"symbols": [{**BTC, "symbol": 1}]})),
    ("entry-symbol-empty", orjson.dumps({"symbols": [{**BTC, "symbol": ""}]})),
]


@pytest.mark.parametrize("body", [b for _, b in BAD_INFO], ids=[i for i, _ in BAD_INFO])
async def test_a_market_list_of_the_wrong_shape_is_an_upstream_error(
    fake: FakeExchange, upstream: Upstream, body: bytes
) -> None:
    fake.answers[INFO] = [GOOD_INFO, body, orjson.dumps({"symbols": [BTC, ETH]})]
    markets = _markets(upstream)
    assert await markets.refresh()
    good = markets.current(utcnow())
    assert good is not None

    assert not await markets.refresh()
    assert markets.current(utcnow()) is good  # the last good list stays
    assert _errors(markets.metrics) == 1

    assert await markets.refresh()
    catalog = markets.current(utcnow())
    assert catalog is not None and catalog.market("ETHUSDT") is not None
    assert _errors(markets.metrics) == 1


BAD_PRICES = [
    ("an-object", orjson.dumps({"symbol": "BTCUSDT", "price": "1"})),
    ("null", b"null"),
    ("not-json", b"<html>busy</html>"),
    ("row-a-number", b"[1]"),
    ("row-a-list", orjson.dumps([["BTCUSDT", "1"]])),
    ("row-without-symbol", orjson.dumps([{"price": "1"}])),
    ("row-symbol-a-number", orjson.dumps([{"symbol": 5, "price": "1"}])),
]


@pytest.mark.parametrize("body", [b for _, b in BAD_PRICES], ids=[i for i, _ in BAD_PRICES])
async def test_prices_of_the_wrong_shape_are_an_upstream_error(
    fake: FakeExchange, upstream: Upstream, body: bytes
) -> None:
    # A row whose price is no positive number is skipped; the answer's shape is fine.
    second = [{"symbol": "BTCUSDT", "price": "61000.00"}, {"symbol": "XYZUSDT", "price": "nan"}]
    fake.answers[PRICES] = [GOOD_PRICES, body, orjson.dumps(second)]
    markets = _markets(upstream)
    assert await markets.refresh()
    prices = PriceFeed(upstream, markets, {}, refresh=3600)
    assert await prices.refresh()
    good = prices.prices
    assert [p.value for p in good] == [Decimal("60000.00")]

    assert not await prices.refresh()
    assert prices.prices is good  # the last good prices stay (each ages out on its own)
    assert _errors(markets.metrics) == 1

    assert await prices.refresh()
    assert [p.value for p in prices.prices] == [Decimal("61000.00")]


async def test_prices_wait_for_a_market_list_without_counting_an_error(
    fake: FakeExchange, upstream: Upstream
) -> None:
    markets = _markets(upstream)
    prices = PriceFeed(upstream, markets, {}, refresh=3600)
    assert not await prices.refresh()
    assert fake.calls[PRICES] == 0 and _errors(markets.metrics) == 0


@pytest.mark.parametrize("feed", ["markets", "prices"])
async def test_the_background_refresh_outlives_bad_answers_and_ends_on_cancel(
    fake: FakeExchange, upstream: Upstream, monkeypatch: pytest.MonkeyPatch, feed: str
) -> None:
    monkeypatch.setattr(markets_module, "_RETRY_SECONDS", 0.0)
    markets = _markets(upstream)
    assert await markets.refresh()
    path, good = (INFO, orjson.dumps({"symbols": [BTC, ETH]})) if feed == "markets" else (PRICES, GOOD_PRICES)
    fake.answers[path] = [b"{}", b"[1]", b'{"symbols": [1]}', b"null", good]
    refreshing: Refreshing = markets if feed == "markets" else PriceFeed(upstream, markets, {}, refresh=3600)
    before = fake.calls[path]

    refreshing.start()
    task = refreshing._task
    assert task is not None
    try:
        if isinstance(refreshing, MarketList):
            await _until(lambda: (c := markets.current(utcnow())) is not None and "ETH" in c.assets)
        else:
            await _until(lambda: bool(refreshing.prices))
        assert not task.done()
        assert fake.calls[path] - before == 5  # four failures retried, then one success
        assert _errors(markets.metrics) == 4
    finally:
        await refreshing.stop()
    assert task.cancelled()


async def test_an_unexpected_exception_does_not_end_the_loop(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(markets_module, "_RETRY_SECONDS", 0.0)
    fetch = upstream.fetch_markets
    attempts = 0

    async def fails_once() -> object:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("a bug")
        return await fetch()

    monkeypatch.setattr(upstream, "fetch_markets", fails_once)
    markets = _markets(upstream)
    with caplog.at_level(logging.INFO, logger="gateway.feeds.markets"):
        markets.start()
        try:
            await _until(lambda: markets.current(utcnow()) is not None)
            assert markets._task is not None and not markets._task.done()
        finally:
            await markets.stop()
    assert attempts == 2 and _errors(markets.metrics) == 1
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert "RuntimeError('a bug')" in warning.getMessage()
    assert warning.exc_info is not None  # a bug is logged with its traceback


async def test_a_failing_refresh_is_logged_once_then_every_nth_then_its_recovery(
    fake: FakeExchange,
    upstream: Upstream,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(markets_module, "_LOG_EVERY", 3)
    fake.answers[INFO] = [b"[]"] * 7 + [GOOD_INFO]
    markets = _markets(upstream)
    with caplog.at_level(logging.INFO, logger="gateway.feeds.markets"):
        outcomes = [await markets.refresh() for _ in range(8)]
    assert outcomes == [False] * 7 + [True]
    assert _errors(markets.metrics) == 7
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "gateway.feeds.markets"]
    warnings = [m for level, m in records if level == logging.WARNING]
    assert [m.split(" in a row")[0] for m in warnings] == [
        "market list refresh failed (1",
        "market list refresh failed (4",
        "market list refresh failed (7",
    ]
    assert all("exchangeInfo answer is not an object with a list of symbols" in m for m in warnings)
    assert records[-1] == (logging.INFO, "market list refreshed again after 7 failed attempts")
