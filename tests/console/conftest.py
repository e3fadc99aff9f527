"""The console's fixtures: a running gateway (mock exchange, real Postgres, real HTTP) and
browser-like clients signed in through the real sign-in form, one per role.

    async def test_x(console_app: Gateway, signed_in: SignIn) -> None:
        officer = await signed_in("compliance_officer")
        async with officer.get("/console/review") as response: ...
        async with officer.post("/console/review/...", data={"note": "..."}) as response:
            assert response.status == 303   # the csrf_token field is added for you

`client.csrf` is the session's CSRF token; `client.session` the aiohttp ClientSession
(its cookie jar holds the session cookie); `client.cookie` the session id itself.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest_asyncio
from yarl import URL

from gateway.http.console.render import CSRF_FIELD
from gateway.http.console.session import SESSION_COOKIE
from gateway.store.console_sessions import digest_of
from tests.conftest import Gateway
from tests.support import AUDITOR_TOKEN, OFFICER_TOKEN, OPERATOR_TOKEN

TOKENS = {"auditor": AUDITOR_TOKEN, "operator": OPERATOR_TOKEN, "compliance_officer": OFFICER_TOKEN}
ROLES = tuple(TOKENS)
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([A-Za-z0-9_-]+)"')


def csrf_in(page: str) -> str:
    """The CSRF token a page's forms carry ({{ csrf_field() }})."""
    found = _CSRF_INPUT.search(page)
    assert found is not None, "no csrf_token field on the page"
    return found[1]


class ConsoleClient:
    """A browser's view of the console: its own cookie jar, the session's CSRF token."""

    def __init__(self, base: str, session: aiohttp.ClientSession, role: str | None = None) -> None:
        self.base = base
        self.session = session
        self.role = role
        self.csrf = ""

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def cookie(self) -> str | None:
        found = self.session.cookie_jar.filter_cookies(URL(self.base + "/console/")).get(SESSION_COOKIE)
        return found.value if found is not None else None

    def get(self, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("allow_redirects", False)
        return self.session.get(self.url(path), **kwargs)

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        """A form POST; with this session's csrf_token field unless csrf=False."""
        fields = dict(data or {})
        if csrf:
            fields.setdefault(CSRF_FIELD, self.csrf)
        kwargs.setdefault("allow_redirects", False)
        return self.session.post(self.url(path), data=fields, **kwargs)

    async def sign_in(self, token: str, next_path: str | None = None) -> aiohttp.ClientResponse:
        """Through the form, as a browser: GET it (pre-session token), POST the token."""
        async with self.get("/console/login") as form:
            assert form.status == 200, await form.text()
            login_csrf = csrf_in(await form.text())
        fields = {"token": token, CSRF_FIELD: login_csrf}
        if next_path is not None:
            fields["next"] = next_path
        async with self.post("/console/login", fields, csrf=False) as answer:
            await answer.read()
            return answer

    async def session_csrf(self, database_url: str) -> str:
        """The session's CSRF token, read where the server keeps it."""
        assert self.cookie is not None, "not signed in"
        conn = await asyncpg.connect(database_url)
        try:
            token = await conn.fetchval(
                "SELECT csrf_token FROM console_sessions WHERE digest = $1", digest_of(self.cookie)
            )
        finally:
            await conn.close()
        assert isinstance(token, str)
        return token


SignIn = Callable[[str], Awaitable[ConsoleClient]]
NewClient = Callable[[], Awaitable[ConsoleClient]]


@pytest_asyncio.fixture
async def console_app(gateway: Gateway) -> Gateway:
    """The gateway serving the console (the same app: the console is part of it)."""
    return gateway


@pytest_asyncio.fixture
async def browser(console_app: Gateway) -> AsyncIterator[NewClient]:
    """New signed-out browsers (each its own cookie jar), closed after the test."""
    opened: list[aiohttp.ClientSession] = []

    async def new() -> ConsoleClient:
        # unsafe: the jar keeps cookies of an IP-address host (127.0.0.1).
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        opened.append(session)
        return ConsoleClient(console_app.url, session)

    yield new
    for session in opened:
        await session.close()


@pytest_asyncio.fixture
async def signed_in(console_app: Gateway, browser: NewClient) -> SignIn:
    """`await signed_in(role)`: a browser signed in with that role's admin token."""

    async def sign_in(role: str) -> ConsoleClient:
        client = await browser()
        client.role = role
        answer = await client.sign_in(TOKENS[role])
        assert answer.status == 303, answer.status
        client.csrf = await client.session_csrf(console_app.database_url)
        return client

    return sign_in
