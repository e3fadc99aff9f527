"""The retro-screening worker's construction and the scan a sanctions load answers with
(gateway/sanctions/retro/screener.py); started and stopped by gateway/http/wiring.py."""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import asyncpg

from gateway.audit.events import EventLog
from gateway.metrics import GatewayMetrics
from gateway.sanctions.retro.screener import RetroScreener
from gateway.settings import Settings
from gateway.store import db

log = logging.getLogger(__name__)


def screener_for(settings: Settings, events: EventLog, metrics: GatewayMetrics) -> RetroScreener:
    def connect() -> AbstractAsyncContextManager[asyncpg.Connection]:
        timeout = settings.db_timeout_seconds
        return db.dedicated(settings.require_database_url(), timeout, command_timeout=timeout)

    # A replica still on the list before the switch screens with it until its next
    # refresh; a decision taken then may take up to a database call's timeout to commit.
    settle = timedelta(seconds=settings.db_timeout_seconds)
    return RetroScreener(
        connect,
        events,
        metrics,
        lookback=timedelta(days=settings.sanctions_lookback_days),
        grace=timedelta(seconds=settings.sanctions_refresh_seconds) + settle,
        settle=settle,
        batch=settings.sanctions_retro_batch,
        every=settings.sanctions_retro_seconds,
    )


async def scan_after_load(
    pool: asyncpg.Pool, screener: RetroScreener, timeout: float
) -> dict[str, Any] | None:
    """The scan of the switch in force, for a load's answer: {id, state}, or None when it
    cannot be had now (the worker makes it at its next round either way)."""
    try:
        async with pool.acquire(timeout=timeout) as conn:
            scan = await screener.ensure_scan(conn)
    except (*db.UNAVAILABLE_ERRORS, db.DatabaseUnavailable, asyncpg.PostgresError) as exc:
        log.warning("retro-screening scan not made with the load; the worker will: %r", exc)
        return None
    return None if scan is None else {"id": str(scan.id), "state": scan.state, "additions": scan.additions}
