"""Hostile input on every console route, as the app's router lists them, signed in (each
role, with the right CSRF token or not) and signed out: never a 5xx, and every error an
HTML page (never JSON, never a traceback).

Routes come from the router, so a page module added later is fuzzed without a word here:
its path parameters and query get hostile values, its form hostile fields. Derandomised,
with a modest number of examples per route (tests/gateway/fuzzing.py: FUZZ_EXAMPLES).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway import appkeys as K
from gateway.app import create_app
from gateway.http.console import LOGIN_PATH, is_console_path
from gateway.http.console.csrf import LOGIN_COOKIE
from gateway.http.console.session import SESSION_COOKIE
from gateway.ops.pgserver import EmbeddedPostgres
from tests.conftest import gateway_settings
from tests.console.conftest import TOKENS, csrf_in
from tests.gateway.fuzzing import EXAMPLES, FUZZ, RAW_VALUES, Answer, LiveStack, pairs_query, send
from tests.support import new_customer

_PLACEHOLDER = re.compile(r"\{([^}:]+)(:[^}]*)?\}")
_TARGET_MAX = 8000  # aiohttp's request line limit is 8190 bytes: stay an HTTP request
_STATIC = "/console/static/{filename}"
_LOGOUT = "/console/logout"
# Downloads (exports) answer in their own format; everything else a console route answers is HTML.
_HTML = "text/html"
CONSOLE_FUZZ = settings(FUZZ, max_examples=min(EXAMPLES, 25))


def console_routes() -> list[tuple[str, str]]:
    """(method, template) of every console route the app serves, read from its router."""
    app = create_app(gateway_settings("postgresql://postgres@127.0.0.1:1/none", "http://127.0.0.1:1"))
    routes = set()
    for resource in app.router.resources():
        template = resource.canonical
        if not is_console_path(template):
            continue
        for route in resource:
            if route.method == "HEAD":
                continue
            methods = ("GET", "POST") if route.method == "*" else (route.method,)
            routes.update((method, template) for method in methods)
    return sorted(routes)


ROUTES = console_routes()


class Browser:
    """A signed-in role's cookie and CSRF token, got through the real form."""

    def __init__(self, stack: LiveStack, role: str) -> None:
        form = send(stack.port, "GET", LOGIN_PATH, {})
        login_cookie = _cookie(form, LOGIN_COOKIE)
        body = f"token={TOKENS[role]}&csrf_token={csrf_in(form.body.decode())}".encode()
        headers = {"Cookie": f"{LOGIN_COOKIE}={login_cookie}".encode(), "Content-Type": _FORM_TYPE}
        answer = send(stack.port, "POST", LOGIN_PATH, headers, body)
        assert answer.status == 303, answer
        self.cookie = _cookie(answer, SESSION_COOKIE)
        page = send(stack.port, "GET", "/console/no-such-page", {"Cookie": self.cookie_header})
        self.csrf = csrf_in(page.body.decode())

    @property
    def cookie_header(self) -> bytes:
        return f"{SESSION_COOKIE}={self.cookie}".encode()


_FORM_TYPE = b"application/x-www-form-urlencoded"


def _cookie(answer: Answer, name: str) -> str:
    for header in answer.headers.get_all("Set-Cookie") or []:
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0]
    raise AssertionError(f"no {name} cookie in {answer}")


@pytest.fixture(scope="module")
def stack(postgres: EmbeddedPostgres) -> Iterator[LiveStack]:
    live = LiveStack(postgres)
    try:
        live.ids = live.run(_seed(live))
        yield live
    finally:
        live.close()


async def _seed(live: LiveStack) -> dict[str, list[str]]:
    customer = await new_customer(live.session, live.gateway_url, "fuzz-console")
    return {
        "customer": [customer.id, "fuzz-console"],
        "customer_id": [customer.id],
        "version": [live.gateway_app[K.RULES].book.version],
        "filename": ["console.css", "htmx.min.js", "LICENSE"],
    }


@pytest.fixture(scope="module")
def browsers(stack: LiveStack) -> dict[str, Browser]:
    return {role: Browser(stack, role) for role in TOKENS}


# Query parameters and form fields console pages read, with a value of the right kind.
FIELDS: dict[str, list[str]] = {
    "limit": ["1", "50"], "cursor": ["eyJzIjoiZGVzYyJ9"], "next": ["/console/review"],
    "since": ["2020-01-01T00:00:00Z"], "until": ["2030-01-01T00:00:00Z"], "outcome": ["deny"],
    "customer_id": ["<customer_id>"], "reason": ["unknown_symbol"], "kind": ["str"], "status": ["open", "filed"],
    "state": ["pending"], "format": ["csv", "jsonl"], "note": ["checked"], "justification": ["alert 42"],
    "decision": ["verify"], "level": ["full"], "version": ["<version>"], "other": ["<version>"],
    "unmask": ["1"], "result": ["forwarded"], "id": ["<customer_id>"],
}  # fmt: skip
SESSIONS = ["auditor", "operator", "compliance_officer", None, "bogus"]


def _real(value: str, ids: dict[str, list[str]]) -> str:
    return value.replace("<customer_id>", ids["customer_id"][0]).replace("<version>", ids["version"][0])


def _segment(name: str, ids: dict[str, list[str]]) -> st.SearchStrategy[str]:
    known = ids.get(name, []) + ([str(uuid.UUID(int=7))] if name.endswith("_id") else [])
    return st.one_of(st.sampled_from(known), RAW_VALUES) if known else RAW_VALUES


def _pairs(ids: dict[str, list[str]]) -> st.SearchStrategy[list[tuple[str, str]]]:
    name = st.one_of(st.sampled_from(sorted(FIELDS)), RAW_VALUES)
    pair = name.flatmap(
        lambda n: st.tuples(
            st.just(n), st.one_of(st.sampled_from([_real(v, ids) for v in FIELDS.get(n, ["x"])]), RAW_VALUES)
        )
    )
    return st.lists(pair, max_size=4)


@st.composite
def console_calls(draw: st.DrawFn, method: str, template: str, ids: dict[str, list[str]]) -> dict[str, Any]:
    path = _PLACEHOLDER.sub(lambda m: draw(_segment(m.group(1), ids)), template)
    pairs = draw(_pairs(ids))
    form = draw(_pairs(ids)) if method == "POST" else []
    # Signing out with the right token would end the session the other examples use.
    csrf = draw(st.sampled_from(["right", "wrong", "none"] if template != _LOGOUT else ["wrong", "none"]))
    content_type = draw(st.sampled_from([_FORM_TYPE, _FORM_TYPE, b"multipart/form-data", b""]))
    return {
        "method": method, "path": path, "pairs": pairs, "form": form, "session": draw(st.sampled_from(SESSIONS)),
        "csrf": csrf, "content_type": content_type,
    }  # fmt: skip


def call(stack: LiveStack, browsers: dict[str, Browser], request: dict[str, Any]) -> Answer:
    pairs = list(request["pairs"])
    target = request["path"]
    while pairs and len(target + "?" + pairs_query(pairs)) > _TARGET_MAX:
        pairs.pop()
    if pairs:
        target += "?" + pairs_query(pairs)
    headers: dict[str, bytes] = {}
    form = list(request["form"])
    role = request["session"]
    if role == "bogus":
        headers["Cookie"] = f"{SESSION_COOKIE}={'A' * 43}; {LOGIN_COOKIE}=%00".encode()
    elif role is not None:
        browser = browsers[role]
        headers["Cookie"] = browser.cookie_header
        if request["csrf"] == "right":
            form.append(("csrf_token", browser.csrf))
    if request["csrf"] == "wrong":
        form.append(("csrf_token", "w" * 43))
    body = pairs_query(form).encode() if request["method"] == "POST" else b""
    if request["content_type"] and request["method"] == "POST":
        headers["Content-Type"] = request["content_type"]
    return send(stack.port, request["method"], target[:_TARGET_MAX], headers, body)


def check_answer(answer: Answer) -> None:
    """What every console answer is: no 5xx (the database is up), errors as HTML pages."""
    assert answer.status < 500, (answer.status, answer.body[:2000])
    if answer.status >= 400:
        assert (answer.headers.get("Content-Type") or "").startswith(_HTML), answer
        assert b"Traceback" not in answer.body and b"<html" in answer.body, answer


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {t}" for m, t in ROUTES])
def test_hostile_console_calls(
    stack: LiveStack, browsers: dict[str, Browser], method: str, template: str
) -> None:
    ids = stack.ids

    @CONSOLE_FUZZ
    @given(request=console_calls(method, template, ids))
    def property_(request: dict[str, Any]) -> None:
        check_answer(call(stack, browsers, request))

    property_()


def test_every_console_route_is_fuzzed() -> None:
    """The router is the list: a page module's routes are in it once setup.py lists it."""
    assert ("POST", LOGIN_PATH) in ROUTES and ("POST", _LOGOUT) in ROUTES and ("GET", "/console/") in ROUTES
    assert ("GET", _STATIC) in ROUTES


# The classes the edge stands for, kept as explicit cases whatever the generator draws.
@CONSOLE_FUZZ
@example(path="/console/%00", query="")
@example(path="/console/", query="next=%ff")
@example(path="/console/", query="a=1&a=2")
@example(path="/console/static/..%2F..%2Fsettings.py", query="")
@example(path="/console/login", query="next=" + "a" * 300)
@given(path=st.sampled_from([t for _, t in ROUTES if "{" not in t]), query=RAW_VALUES)
def test_raw_queries_never_fail(
    stack: LiveStack, browsers: dict[str, Browser], path: str, query: str
) -> None:
    headers = {"Cookie": browsers["compliance_officer"].cookie_header}
    answer = send(stack.port, "GET", (path + ("?" + query if query else ""))[:_TARGET_MAX], headers)
    check_answer(answer)
