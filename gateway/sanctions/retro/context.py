"""The retro-screening worker inside a running gateway (gateway/sanctions/retro/screener.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp import web

from gateway import appkeys as K
from gateway.sanctions.retro.screener import RetroScreener
from gateway.store.db import UNAVAILABLE_ERRORS, DatabaseUnavailable

log = logging.getLogger(__name__)

RETRO = web.AppKey("sanctions_retro", RetroScreener)


def screener_for(app: web.Application) -> RetroScreener:
    settings = app[K.SETTINGS]

    @asynccontextmanager
    async def connect() -> AsyncIterator[asyncpg.Connection]:
        try:
            conn = await asyncpg.connect(
                settings.require_database_url(),
                timeout=settings.db_timeout_seconds,
                command_timeout=settings.db_timeout_seconds,
            )
        except UNAVAILABLE_ERRORS as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        try:
            yield conn
        finally:
            await conn.close()

    # A replica still on the list before the switch screens with it until its next
    # refresh; a decision taken then may take up to a database call's timeout to commit.
    settle = timedelta(seconds=settings.db_timeout_seconds)
    return RetroScreener(
        connect,
        app[K.AUDIT_EVENTS],
        app[K.METRICS],
        lookback=timedelta(days=settings.sanctions_lookback_days),
        grace=timedelta(seconds=settings.sanctions_refresh_seconds) + settle,
        settle=settle,
        batch=settings.sanctions_retro_batch,
        every=settings.sanctions_retro_seconds,
    )


async def retro_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx, after the audit and sanctions contexts: hits are audit events."""
    screener = screener_for(app)
    app[RETRO] = screener
    screener.start()
    yield
    await screener.stop()


async def scan_after_load(app: web.Application) -> dict[str, Any] | None:
    """The scan of the switch in force, for a load's answer: {id, state}, or None when it
    cannot be had now (the worker makes it at its next round either way)."""
    try:
        async with app[K.POOL].acquire(timeout=app[K.SETTINGS].db_timeout_seconds) as conn:
            scan = await app[RETRO].ensure_scan(conn)
    except (*UNAVAILABLE_ERRORS, DatabaseUnavailable, asyncpg.PostgresError) as exc:
        log.warning("retro-screening scan not made with the load; the worker will: %r", exc)
        return None
    return None if scan is None else {"id": str(scan.id), "state": scan.state, "additions": scan.additions}
