"""The one middleware: a request id for every call, error presenters (admin calls get
one JSON shape, exchange calls get `{"code", "msg"}`), and the optional access log.

The admin API and the console have middlewares of their own (their input checks, the
console's CSRF check), registered under AREA_MIDDLEWARES and run for their own requests
only: exchange calls, the hot path, pass through none of them.

Nothing internal leaks: an unexpected error is logged with its request id and answered
with a generic 500.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import orjson
from aiohttp import web

from gateway import appkeys as K
from gateway import logs
from gateway.binance.errors import error_body, wire_error
from gateway.http.admin.errors import AdminError, error_response
from gateway.http.console import is_console_path
from gateway.http.edge_protocol import SERVER_NAME
from gateway.store.db import UNAVAILABLE_ERRORS, DatabaseUnavailable

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Middleware(Protocol):
    def __call__(self, request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]: ...


ADMIN_AREA, CONSOLE_AREA = "admin", "console"
# Per area, its middlewares, outermost first.
AREA_MIDDLEWARES = web.AppKey("area_middlewares", dict[str, tuple[Middleware, ...]])
ADMIN_PREFIX = "/admin/"
_DATABASE_DOWN: tuple[type[BaseException], ...] = (DatabaseUnavailable, *UNAVAILABLE_ERRORS)
# The exchange dialect's routes are one catch-all per prefix: the path itself names the
# call. Capped: it is the client's.
_CATCH_ALL = "{tail}"
_ROUTE_CHARS = 200


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One wrapper for every request (a middleware per dialect doubled the per-call cost)."""
    logs.request_id.set(logs.request_id_for(request.headers.get(logs.REQUEST_ID_HEADER)))
    started = time.perf_counter()
    status = 500
    try:
        if request.path.startswith(ADMIN_PREFIX):
            response = await _admin(request, _within(request, ADMIN_AREA, handler))
        elif is_console_path(request.path):
            # The console presents its own errors as HTML pages (gateway/http/console/edge.py).
            response = await _within(request, CONSOLE_AREA, handler)(request)
        else:
            response = await _exchange(request, handler)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if request.app[K.SETTINGS].access_log:
            logs.log_access(request.method, _route(request), status, (time.perf_counter() - started) * 1000)


def _within(request: web.Request, area: str, handler: Handler) -> Handler:
    """`handler` inside the area's own middlewares."""
    for middleware in reversed(request.app[AREA_MIDDLEWARES].get(area, ())):
        handler = functools.partial(middleware, handler=handler)
    return handler


async def _exchange(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        # Outside both APIs, health and metrics: an exchange client still reads the answer.
        return _refusal(request, "unknown_endpoint", "No such endpoint.", "404")
    except web.HTTPMethodNotAllowed as exc:
        response = _refusal(request, "method_not_allowed", f"{request.method} is not allowed here.", "405")
        response.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
        return response
    except web.HTTPException:
        raise
    except _DATABASE_DOWN as exc:
        # Whatever step touched the database when it failed, the call was not decided:
        # fail closed, 503, counted, never a 500 (a handler's own mapping comes first).
        log.warning("%s %s: database unavailable: %r", request.method, _route(request), exc)
        metrics = request.app[K.METRICS]
        metrics.child(metrics.fail_closed, "decision_store_unavailable").inc()
        message = "Unable to record the decision; try again."
        return _refusal(request, "decision_store_unavailable", message, "503")
    except Exception:
        # Last resort for the exchange dialect: an unexpected error is a Binance-style 500.
        log.exception("%s %s failed", request.method, _route(request))
        body = {"code": -1000, "msg": "internal_error: An unknown error occurred."}
        return web.json_response(body, status=500)


def _refusal(request: web.Request, reason: str, message: str, status: str) -> web.Response:
    metrics = request.app[K.METRICS]
    metrics.child(metrics.refusals, reason).inc()
    metrics.child(metrics.requests, "unknown", status).inc()
    wire = wire_error(reason, None)
    body = orjson.dumps(error_body(wire.code, reason, message))
    return web.Response(body=body, status=wire.http_status, content_type="application/json")


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


def _route(request: web.Request) -> str:
    """The path for logs, never its query (signatures, API parameters): a route's template
    where it has one (an admin path can name a customer), else the raw path as sent."""
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    canonical = resource.canonical
    if not canonical.endswith(_CATCH_ALL):
        return canonical
    return request.raw_path.partition("?")[0][:_ROUTE_CHARS]


async def edge_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: on every answer the app makes, streamed ones included, the
    product name without versions and the request's id."""
    response.headers["Server"] = SERVER_NAME
    current = logs.request_id.get()
    if current is not None:
        response.headers[logs.REQUEST_ID_HEADER] = current
