"""The exchange's market list, refreshed in the background on every replica."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from gateway.feeds.upstream import Upstream, UpstreamTimeout, UpstreamUnavailable
from gateway.metrics import GatewayMetrics
from policy.facts import MarketCatalog

log = logging.getLogger(__name__)
_RETRY_SECONDS = 2.0
# While a refresh keeps failing, only the first failure and every _LOG_EVERY-th after it
# are logged at WARNING (about once a minute at the retry interval), then the recovery.
_LOG_EVERY = 30


class Refreshing:
    """Something refetched in the background every `_refresh` seconds (sooner after a
    failure): the market list, the prices. Subclasses fetch in `_fetch`; `refresh` keeps
    whatever goes wrong there from ending the loop."""

    _refresh: float
    _metrics: GatewayMetrics
    _what: str  # what is refreshed, for the log
    _task: asyncio.Task[None] | None = None
    _failures = 0  # consecutive failed refreshes

    async def _fetch(self) -> bool:
        """Fetch once; False when there was nothing to fetch with yet (not a failure)."""
        raise NotImplementedError

    async def refresh(self) -> bool:
        """One fetch. False when it did not happen or failed; a failure is logged and
        counted, and the last good data stays until it is too old to use. Raises only
        CancelledError (and what is not an Exception)."""
        try:
            fetched = await self._fetch()
        except Exception as exc:  # an upstream error, or a bug: the loop must live on
            self._failed(exc)
            return False
        if fetched and self._failures:
            log.info("%s refreshed again after %d failed attempts", self._what, self._failures)
            self._failures = 0
        return fetched

    def _failed(self, exc: Exception) -> None:
        kind = "timeout" if isinstance(exc, UpstreamTimeout) else "unavailable"
        self._metrics.child(self._metrics.upstream_errors, kind).inc()
        self._failures += 1
        if (self._failures - 1) % _LOG_EVERY:
            log.debug("%s refresh failed again (%d in a row): %r", self._what, self._failures, exc)
            return
        # Anything but an upstream error is a bug or an answer nobody foresaw: its traceback too.
        upstream = isinstance(exc, UpstreamUnavailable | UpstreamTimeout)
        log.warning(
            "%s refresh failed (%d in a row; the last good one stays until it is too old): %r",
            self._what, self._failures, exc, exc_info=None if upstream else exc,
        )  # fmt: skip

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
        self._what = "market list"
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

    @property
    def metrics(self) -> GatewayMetrics:
        return self._metrics

    async def _fetch(self) -> bool:
        self._catalog = await self._upstream.fetch_markets()
        return True


def utcnow() -> datetime:
    return datetime.now(UTC)
