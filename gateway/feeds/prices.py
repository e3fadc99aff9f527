"""The exchange's own last prices, refreshed in the background, and the configured FX
table: what deposits and withdrawals are valued with before the AML rules compare them.

The prices are the exchange's (`/api/v3/ticker/price`), so a withdrawal is valued at the
price the customer sees. Each price keeps the time it was fetched; the AML stage refuses
to use one older than GATEWAY_PRICES_MAX_AGE_SECONDS, so a stalled feed fails closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from aml.facts import FxPoint, PricePoint
from gateway.feeds.markets import MarketList, Refreshing, utcnow
from gateway.feeds.upstream import Upstream, UpstreamUnavailable


class PriceFeed(Refreshing):
    def __init__(
        self, upstream: Upstream, markets: MarketList, fx_rates: Mapping[str, Decimal], *, refresh: float
    ) -> None:
        self._upstream = upstream
        self._markets = markets
        self._fx_rates = dict(fx_rates)
        self._refresh = refresh
        # Failures are counted with the market list's (one registry per app).
        self._metrics = markets.metrics
        self._what = "prices"
        self._prices: tuple[PricePoint, ...] = ()

    @property
    def prices(self) -> tuple[PricePoint, ...]:
        return self._prices

    def fx(self, now: datetime) -> tuple[FxPoint, ...]:
        """The configured table, stamped `now`: it is current by configuration (there is
        no feed to go stale); changing it is a settings change, recorded with each use."""
        points = []
        for pair, rate in self._fx_rates.items():
            source, target = pair.split("/")
            points.append(FxPoint(source, target, rate, now))
        return tuple(points)

    async def _fetch(self) -> bool:
        catalog = self._markets.current(utcnow())
        if catalog is None:
            return False  # nothing to tell which assets a symbol prices yet
        answer = await self._upstream.forward("GET", "/api/v3/ticker/price", b"", None, None)
        if answer.status != 200:
            raise UpstreamUnavailable(f"ticker/price answered {answer.status}")
        rows = _ticker_rows(answer.body)
        fetched = utcnow()
        points = []
        for row in rows:
            market = catalog.market(row["symbol"])
            try:
                price = Decimal(str(row.get("price")))
            except InvalidOperation:
                continue
            if market is None or not price.is_finite() or price <= 0:
                continue  # an empty book has no price; valuing through it would fail closed
            points.append(PricePoint(market.base_asset, market.quote_asset, price, fetched))
        self._prices = tuple(points)
        return True


def _ticker_rows(body: bytes) -> list[dict[str, Any]]:
    """`/api/v3/ticker/price` for every symbol: a list of objects, each with a string
    `symbol`. Any other shape is refused whole, as `UpstreamUnavailable`, and the prices
    held stay; a row whose price is not a positive number is only skipped."""
    try:
        rows: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamUnavailable(f"ticker/price answer is not JSON: {exc}") from exc
    if not isinstance(rows, list):
        raise UpstreamUnavailable("ticker/price answer is not a list")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("symbol"), str):
            raise UpstreamUnavailable(f"ticker/price answer: [{i}] is not an object with a symbol")
    return rows
