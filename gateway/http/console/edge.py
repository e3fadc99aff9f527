"""The console's edge: every /console request's path and query checked as the admin API's
are (gateway/http/admin/edge.py), and whatever a page raises presented as an HTML error
page: ConsoleError with its status, an unknown page 404, the database down 503 (counted
fail-closed), and no 500 but for a bug, which is logged with its request id.

The `errors` middleware (gateway/http/middleware.py) hands /console requests straight
through, so no JSON presenter ever answers a browser here.
"""

from __future__ import annotations

import logging

import asyncpg
from aiohttp import web

from gateway import appkeys as K
from gateway import logs
from gateway.http.admin.edge import check_path, check_query
from gateway.http.admin.errors import AdminError
from gateway.http.console import CONSOLE_HOME
from gateway.http.console.errors import ConsoleError, bad_input
from gateway.http.console.render import render
from gateway.http.console.session import current_user, known_user
from gateway.http.middleware import Handler
from gateway.store.db import UNAVAILABLE_ERRORS, DatabaseUnavailable

log = logging.getLogger(__name__)
_DATABASE_DOWN: tuple[type[BaseException], ...] = (
    DatabaseUnavailable, asyncpg.exceptions.QueryCanceledError, *UNAVAILABLE_ERRORS,
)  # fmt: skip
_TITLES = {
    400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Method not allowed",
    413: "Too large", 415: "Unsupported form", 429: "Too many attempts", 503: "Unavailable",
}  # fmt: skip
_MESSAGES = {
    404: "No such page.", 405: "That is not something this page does.",
    413: "The form is larger than the console accepts.",
}  # fmt: skip


def check_input(request: web.Request) -> None:
    """The admin edge's checks of the raw path and query, answered as a 400 page."""
    try:
        check_path(request)
        check_query(request.rel_url.raw_query_string)
    except AdminError as exc:
        problems = "; ".join(f"{d.get('field')}: {d.get('problem')}" for d in exc.details or [])
        metrics = request.app[K.METRICS]
        metrics.child(metrics.console_refusals, "bad_input").inc()
        raise bad_input(f"The address is not one the console can read ({problems or exc.message}).") from exc


async def error_page(
    request: web.Request, status: int, title: str, message: str, *, look_up: bool = True
) -> web.Response:
    """The error page, with the navigation when the person is signed in (looked up unless
    the database is what failed: the page must not fail in turn)."""
    user = known_user(request)
    if user is None and look_up:
        try:
            user = await current_user(request)
        except _DATABASE_DOWN:
            user = None
    return render(
        request, "error.html", user, status=status, code=status, title=title, message=message,
        request_id=logs.request_id.get(), back=CONSOLE_HOME,
    )  # fmt: skip


async def console_edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The console area's outer middleware (gateway/http/middleware.py, AREA_MIDDLEWARES)."""
    try:
        # An unknown path or method is the router's answer (404/405); nothing to check.
        if request.match_info.http_exception is None:
            check_input(request)
        return await handler(request)
    except ConsoleError as exc:
        return await error_page(request, exc.status, exc.title, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # a redirect: post/redirect/get, or to the sign-in page
        message = _MESSAGES.get(exc.status, "The request could not be served.")
        response = await error_page(request, exc.status, _TITLES.get(exc.status, exc.reason), message)
        if isinstance(exc, web.HTTPMethodNotAllowed):
            response.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
        return response
    except _DATABASE_DOWN as exc:
        log.warning("console %s %s: database unavailable: %r", request.method, _route(request), exc)
        metrics = request.app[K.METRICS]
        metrics.child(metrics.fail_closed, "console_database_unavailable").inc()
        message = "The database is unavailable; nothing was changed. Try again."
        return await error_page(request, 503, _TITLES[503], message, look_up=False)
    except Exception:
        # A bug in a page: logged with the request id, the person told only that.
        log.exception("console %s %s failed", request.method, _route(request))
        return await error_page(
            request, 500, "Something went wrong", "The page failed; the error is logged.", look_up=False
        )


def _route(request: web.Request) -> str:
    """The route's template for logs: a path can name a customer."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"
