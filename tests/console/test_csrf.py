"""CSRF: every console POST, on every route the router lists (page modules' included, as
they are added), is refused without the session's token, with a wrong one, or with
another session's; and nothing changes (no audit event, no session ended). The sign-in
form's double-submit token; the htmx header; forms read strictly."""

from __future__ import annotations

import html
import json
import re
import uuid

import asyncpg
import pytest

from gateway import appkeys as K
from gateway.app import create_app
from gateway.http.console import LOGIN_PATH, is_console_path
from gateway.http.console.csrf import LOGIN_COOKIE, parse_form
from gateway.http.console.errors import ConsoleError
from tests.conftest import Gateway, gateway_settings
from tests.console.conftest import ConsoleClient, NewClient, SignIn, csrf_in
from tests.support import OFFICER_TOKEN

pytestmark = pytest.mark.asyncio

_PLACEHOLDER = re.compile(r"\{([^}:]+)(:[^}]*)?\}")
_STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def _value(name: str) -> str:
    """A well-formed value for a path parameter (the edge checks formats by name)."""
    if name.endswith("_id"):
        return str(uuid.UUID(int=7))
    if name in ("version", "other"):
        return "sha256:" + "0" * 16
    return "x"


def console_posts() -> list[str]:
    """Every state-changing console route but sign-in, from the app's router."""
    app = create_app(gateway_settings("postgresql://postgres@127.0.0.1:1/none", "http://127.0.0.1:1"))
    found = set()
    for resource in app.router.resources():
        template = resource.canonical
        if not is_console_path(template) or template == LOGIN_PATH:
            continue
        if any(route.method in (*_STATE_CHANGING, "*") for route in resource):
            found.add(_PLACEHOLDER.sub(lambda m: _value(m.group(1)), template))
    return sorted(found)


POSTS = console_posts()


async def _changes(database_url: str) -> tuple[int, int]:
    """What a refused POST must leave as it was: audit events (every change writes one)
    and sessions."""
    conn = await asyncpg.connect(database_url)
    try:
        events = await conn.fetchval("SELECT count(*) FROM audit_events")
        sessions = await conn.fetchval("SELECT count(*) FROM console_sessions")
    finally:
        await conn.close()
    return events, sessions


async def _post(
    client: ConsoleClient, path: str, fields: dict[str, str], **kwargs: object
) -> tuple[int, str]:
    async with client.post(path, fields, csrf=False, **kwargs) as response:
        return response.status, await response.text()


async def test_the_router_has_console_posts() -> None:
    assert "/console/logout" in POSTS


@pytest.mark.parametrize("path", POSTS)
async def test_a_post_without_the_sessions_token_is_refused(
    console_app: Gateway, signed_in: SignIn, path: str
) -> None:
    officer = await signed_in("compliance_officer")
    other = await signed_in("auditor")
    before = await _changes(console_app.database_url)
    attempts = [
        {},  # no token
        {"csrf_token": ""},
        {"csrf_token": "x" * 43},  # well-formed, wrong
        {"csrf_token": other.csrf},  # another session's
        {"csrf_token": officer.csrf[:-1]},
    ]
    for fields in attempts:
        status, page = await _post(officer, path, {**fields, "note": "forged"})
        assert status == 403, (path, fields, status)
        assert "Form expired" in page and "<html" in page
    assert await _changes(console_app.database_url) == before
    metrics = console_app.app[K.METRICS]
    assert metrics.console_refusals.labels("csrf")._value.get() == len(attempts)


@pytest.mark.parametrize("path", POSTS)
async def test_a_signed_out_post_goes_to_sign_in_and_changes_nothing(
    console_app: Gateway, browser: NewClient, path: str
) -> None:
    client = await browser()
    before = await _changes(console_app.database_url)
    async with client.post(path, {"csrf_token": "x" * 43}) as response:
        assert response.status == 303 and response.headers["Location"].startswith(LOGIN_PATH)
    assert await _changes(console_app.database_url) == before


async def test_the_right_token_is_taken_from_the_form_or_the_htmx_header(
    console_app: Gateway, signed_in: SignIn
) -> None:
    first = await signed_in("auditor")
    async with first.post("/console/logout") as response:  # the form field
        assert response.status == 303
    second = await signed_in("auditor")
    # As htmx sends it: the header base.html's hx-headers names, with its value.
    async with second.get("/console/nowhere") as page:
        found = re.search(r"hx-headers='([^']*)'", await page.text())
    assert found is not None
    headers = json.loads(html.unescape(found[1]))
    assert headers == {"X-CSRF-Token": second.csrf}
    status, _ = await _post(second, "/console/logout", {}, headers=headers)
    assert status == 303
    assert (await _changes(console_app.database_url))[1] == 0  # both sessions ended


async def test_the_sign_in_form_needs_its_double_submit_token(
    console_app: Gateway, browser: NewClient
) -> None:
    client = await browser()
    # No sign-in cookie at all (a form posted from another site): refused, no session.
    status, page = await _post(client, LOGIN_PATH, {"token": OFFICER_TOKEN, "csrf_token": "a" * 43})
    assert status == 403 and client.cookie is None and "expired" in page
    # The cookie, but the form's token does not match it.
    async with client.get(LOGIN_PATH) as form:
        real = csrf_in(await form.text())
    status, _ = await _post(client, LOGIN_PATH, {"token": OFFICER_TOKEN, "csrf_token": "b" * 43})
    assert status == 403 and client.cookie is None
    # The page answered a fresh form with the same cookie: the matching pair signs in.
    status, _ = await _post(client, LOGIN_PATH, {"token": OFFICER_TOKEN, "csrf_token": real})
    assert status == 303 and client.cookie is not None
    assert LOGIN_COOKIE not in {c.key for c in client.session.cookie_jar if c.value}
    metrics = console_app.app[K.METRICS]
    assert metrics.console_sign_ins.labels("bad_form")._value.get() == 2
    assert (await _changes(console_app.database_url))[1] == 1


async def test_forms_are_read_strictly(console_app: Gateway, signed_in: SignIn) -> None:
    client = await signed_in("auditor")
    token = f"csrf_token={client.csrf}".encode()
    cases = [
        (b"note=%00&" + token, "application/x-www-form-urlencoded", 400),  # NUL
        (b"note=%ff&" + token, "application/x-www-form-urlencoded", 400),  # not UTF-8
        (b"note=%zz&" + token, "application/x-www-form-urlencoded", 400),  # bad escape
        ("note=\u00e9&".encode() + token, "application/x-www-form-urlencoded", 400),  # raw non-ASCII
        (b"%00=1&" + token, "application/x-www-form-urlencoded", 400),  # bad field name
        (token, "multipart/form-data; boundary=x", 415),
        (token, "application/json", 415),
    ]
    for body, content_type, expected in cases:
        async with client.session.post(
            client.url("/console/logout"), data=body, headers={"Content-Type": content_type},
            allow_redirects=False,
        ) as response:  # fmt: skip
            assert response.status == expected, (body, content_type, response.status)
            assert "<html" in await response.text()
    # Still signed in: none of them reached sign-out.
    assert (await _changes(console_app.database_url))[1] == 1


async def test_a_note_may_hold_line_breaks_and_tabs() -> None:
    form = parse_form(b"note=first+line%0D%0Asecond%09tab&x=%E2%82%AC")
    assert form["note"] == "first line\r\nsecond\ttab" and form["x"] == "\u20ac"
    with pytest.raises(ConsoleError):
        parse_form(b"note=%1B%5B2J")  # a terminal escape is no note
