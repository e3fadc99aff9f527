"""Cross-site request forgery: every console request that is not GET or HEAD carries the
session's CSRF token, in the form field `csrf_token` ({{ csrf_field() }}) or, from htmx,
the header X-CSRF-Token (base.html sets hx-headers). Without it: the 403 page, and the
page's handler never runs, so nothing changes. The session cookie is SameSite=Strict as
well; the token is what holds when a browser does not honour that.

The sign-in form has no session yet: it is protected by a double-submit token, a random
value both in a cookie scoped to the sign-in path and in the form, which must agree
(`login_form_ok`, checked by the sign-in handler itself).

Forms are read here, strictly, once: urlencoded only, valid UTF-8 after unescaping, no
control character but tab and line breaks (a note's text), so no page hands Postgres or a
log a value it would refuse. Pages read the same values with `await form_of(request)`.
"""

from __future__ import annotations

import hmac
import re
from typing import Final

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from gateway import appkeys as K
from gateway.http.admin.edge import BadText, unescaped
from gateway.http.admin.requests import STORED_CONTROL
from gateway.http.console import LOGIN_PATH
from gateway.http.console.errors import ConsoleError, bad_input
from gateway.http.console.render import CSRF_FIELD, CSRF_HEADER
from gateway.http.console.session import console_user, well_formed
from gateway.http.middleware import Handler

LOGIN_COOKIE: Final = "gw_console_login"
SAFE_METHODS: Final = frozenset({"GET", "HEAD"})
FORM_TYPE: Final = "application/x-www-form-urlencoded"
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\[\]-]{1,64}")
_FORM = web.RequestKey[MultiDictProxy[str]]("console_form")


def _refused(request: web.Request) -> ConsoleError:
    metrics = request.app[K.METRICS]
    metrics.child(metrics.console_refusals, "csrf").inc()
    return ConsoleError(
        403, "Form expired", "This form is not from your current session; open the page again and resend it."
    )


def parse_form(body: bytes) -> MultiDict[str]:
    """An urlencoded body, strictly (see the module's docstring), or a 400."""
    try:
        text = body.decode("ascii")  # browsers percent-escape everything else
    except UnicodeDecodeError as exc:
        raise bad_input("The form is not URL-encoded text.") from exc
    fields: MultiDict[str] = MultiDict()
    for piece in text.split("&") if text else ():
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition("=")
        try:
            name = unescaped(raw_name, plus_is_space=True)
            value = unescaped(raw_value, plus_is_space=True, control=STORED_CONTROL)
        except BadText as exc:
            raise bad_input(f"A form field {exc}.") from exc
        if not _FIELD_NAME.fullmatch(name):
            raise bad_input("A form field's name is not one the console uses.")
        fields.add(name, value)
    return fields


async def form_of(request: web.Request) -> MultiDictProxy[str]:
    """The request's form fields, read and checked once."""
    if _FORM not in request:
        if request.content_type not in (FORM_TYPE, "application/octet-stream"):
            raise ConsoleError(415, "Unsupported form", "Console forms are sent URL-encoded.")
        body = await request.read()
        if request.content_type != FORM_TYPE and body:
            raise ConsoleError(415, "Unsupported form", "Console forms are sent URL-encoded.")
        request[_FORM] = MultiDictProxy(parse_form(body))
    return request[_FORM]


def tokens_match(sent: str | None, expected: str) -> bool:
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())


def login_form_ok(request: web.Request, form: MultiDictProxy[str]) -> bool:
    """The sign-in form's double-submit check: its token equals the sign-in cookie's."""
    cookie = request.cookies.get(LOGIN_COOKIE)
    return well_formed(cookie) and cookie is not None and tokens_match(form.get(CSRF_FIELD), cookie)


async def console_csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The console area's inner middleware (gateway/http/middleware.py, AREA_MIDDLEWARES)."""
    unchecked = (
        request.method in SAFE_METHODS
        or request.match_info.http_exception is not None  # 404/405: no page runs
    )
    if unchecked:
        return await handler(request)
    form = await form_of(request)
    # The sign-in form's double-submit token is checked by its handler (signin.py), which
    # answers a stale one with a fresh form.
    if request.path != LOGIN_PATH:
        user = await console_user(request)  # signed out: to the sign-in page
        sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
        if not tokens_match(sent, user.csrf_token):
            raise _refused(request)
    return await handler(request)
