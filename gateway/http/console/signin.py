"""Signing in and out of the console.

GET /console/login shows the form; POST /console/login takes the admin token from the
form body (never a URL: it would reach logs and history), checks it as the admin API does
(AdminTokens.role_of), and starts a server-side session: a random id in the HttpOnly
cookie, its SHA-256 in Postgres, with a CSRF token, an absolute expiry
(GATEWAY_CONSOLE_SESSION_HOURS) and an idle limit (GATEWAY_CONSOLE_IDLE_MINUTES). Then 303
to `next`, a console path only. A token not accepted answers the form again, 401, with
one message whatever was wrong, counted and throttled per address (throttle.py).

Sign-in and sign-out are audit events, in the transaction that creates or ends the
session, under the actor label the admin API records for the same token.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Final

from aiohttp import web

from gateway import appkeys as K
from gateway.audit.events import EventKind, admin_actor
from gateway.http.console import CONSOLE_HOME, LOGIN_PATH
from gateway.http.console.csrf import LOGIN_COOKIE, form_of, login_form_ok
from gateway.http.console.render import CSRF_FIELD, render, see_other
from gateway.http.console.session import (
    COOKIE_PATH,
    SESSION_COOKIE,
    clear_cookie,
    console_user,
    idle_limit,
    new_token,
    now,
    safe_next,
    session_lifetime,
    set_cookie,
    well_formed,
)
from gateway.http.console.throttle import THROTTLE
from gateway.store import console_sessions
from gateway.store.db import connection

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

LOGOUT_PATH: Final = "/console/logout"
SUBJECT_TYPE: Final = "console_session"
# As the admin API reads a bearer token (gateway/http/admin/requests.py): printable ASCII.
_TOKEN_SHAPE = re.compile(r"[\x21-\x7e]{1,512}")
_SUBJECT_CHARS: Final = 16  # of the session digest's hex: ties a sign-out to its sign-in


def _login_page(
    request: web.Request, next_path: str, *, status: int = 200, problem: str | None = None
) -> web.Response:
    """The form, with the pre-session token both in it and in the sign-in cookie."""
    token = request.cookies.get(LOGIN_COOKIE)
    if not well_formed(token):
        token = new_token()
    assert token is not None
    response = render(
        request,
        "login.html",
        None,
        status=status,
        next_path=next_path,
        problem=problem,
        **{CSRF_FIELD: token},
    )
    set_cookie(request, response, LOGIN_COOKIE, token, LOGIN_PATH)
    return response


def _count(request: web.Request, result: str) -> None:
    metrics = request.app[K.METRICS]
    metrics.child(metrics.console_sign_ins, result).inc()


@routes.get("/console")
async def console_root(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently(CONSOLE_HOME)


@routes.get(LOGIN_PATH)
async def login_form(request: web.Request) -> web.Response:
    return _login_page(request, safe_next(request.query.get("next")))


@routes.post(LOGIN_PATH)
async def sign_in(request: web.Request) -> web.Response:
    form = await form_of(request)
    next_path = safe_next(form.get("next"))
    if not login_form_ok(request, form):
        _count(request, "bad_form")
        return _login_page(
            request, next_path, status=403, problem="The sign-in form had expired; sign in again."
        )
    address = request.remote or "unknown"
    throttle = request.app[THROTTLE]
    if throttle.blocked(address, time.monotonic()):
        _count(request, "throttled")
        problem = "Too many sign-ins failed from here; wait a few minutes and try again."
        return _login_page(request, next_path, status=429, problem=problem)
    token = form.get("token", "").strip()
    role = request.app[K.ADMIN_TOKENS].role_of(token) if _TOKEN_SHAPE.fullmatch(token) else None
    if role is None:
        throttle.failed(address, time.monotonic())
        _count(request, "bad_token")
        log.info("console sign-in refused: token not accepted")
        return _login_page(request, next_path, status=401, problem="That token was not accepted.")
    throttle.succeeded(address)
    session_id = await _start_session(request, role, admin_actor(role, token))
    _count(request, "signed_in")
    response = see_other(next_path)
    set_cookie(request, response, SESSION_COOKIE, session_id, COOKIE_PATH)
    clear_cookie(response, LOGIN_COOKIE, LOGIN_PATH)
    return response


async def _start_session(request: web.Request, role: str, actor: str) -> str:
    """A new session (a new id at every sign-in: none carried over from before it); the
    browser's previous one, if any, ended. Ended sessions are pruned first, bounded."""
    session_id, csrf_token, started = new_token(), new_token(), now()
    digest = console_sessions.digest_of(session_id)
    previous = request.cookies.get(SESSION_COOKIE)
    settings = request.app[K.SETTINGS]
    async with connection(request.app[K.POOL], settings.db_timeout_seconds) as conn:
        await console_sessions.prune(conn, started, idle_limit(request))
        async with request.app[K.AUDIT_EVENTS].transaction(conn) as events:
            if well_formed(previous):
                assert previous is not None
                await console_sessions.delete(conn, console_sessions.digest_of(previous))
            expires = started + session_lifetime(request)
            await console_sessions.create(conn, digest, role, actor, csrf_token, started, expires)
            await events.append(
                EventKind.CONSOLE_SIGNED_IN, actor, subject_type=SUBJECT_TYPE,
                subject_id=digest.hex()[:_SUBJECT_CHARS],
                details={"role": role, "expires_at": expires.isoformat()},
            )  # fmt: skip
    return session_id


@routes.post(LOGOUT_PATH)
async def sign_out(request: web.Request) -> web.Response:
    user = await console_user(request)  # the CSRF check has run (csrf.py)
    digest = console_sessions.digest_of(user.session_id)
    settings = request.app[K.SETTINGS]
    async with (
        connection(request.app[K.POOL], settings.db_timeout_seconds) as conn,
        request.app[K.AUDIT_EVENTS].transaction(conn) as events,
    ):
        ended = await console_sessions.delete(conn, digest)
        if ended is not None:
            await events.append(
                EventKind.CONSOLE_SIGNED_OUT, user.actor, subject_type=SUBJECT_TYPE,
                subject_id=digest.hex()[:_SUBJECT_CHARS], details={"role": user.role},
            )  # fmt: skip
    response = see_other(LOGIN_PATH)
    clear_cookie(response, SESSION_COOKIE, COOKIE_PATH)
    return response
