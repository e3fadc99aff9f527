"""The exchange's market list, refreshed in the background on every replica."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from gateway.metrics import GatewayMetrics
from gateway.upstream import Upstream, UpstreamTimeout, UpstreamUnavailable
from policy.facts import MarketCatalog

log = logging.getLogger(__name__)
_RETRY_SECONDS = 2.0


class Refreshing:
    """Something refetched in the background every `_refresh` seconds (sooner after a
    failure): the market list, the prices."""

    _refresh: float
    _task: asyncio.Task[None] | None = None

    async def refresh(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{type(self).__name__}-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            ok = await self.refresh()
            await asyncio.sleep(self._refresh if ok else _RETRY_SECONDS)


class MarketList(Refreshing):
    def __init__(
        self, upstream: Upstream, metrics: GatewayMetrics, *, refresh: float, max_age: float
    ) -> None:
        self._upstream = upstream
        self._metrics = metrics
        self._refresh = refresh
        self._max_age = timedelta(seconds=max_age)
        self._catalog: MarketCatalog | None = None
        # Computed at scrape time, not on every request.
        metrics.markets_age.set_function(self._age_seconds)

    def _age_seconds(self) -> float:
        catalog = self._catalog
        return (utcnow() - catalog.fetched_at).total_seconds() if catalog else float("nan")

    def current(self, now: datetime) -> MarketCatalog | None:
        """The list, unless it is too old to trust (then calls that need it get a 503)."""
        catalog = self._catalog
        if catalog is None:
            return None
        return catalog if now - catalog.fetched_at <= self._max_age else None

    async def refresh(self) -> bool:
        try:
            self._catalog = await self._upstream.fetch_markets()
        except (UpstreamUnavailable, UpstreamTimeout, ValueError, KeyError) as exc:
            log.warning("market list refresh failed: %r", exc)
            return False
        return True


def utcnow() -> datetime:
    return datetime.now(UTC)
