"""The exchange's own last prices, refreshed in the background, and the configured FX
table: what deposits and withdrawals are valued with before the AML rules compare them.

The prices are the exchange's (`/api/v3/ticker/price`), so a withdrawal is valued at the
price the customer sees. Each price keeps the time it was fetched; the AML stage refuses
to use one older than GATEWAY_PRICES_MAX_AGE_SECONDS, so a stalled feed fails closed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation

import orjson

from aml.facts import FxPoint, PricePoint
from gateway.markets import MarketList, Refreshing, utcnow
from gateway.upstream import Upstream, UpstreamTimeout, UpstreamUnavailable

log = logging.getLogger(__name__)


class PriceFeed(Refreshing):
    def __init__(
        self, upstream: Upstream, markets: MarketList, fx_rates: Mapping[str, Decimal], *, refresh: float
    ) -> None:
        self._upstream = upstream
        self._markets = markets
        self._fx_rates = dict(fx_rates)
        self._refresh = refresh
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

    async def refresh(self) -> bool:
        catalog = self._markets.current(utcnow())
        if catalog is None:
            return False
        try:
            answer = await self._upstream.forward("GET", "/api/v3/ticker/price", b"", None, None)
            if answer.status != 200:
                raise UpstreamUnavailable(f"ticker/price answered {answer.status}")
            rows = orjson.loads(answer.body)
        except (UpstreamUnavailable, UpstreamTimeout, orjson.JSONDecodeError) as exc:
            log.warning("price refresh failed: %r", exc)
            return False
        fetched = utcnow()
        points = []
        for row in rows if isinstance(rows, list) else []:
            market = catalog.market(str(row.get("symbol", "")))
            try:
                price = Decimal(str(row.get("price")))
            except InvalidOperation:
                continue
            if market is None or not price.is_finite() or price <= 0:
                continue  # an empty book has no price; valuing through it would fail closed
            points.append(PricePoint(market.base_asset, market.quote_asset, price, fetched))
        self._prices = tuple(points)
        return True
