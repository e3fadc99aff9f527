"""Error presenters: admin calls get one JSON shape, exchange calls get `{"code", "msg"}`.

Nothing internal leaks: an unexpected error is logged with its request id and answered
with a generic 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway import appkeys as K
from gateway.admin.errors import AdminError, error_response
from gateway.db import UNAVAILABLE_ERRORS, DatabaseUnavailable

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADMIN_PREFIX = "/admin/"
_DATABASE_DOWN: tuple[type[BaseException], ...] = (DatabaseUnavailable, *UNAVAILABLE_ERRORS)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One wrapper for every request (a middleware per dialect doubled the per-call cost)."""
    if request.path.startswith(ADMIN_PREFIX):
        return await _admin(request, handler)
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        # Last resort for the exchange dialect: an unexpected error is a Binance-style 500.
        log.exception("%s %s failed", request.method, request.path)
        body = {"code": -1000, "msg": "internal_error: An unknown error occurred."}
        return web.json_response(body, status=500)


async def _admin(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[K.METRICS]
    resource = request.match_info.route.resource
    # The route's template, also in logs: a path can name a customer.
    endpoint = resource.canonical if resource is not None else "unmatched"
    try:
        response = await handler(request)
    except AdminError as exc:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
    except web.HTTPNotFound:
        response = error_response(404, "not_found", "No such admin endpoint.")
    except web.HTTPMethodNotAllowed:
        response = error_response(405, "method_not_allowed", f"{request.method} is not allowed here.")
    except _DATABASE_DOWN as exc:
        log.warning("admin %s %s: database unavailable: %r", request.method, endpoint, exc)
        metrics.child(metrics.fail_closed, "admin_database_unavailable").inc()
        response = error_response(503, "database_unavailable", "The database is unavailable; try again.")
    except web.HTTPException:
        raise
    except Exception:
        log.exception("admin %s %s failed", request.method, endpoint)
        response = error_response(500, "internal_error", "Internal error.")
    metrics.child(metrics.admin_requests, endpoint, str(response.status)).inc()
    return response
