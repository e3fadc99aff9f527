"""What a running gateway starts and stops, in order (aiohttp cleanup contexts).

Every service is a plain object built here with explicit dependencies, started and
stopped here; the app holds each under a typed key (gateway/appkeys.py) for the handlers.
Nothing below the HTTP layer sees the app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
from aiohttp import web

from gateway import appkeys as K
from gateway.audit.events import EventLog
from gateway.audit.maintenance import PartitionKeeper, checkpoint_keeper
from gateway.binance.auth import KeyDirectory
from gateway.decide.service import Decider
from gateway.feeds.capital import CoinNetworks
from gateway.feeds.markets import MarketList
from gateway.feeds.periodic import Periodic
from gateway.feeds.prices import PriceFeed
from gateway.feeds.replica_lag import ReplicaLag
from gateway.feeds.rulestate import remember_version
from gateway.feeds.upstream import Upstream
from gateway.http.admin.exports import primary_connection
from gateway.review.forwarder import ReviewService
from gateway.sanctions.retro.context import screener_for
from gateway.sanctions.service import SanctionsList
from gateway.settings import Settings
from gateway.store import db
from gateway.store.audit_reads import AuditReads
from gateway.store.migrations import migrate_up
from gateway.store.seen_requests import SeenRequestPruner
from gateway.store.writer import DecisionWriter

log = logging.getLogger(__name__)

Context = Callable[[web.Application], AbstractAsyncContextManager[None]]


def contexts(migrate: bool) -> list[Any]:
    """In start order (stopped in reverse): each needs what the ones before it built."""
    return [
        _database(migrate),
        _upstream,
        _writer,
        _seen_requests,
        _audit,
        _audit_reads,  # the read replica, if any (GATEWAY_AUDIT_DATABASE_URL)
        _review,  # after the audit context: it logs events
        _sanctions,
        _retro,  # after the sanctions context: it scans after switches
        _decider,  # last: it decides with all of the above
    ]


def _database(migrate: bool):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[K.SETTINGS]
        dsn = settings.require_database_url()
        pool = await db.create_pool(dsn, settings.db_pool_size, settings.db_timeout_seconds)
        async with pool.acquire() as conn:
            if migrate:
                await _migrate(conn, settings)
            await remember_version(conn, app[K.RULES].book)
        app[K.POOL] = pool
        app[K.KEYS] = KeyDirectory(
            pool, app[K.SECRET_BOX], ttl=settings.api_key_cache_seconds, timeout=settings.db_timeout_seconds
        )
        yield
        try:
            # Graceful: wait for connections in use, but not forever: a task that never
            # gives its connection back must not keep the process (or a test) alive.
            await asyncio.wait_for(pool.close(), settings.shutdown_grace_seconds)
        except TimeoutError:
            log.warning("database connections still in use at shutdown: closing them")
            pool.terminate()

    return ctx


async def _migrate(conn: asyncpg.Connection, settings: Settings) -> None:
    """As the schema owner when a separate DSN is set: the pool's runtime role cannot."""
    if settings.migration_database_url is None:
        await migrate_up(conn)
        return
    owner = await db.connect(settings.require_migration_database_url())
    try:
        await migrate_up(owner)
    finally:
        await owner.close()


async def _upstream(app: web.Application) -> AsyncIterator[None]:
    settings = app[K.SETTINGS]
    upstream = Upstream(
        settings.upstream_url,
        settings.upstream_token.get_secret_value(),
        timeout=settings.upstream_timeout_seconds,
        connections=settings.upstream_connections,
    )
    await upstream.open()
    markets = MarketList(
        upstream,
        app[K.METRICS],
        refresh=settings.markets_refresh_seconds,
        max_age=settings.markets_max_age_seconds,
    )
    await markets.refresh()  # best effort; the background task keeps trying
    markets.start()
    # Aged like the markets: without a list young enough, withdrawals get a 503.
    networks = CoinNetworks(
        upstream,
        app[K.METRICS],
        refresh=settings.markets_refresh_seconds,
        max_age=settings.markets_max_age_seconds,
    )
    await networks.refresh()
    networks.start()
    prices = PriceFeed(upstream, markets, settings.fx_rates, refresh=settings.prices_refresh_seconds)
    await prices.refresh()
    prices.start()
    app[K.UPSTREAM] = upstream
    app[K.MARKETS] = markets
    app[K.NETWORKS] = networks
    app[K.PRICES] = prices
    yield
    await prices.stop()
    await networks.stop()
    await markets.stop()
    await upstream.close()


async def _writer(app: web.Application) -> AsyncIterator[None]:
    settings = app[K.SETTINGS]
    writer = DecisionWriter(
        app[K.POOL],
        app[K.METRICS],
        batch_max=settings.decision_batch_max,
        timeout=settings.db_timeout_seconds,
    )
    writer.start()
    app[K.WRITER] = writer
    yield
    await writer.stop()


async def _seen_requests(app: web.Application) -> AsyncIterator[None]:
    """Expired request digests (replay checks) deleted in bounded batches, every 30 s."""
    pruner = SeenRequestPruner(app[K.POOL], timeout=app[K.SETTINGS].db_timeout_seconds)
    pruner.start()
    yield
    await pruner.stop()


async def _audit(app: web.Application) -> AsyncIterator[None]:
    """The event chain, the bound on long audit reads, partitions kept ahead (at start,
    then every GATEWAY_AUDIT_MAINTENANCE_SECONDS) and, with a checkpoint key, the
    automatic checkpoints (gateway/audit/maintenance.py)."""
    settings, metrics = app[K.SETTINGS], app[K.METRICS]
    events = EventLog()
    app[K.AUDIT_EVENTS] = events
    app[K.AUDIT_READ_SLOTS] = asyncio.Semaphore(settings.audit_read_concurrency)
    keeper = PartitionKeeper(
        app[K.POOL],
        metrics,
        months_ahead=settings.audit_partition_months_ahead,
        every=settings.audit_maintenance_seconds,
    )
    await keeper.run_once()
    keeper.start()
    checkpoints = checkpoint_keeper(settings, metrics, events, lambda: primary_connection(app))
    if checkpoints is not None:
        checkpoints.start()
    yield
    if checkpoints is not None:
        await checkpoints.stop()
    await keeper.stop()


async def _audit_reads(app: web.Application) -> AsyncIterator[None]:
    """Audit reads go to the read replica when one is set, and its lag is measured (at
    start, then every GATEWAY_AUDIT_REPLICA_LAG_CHECK_SECONDS); else to the primary."""
    settings = app[K.SETTINGS]
    reads = AuditReads(
        app[K.POOL], settings.audit_database_url.get_secret_value() if settings.audit_database_url else None,
        size=settings.audit_read_concurrency, timeout=settings.db_timeout_seconds,
    )  # fmt: skip
    await reads.open()
    app[K.AUDIT_READS] = reads
    lag = None
    if settings.audit_database_url is not None:
        lag = ReplicaLag(
            settings.require_database_url(), settings.audit_read_database_url(), app[K.METRICS],
            every=settings.audit_replica_lag_check_seconds, timeout=settings.db_timeout_seconds,
        )  # fmt: skip
        await lag.measure()
        lag.start()
    yield
    if lag is not None:
        await lag.stop()
    await reads.close()


async def _review(app: web.Application) -> AsyncIterator[None]:
    """One sweep at start (a restart resumes what a crash left in forwarding), then every
    GATEWAY_REVIEW_SWEEP_SECONDS."""
    settings = app[K.SETTINGS]
    service = ReviewService(
        app[K.POOL],
        app[K.UPSTREAM],
        app[K.AUDIT_EVENTS],
        app[K.METRICS],
        lease_seconds=settings.review_forward_lease_seconds,
        sweep_seconds=settings.review_sweep_seconds,
    )
    app[K.REVIEW] = service
    await service.sweep_safely()
    service.start()
    yield
    await service.stop()


async def _sanctions(app: web.Application) -> AsyncIterator[None]:
    """Loaded at start (the packaged snapshot first, if the database holds none), then
    refreshed every GATEWAY_SANCTIONS_REFRESH_SECONDS. A start without a list does not
    stop the process: screening fails closed (503) until a refresh succeeds, while
    everything that moves no money keeps working. After the audit context: the bootstrap
    load is an audit event."""
    settings = app[K.SETTINGS]
    sanctions = SanctionsList(
        app[K.POOL],
        app[K.METRICS],
        app[K.AUDIT_EVENTS],
        every=settings.sanctions_refresh_seconds,
        timeout=settings.db_timeout_seconds,
    )
    await sanctions.refresh()
    sanctions.start()
    app[K.SANCTIONS] = sanctions
    yield
    await sanctions.stop()


async def _retro(app: web.Application) -> AsyncIterator[None]:
    screener = screener_for(app[K.SETTINGS], app[K.AUDIT_EVENTS], app[K.METRICS])
    app[K.RETRO] = screener
    screener.start()
    yield
    await screener.stop()


async def _decider(app: web.Application) -> AsyncIterator[None]:
    app[K.DECIDER] = Decider(
        pool=app[K.POOL],
        writer=app[K.WRITER],
        rules=app[K.RULES],
        markets=app[K.MARKETS],
        networks=app[K.NETWORKS],
        prices=app[K.PRICES],
        sanctions=app[K.SANCTIONS],
        secret_box=app[K.SECRET_BOX],
        facts_box=app[K.FACTS_BOX],
        metrics=app[K.METRICS],
        settings=app[K.SETTINGS],
    )
    yield


# How often a worker of a group writes its scrape-time gauges for the group's scrapes.
COMPUTED_GAUGES_SECONDS = 5.0


async def computed_gauges(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context for a worker of a group: its scrape-time gauges written every
    few seconds, since another worker's scrape reads them from its files."""
    metrics = app[K.METRICS]

    async def update() -> None:
        metrics.update_computed()

    await update()
    keeper = Periodic("computed-gauges", COMPUTED_GAUGES_SECONDS, update)
    keeper.start()
    yield
    await keeper.stop()
