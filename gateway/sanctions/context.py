"""The sanctions list inside a running gateway: loaded at start (the packaged snapshot
first, if the database holds none), then refreshed every GATEWAY_SANCTIONS_REFRESH_SECONDS.

A start without a list does not stop the process: screening fails closed (503) until a
refresh succeeds, while everything that moves no money keeps working.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway import appkeys as K
from gateway.sanctions.service import SanctionsList


async def sanctions_context(app: web.Application) -> AsyncIterator[None]:
    """After the pool and the audit context: the bootstrap load is an audit event."""
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
