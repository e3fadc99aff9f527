"""The app factory: one `create_app(settings)` for the CLI and the tests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from gateway import appkeys as K
from gateway.audit.maintenance import audit_context
from gateway.binance.auth import KeyDirectory
from gateway.decide.facts_codec import facts_box
from gateway.feeds.markets import MarketList
from gateway.feeds.prices import PriceFeed
from gateway.feeds.rulestate import RuleState, remember_version
from gateway.feeds.upstream import Upstream
from gateway.http import health, proxy
from gateway.http.admin import audit as admin_audit
from gateway.http.admin import customers as admin_customers
from gateway.http.admin import decisions as admin_decisions
from gateway.http.admin import deposits as admin_deposits
from gateway.http.admin import kyc as admin_kyc
from gateway.http.admin import openapi as admin_openapi
from gateway.http.admin import reports as admin_reports
from gateway.http.admin import review as admin_review
from gateway.http.admin import rule_packs as admin_rule_packs
from gateway.http.admin import sanctions as admin_sanctions
from gateway.http.admin import sanctions_retro as admin_sanctions_retro
from gateway.http.admin.edge import admin_edge
from gateway.http.admin.tokens import AdminTokens
from gateway.http.middleware import edge_headers, errors
from gateway.metrics import GatewayMetrics
from gateway.review.context import review_context
from gateway.sanctions.context import sanctions_context
from gateway.sanctions.retro.context import retro_context
from gateway.sealing import SecretBox
from gateway.settings import Settings
from gateway.store import db
from gateway.store.migrations import migrate_up
from gateway.store.writer import DecisionWriter

log = logging.getLogger(__name__)
EXCHANGE_PREFIXES = ("/api/", "/sapi/", "/fapi/", "/dapi/")


def create_app(settings: Settings, *, migrate: bool = True) -> web.Application:
    if not settings.secret_key.get_secret_value():
        raise ValueError("GATEWAY_SECRET_KEY is required")
    # The admin edge runs inside `errors`, which presents what it refuses.
    app = web.Application(middlewares=[errors, admin_edge], client_max_size=settings.max_body_bytes)
    app[K.SETTINGS] = settings
    app.on_response_prepare.append(edge_headers)  # Server and X-Request-Id on every answer
    app[K.METRICS] = GatewayMetrics()
    app[K.RULES] = RuleState(settings)  # a bad pack stops the start, naming file and field
    app[K.SECRET_BOX] = SecretBox(settings.secret_key.get_secret_value())
    app[K.FACTS_BOX] = facts_box(settings.secret_key.get_secret_value())
    app[K.ADMIN_TOKENS] = AdminTokens(settings.admin_tokens)
    app.cleanup_ctx.append(_database(migrate))
    app.cleanup_ctx.append(_upstream)
    app.cleanup_ctx.append(_writer)
    app.cleanup_ctx.append(audit_context)
    app.cleanup_ctx.append(review_context)  # after the audit context: it logs events
    app.cleanup_ctx.append(sanctions_context)
    app.cleanup_ctx.append(retro_context)  # after the sanctions context: it scans after switches
    app.router.add_routes(health.routes)
    app.router.add_routes(admin_customers.routes)
    app.router.add_routes(admin_decisions.routes)
    app.router.add_routes(admin_deposits.routes)
    app.router.add_routes(admin_kyc.routes)
    app.router.add_routes(admin_rule_packs.routes)
    app.router.add_routes(admin_audit.routes)
    app.router.add_routes(admin_review.routes)
    app.router.add_routes(admin_reports.routes)
    app.router.add_routes(admin_sanctions.routes)
    app.router.add_routes(admin_sanctions_retro.routes)
    app.router.add_routes(admin_openapi.routes)
    for prefix in EXCHANGE_PREFIXES:
        app.router.add_route("*", prefix + "{tail:.*}", proxy.handle_exchange_call)
    return app


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
    prices = PriceFeed(upstream, markets, settings.fx_rates, refresh=settings.prices_refresh_seconds)
    await prices.refresh()
    prices.start()
    app[K.UPSTREAM] = upstream
    app[K.MARKETS] = markets
    app[K.PRICES] = prices
    yield
    await prices.stop()
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
