"""Console sessions: signing in per role through the real form, what a wrong token gets,
the cookie's flags, the token kept out of pages and logs, both expiries, signing out, and
one session accepted by two gateway instances on one database (two workers)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from pydantic import SecretStr

from gateway import appkeys as K
from gateway.app import create_app
from gateway.http.console.csrf import LOGIN_COOKIE
from gateway.http.console.session import SESSION_COOKIE, safe_next
from gateway.http.console.throttle import MAX_FAILURES
from gateway.ops.pgserver import EmbeddedPostgres
from gateway.store.console_sessions import digest_of
from tests.conftest import Exchange, Gateway, gateway_settings, runtime_dsn
from tests.console.conftest import ROLES, TOKENS, ConsoleClient, NewClient, SignIn, csrf_in
from tests.support import OFFICER_TOKEN, serving

pytestmark = pytest.mark.asyncio


async def _status(client: ConsoleClient, path: str) -> tuple[int, str, str]:
    async with client.get(path) as response:
        return response.status, response.headers.get("Location", ""), await response.text()


async def _events(database_url: str, kind: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch("SELECT actor, details FROM audit_events WHERE kind = $1 ORDER BY seq", kind)
    finally:
        await conn.close()


async def _sql(database_url: str, query: str, *args: object) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.execute(query, *args)
    finally:
        await conn.close()


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_signs_in_and_is_shown_as_itself(
    console_app: Gateway, signed_in: SignIn, role: str
) -> None:
    client = await signed_in(role)
    status, _, page = await _status(client, "/console/nowhere")  # any page shows who is signed in
    assert status == 404
    assert role.replace("_", " ") in page and "Sign out" in page
    assert csrf_in(page) == client.csrf
    events = await _events(console_app.database_url, "console.signed_in")
    assert [e["actor"].split(":")[1] for e in events] == [role]


async def test_the_home_page_answers_each_role(signed_in: SignIn) -> None:
    """The Overview, or (until it is registered, or for a role that may not see it) a
    page of the role's navigation: never a loop back to itself."""
    for role in ROLES:
        client = await signed_in(role)
        status, location, _ = await _status(client, "/console/")
        if status == 303:
            assert location.startswith("/console/") and location != "/console/", (role, location)
        else:
            assert status in (200, 403), (role, status)


async def test_signed_out_pages_go_to_sign_in_and_come_back(browser: NewClient) -> None:
    client = await browser()
    status, location, _ = await _status(client, "/console/?x=1")
    assert (status, location) == (303, "/console/login?next=/console/?x%3D1")
    answer = await client.sign_in(OFFICER_TOKEN, next_path="/console/?x=1")
    assert answer.status == 303 and answer.headers["Location"] == "/console/?x=1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/console/review?id=1", "/console/review?id=1"),
        ("https://evil.example/console/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/console/\\evil.example", "/console/"),
        ("/consolex", "/console/"),
        ("/console/login", "/console/"),
        ("", "/console/"),
        (None, "/console/"),
        # What a Location header cannot carry as is (a 500, or a header injected).
        ("/console/\r\nSet-Cookie: a=b", "/console/"),
        ("/console/a b", "/console/"),
        ("/console/\u00e9", "/console/"),
        ("/console/customers/%EA%B9%80?a=b", "/console/customers/%EA%B9%80?a=b"),
        # Out of the console by dot segments, escaped or not.
        ("/console/../admin/v1/customers", "/console/"),
        ("/console/%2e%2e/admin/v1/customers", "/console/"),
        ("/console/review/%2E./x", "/console/"),
        ("/console//evil.example", "/console/"),
        ("/console/" + "a" * 3000, "/console/"),
    ],
)
async def test_next_is_a_console_path_only(raw: str | None, expected: str) -> None:
    assert safe_next(raw) == expected


async def test_a_hostile_next_still_signs_in_and_goes_home(browser: NewClient) -> None:
    client = await browser()
    answer = await client.sign_in(OFFICER_TOKEN, next_path="/console/\r\nSet-Cookie: x=y")
    assert answer.status == 303 and answer.headers["Location"] == "/console/"
    assert "x" not in {c.key for c in client.session.cookie_jar}


async def test_the_way_back_keeps_an_escaped_path(browser: NewClient) -> None:
    client = await browser()
    status, location, _ = await _status(client, "/console/customers/%EA%B9%80?view=1")
    assert status == 303
    async with client.get(location) as form:
        page = await form.text()
    assert 'name="next" value="/console/customers/%EA%B9%80?view=1"' in page


async def test_a_wrong_token_gets_the_form_again_401_counted(
    console_app: Gateway, browser: NewClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await browser()
    wrong = "wrong-token-that-should-never-be-logged"
    with caplog.at_level(logging.DEBUG):
        answer = await client.sign_in(wrong)
        async with client.get("/console/login") as again:
            page = await again.text()
    assert answer.status == 401
    assert client.cookie is None
    assert wrong not in page and wrong not in caplog.text
    metrics = console_app.app[K.METRICS]
    assert metrics.console_sign_ins.labels("bad_token")._value.get() == 1


async def test_the_token_is_never_in_a_page_url_or_log(
    console_app: Gateway, browser: NewClient, caplog: pytest.LogCaptureFixture
) -> None:
    console_app.app[K.SETTINGS].__dict__["access_log"] = True  # the access log too
    client = await browser()
    with caplog.at_level(logging.DEBUG):
        answer = await client.sign_in(OFFICER_TOKEN)
        location = answer.headers["Location"]
        status, _, page = await _status(client, "/console/nowhere")
    assert answer.status == 303 and OFFICER_TOKEN not in location
    assert status == 404 and OFFICER_TOKEN not in page
    assert OFFICER_TOKEN not in caplog.text and "/console/login" in caplog.text
    async with client.get("/console/login") as form:
        assert 'type="password"' in await form.text()


async def test_the_cookie_is_httponly_strict_and_scoped_to_the_console(browser: NewClient) -> None:
    client = await browser()
    answer = await client.sign_in(OFFICER_TOKEN)
    cookie = answer.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/console"
    assert not cookie["secure"]  # plain HTTP here; over TLS it is Secure (test below)
    assert len(cookie.value) >= 43


async def test_the_cookie_is_secure_behind_a_trusted_tls_proxy_only(
    database_url: str, exchange: Exchange, browser: NewClient
) -> None:
    settings = gateway_settings(
        runtime_dsn(database_url), exchange.url, migration_database_url=SecretStr(database_url),
        console_trusted_proxies=frozenset({"127.0.0.1"}),
    )  # fmt: skip
    async with serving(create_app(settings)) as url:
        client = await browser()
        client.base = url
        async with client.get("/console/login", headers={"X-Forwarded-Proto": "https"}) as form:
            assert form.cookies[LOGIN_COOKIE]["secure"]
    client = await browser()  # the default gateway trusts no proxy: the header is anyone's
    async with client.get("/console/login", headers={"X-Forwarded-Proto": "https"}) as form:
        assert not form.cookies[LOGIN_COOKIE]["secure"]


async def test_only_a_digest_of_the_session_id_is_stored(console_app: Gateway, signed_in: SignIn) -> None:
    client = await signed_in("auditor")
    assert client.cookie is not None
    conn = await asyncpg.connect(console_app.database_url)
    try:
        rows = await conn.fetch("SELECT * FROM console_sessions")
    finally:
        await conn.close()
    assert len(rows) == 1 and rows[0]["digest"] == digest_of(client.cookie)
    assert client.cookie not in repr(dict(rows[0])) and TOKENS["auditor"] not in repr(dict(rows[0]))


async def test_an_expired_session_is_refused(console_app: Gateway, signed_in: SignIn) -> None:
    client = await signed_in("auditor")
    assert client.cookie is not None
    await _sql(
        console_app.database_url,
        "UPDATE console_sessions SET expires_at = created_at + interval '1 microsecond' WHERE digest = $1",
        digest_of(client.cookie),
    )
    status, location, _ = await _status(client, "/console/nowhere-else")
    assert status == 404  # an unknown page is 404 whoever asks; a page needing a session:
    status, location, _ = await _status(client, "/console/")
    assert status == 303 and location.startswith("/console/login")


async def test_an_idle_session_is_refused(console_app: Gateway, signed_in: SignIn) -> None:
    client = await signed_in("auditor")
    assert client.cookie is not None
    idle = console_app.app[K.SETTINGS].console_idle_minutes
    await _sql(
        console_app.database_url,
        "UPDATE console_sessions SET last_seen_at = now() - make_interval(mins => $2::int + 1) WHERE digest = $1",
        digest_of(client.cookie), int(idle),
    )  # fmt: skip
    status, location, _ = await _status(client, "/console/")
    assert status == 303 and location.startswith("/console/login")


async def test_use_keeps_a_session_from_going_idle(console_app: Gateway, signed_in: SignIn) -> None:
    client = await signed_in("auditor")
    assert client.cookie is not None
    await _sql(
        console_app.database_url,
        "UPDATE console_sessions SET last_seen_at = now() - interval '5 minutes' WHERE digest = $1",
        digest_of(client.cookie),
    )
    await _status(client, "/console/")
    conn = await asyncpg.connect(console_app.database_url)
    try:
        seen = await conn.fetchval("SELECT now() - last_seen_at < interval '1 minute' FROM console_sessions")
    finally:
        await conn.close()
    assert seen is True


async def test_sign_out_ends_the_session_server_side(console_app: Gateway, signed_in: SignIn) -> None:
    client = await signed_in("compliance_officer")
    old_cookie = client.cookie
    assert old_cookie is not None
    async with client.post("/console/logout") as answer:
        assert answer.status == 303 and answer.headers["Location"] == "/console/login"
    assert client.cookie is None  # cleared in the browser
    # The old cookie, replayed, is refused: the session is gone from the server.
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: old_cookie})
    status, location, _ = await _status(client, "/console/")
    assert status == 303 and location.startswith("/console/login")
    events = await _events(console_app.database_url, "console.signed_out")
    assert len(events) == 1 and events[0]["actor"].startswith("admin:compliance_officer:")


async def test_signing_in_again_replaces_the_browsers_session(
    console_app: Gateway, signed_in: SignIn
) -> None:
    client = await signed_in("auditor")
    first = client.cookie
    answer = await client.sign_in(TOKENS["operator"])
    assert answer.status == 303 and client.cookie not in (None, first)
    conn = await asyncpg.connect(console_app.database_url)
    try:
        roles = await conn.fetch("SELECT role FROM console_sessions")
    finally:
        await conn.close()
    assert [r["role"] for r in roles] == ["operator"]


async def test_failed_sign_ins_are_throttled_per_address(console_app: Gateway, browser: NewClient) -> None:
    client = await browser()
    for _ in range(MAX_FAILURES):
        assert (await client.sign_in("not-a-token")).status == 401
    # Now even the right token is refused from this address, without being looked at.
    assert (await client.sign_in(OFFICER_TOKEN)).status == 429
    metrics = console_app.app[K.METRICS]
    assert metrics.console_sign_ins.labels("throttled")._value.get() == 1


async def test_ended_sessions_are_pruned_at_sign_in(console_app: Gateway, signed_in: SignIn) -> None:
    client = await signed_in("auditor")
    assert client.cookie is not None
    await _sql(
        console_app.database_url,
        "UPDATE console_sessions SET expires_at = created_at + interval '1 microsecond'",
    )
    await signed_in("operator")
    conn = await asyncpg.connect(console_app.database_url)
    try:
        roles = await conn.fetch("SELECT role FROM console_sessions")
    finally:
        await conn.close()
    assert [r["role"] for r in roles] == ["operator"]


@pytest_asyncio.fixture
async def second_worker(console_app: Gateway, exchange: Exchange) -> AsyncIterator[str]:
    """Another gateway instance on the same database, as a second worker or replica."""
    url = console_app.database_url
    settings = gateway_settings(runtime_dsn(url), exchange.url, migration_database_url=SecretStr(url))
    async with serving(create_app(settings)) as base:
        yield base


async def test_a_session_works_on_every_worker(second_worker: str, signed_in: SignIn) -> None:
    client = await signed_in("compliance_officer")
    first_base = client.base
    client.base = second_worker
    status, location, page = await _status(client, "/console/nowhere")
    assert status == 404 and "compliance officer" in page and csrf_in(page) == client.csrf
    # Signed out on one, signed out on all.
    async with client.post("/console/logout") as answer:
        assert answer.status == 303
    client.base = first_base
    status, location, _ = await _status(client, "/console/")
    assert status == 303 and location.startswith("/console/login")


async def test_a_token_taken_away_ends_its_sessions(
    console_app: Gateway, exchange: Exchange, signed_in: SignIn
) -> None:
    """A replica restarted without a token (or with it under another role) no longer
    accepts the console sessions that token opened, though they have not expired."""
    officer = await signed_in("compliance_officer")
    auditor = await signed_in("auditor")
    url = console_app.database_url
    rotated = gateway_settings(runtime_dsn(url), exchange.url, migration_database_url=SecretStr(url))
    tokens = dict(rotated.admin_tokens)
    del tokens[OFFICER_TOKEN]
    tokens["a-new-officer-token-after-rotation"] = "compliance_officer"
    async with serving(create_app(rotated.model_copy(update={"admin_tokens": tokens}))) as base:
        officer.base = auditor.base = base
        status, location, _ = await _status(officer, "/console/review")
        assert status == 303 and location.startswith("/console/login")
        status, _, page = await _status(auditor, "/console/review")
        assert status == 200 and csrf_in(page) == auditor.csrf


async def test_the_database_down_is_a_503_page_then_sessions_resume(
    own_postgres: EmbeddedPostgres, exchange: Exchange, browser: NewClient
) -> None:
    app = create_app(gateway_settings(own_postgres.dsn, exchange.url, db_timeout_seconds=1.0))
    async with serving(app) as url:
        client = await browser()
        client.base = url
        assert (await client.sign_in(OFFICER_TOKEN)).status == 303
        await asyncio.to_thread(own_postgres.kill)
        other = await browser()
        other.base = url
        answers = [await _status(client, "/console/")]
        async with client.post("/console/logout", csrf=False, data={"csrf_token": "x" * 43}) as response:
            answers.append((response.status, "", await response.text()))
        sign_in = await other.sign_in(OFFICER_TOKEN)
        for status, _, page in answers:
            assert status == 503 and "The database is unavailable" in page, status
        assert sign_in.status == 503
        # An unknown page is still a 404 (its page only leaves out who is signed in).
        assert (await _status(client, "/console/nowhere"))[0] == 404
        fail_closed = app[K.METRICS].fail_closed.labels("console_database_unavailable")._value.get()
        assert fail_closed == len(answers) + 1
        await asyncio.to_thread(own_postgres.start)
        # The session was kept in Postgres: still signed in.
        status, _, page = await _status(client, "/console/nowhere")
        assert status == 404 and "Sign out" in page
