"""Who is signed in to the console: a server-side session in Postgres, named by a random
id in the `gw_console` cookie (HttpOnly, SameSite=Strict, Path=/console, Secure over TLS).

Pages ask `await console_user(request, Permission.X)` with the Permission the matching
admin endpoint requires: no valid session redirects to the sign-in page, a role without
the permission gets the console's 403 page.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import unquote

from aiohttp import web
from yarl import URL

from gateway import appkeys as K
from gateway.http.console import CONSOLE_HOME, CONSOLE_PREFIX, LOGIN_PATH
from gateway.http.console.errors import ConsoleForbidden
from gateway.roles import ROLE_PERMISSIONS, Permission
from gateway.store import console_sessions
from gateway.store.db import connection

SESSION_COOKIE: Final = "gw_console"
COOKIE_PATH: Final = CONSOLE_PREFIX.rstrip("/")
# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
SESSION_ID_BYTES: Final = 32
_RANDOM_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
# A console path and query as a browser sends them: RFC 3986 characters, escaped beyond.
_NEXT = re.compile(r"/console/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")
MAX_NEXT_CHARS: Final = 2_000


@dataclass(frozen=True)
class ConsoleUser:
    role: str
    actor: str  # gateway.audit.events.admin_actor(role, token): the same label as the admin API's
    # Secrets of the session: never in a repr (a log line, a test's failure message).
    csrf_token: str = field(repr=False)
    session_id: str = field(repr=False)

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


# The request's user, once looked up, for the page and the CSRF check alike.
_USER = web.RequestKey("console_user", ConsoleUser)
_NO_USER = web.RequestKey("console_no_user", bool)


def new_token() -> str:
    """A random id or CSRF token: 256 bits, URL-safe."""
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def well_formed(token: str | None) -> bool:
    """Whether `token` could be one new_token made (anything else is not looked up)."""
    return token is not None and _RANDOM_TOKEN.fullmatch(token) is not None


def now() -> datetime:
    return datetime.now(UTC)


def idle_limit(request: web.Request) -> timedelta:
    return timedelta(minutes=request.app[K.SETTINGS].console_idle_minutes)


def session_lifetime(request: web.Request) -> timedelta:
    return timedelta(hours=request.app[K.SETTINGS].console_session_hours)


def over_tls(request: web.Request) -> bool:
    """Whether the browser reached us over TLS: directly, or through a proxy listed in
    GATEWAY_CONSOLE_TRUSTED_PROXIES that says so in X-Forwarded-Proto (anyone else could
    send that header, so only a listed proxy's is believed)."""
    if request.secure:
        return True
    trusted = request.app[K.SETTINGS].console_trusted_proxies
    forwarded = request.headers.get("X-Forwarded-Proto", "").strip().lower()
    return request.remote in trusted and forwarded == "https"


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name, value, path=path, httponly=True, samesite="Strict", secure=over_tls(request) or None
    )


def clear_cookie(response: web.StreamResponse, name: str, path: str) -> None:
    response.del_cookie(name, path=path)


def safe_next(raw: str | None) -> str:
    """Where to go after sign-in: only a path of this console, as sent (percent-escaped
    ASCII), else the home page. Refused: other sites (`//host`, `/\\host`, schemes), dot
    segments out of /console/ (escaped ones too: browsers resolve `%2e%2e`), and anything a
    Location header cannot carry as it is (line breaks, spaces, non-ASCII)."""
    if not raw or len(raw) > MAX_NEXT_CHARS or not _NEXT.fullmatch(raw) or raw.startswith(LOGIN_PATH):
        return CONSOLE_HOME
    path = raw.partition("?")[0]
    if "//" in path or any(unquote(segment) in (".", "..") for segment in path.split("/")):
        return CONSOLE_HOME
    return raw


def login_redirect(request: web.Request) -> web.HTTPSeeOther:
    # Only a GET's place is worth coming back to; a form's target would be posted to again.
    back = request.rel_url.raw_path_qs if request.method in ("GET", "HEAD") else CONSOLE_HOME
    return web.HTTPSeeOther(str(URL(LOGIN_PATH).with_query(next=back)))


async def current_user(request: web.Request) -> ConsoleUser | None:
    """The signed-in user of this request, or None; looked up (and the session touched)
    once per request."""
    if _USER in request:
        return request[_USER]
    if request.get(_NO_USER):
        return None
    session_id = request.cookies.get(SESSION_COOKIE)
    found = None
    if well_formed(session_id):
        assert session_id is not None
        settings = request.app[K.SETTINGS]
        async with connection(request.app[K.POOL], settings.db_timeout_seconds) as conn:
            row = await console_sessions.touch(
                conn, console_sessions.digest_of(session_id), now(), idle_limit(request)
            )
        # A session opened with a token that has since been taken away (or given another
        # role) ends now, not at its expiry.
        if row is not None and request.app[K.ADMIN_TOKENS].still_held(row.actor, row.role):
            found = ConsoleUser(row.role, row.actor, row.csrf_token, session_id)
    if found is None:
        request[_NO_USER] = True
    else:
        request[_USER] = found
    return found


def known_user(request: web.Request) -> ConsoleUser | None:
    """The user if this request already looked them up (for error pages: no database)."""
    return request.get(_USER)


async def console_user(request: web.Request, permission: Permission | None = None) -> ConsoleUser:
    """The signed-in user, allowed `permission`; else a redirect to sign in (no valid
    session) or the 403 page (the role lacks it)."""
    user = await current_user(request)
    if user is None:
        raise login_redirect(request)
    if permission is not None and not user.can(permission):
        raise ConsoleForbidden(f"Role {user.role} may not {permission.value}.")
    return user
