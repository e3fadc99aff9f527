"""The review service inside a running gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway import appkeys as K
from gateway.review.forwarder import ReviewService


async def review_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx, after the database, the upstream and the audit context: one sweep at
    start (a restart resumes what a crash left in forwarding), then every
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
