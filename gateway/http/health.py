"""Liveness, readiness and the Prometheus endpoint."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway import appkeys as K
from gateway.store.db import UNAVAILABLE_ERRORS

routes = web.RouteTableDef()
_READY_TIMEOUT = 2.0


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    checks = {"database": await _database_ok(request), "upstream": await request.app[K.UPSTREAM].reachable()}
    ready = all(checks.values())
    return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)


async def _database_ok(request: web.Request) -> bool:
    try:
        await asyncio.wait_for(request.app[K.POOL].fetchval("SELECT 1"), _READY_TIMEOUT)
    except UNAVAILABLE_ERRORS:
        return False
    return True


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = request.app[K.METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
