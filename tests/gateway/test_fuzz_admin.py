"""Hostile input on every admin route, as the app's router lists them: no 5xx but the
documented 503s, the admin error shape, and nothing sent to the exchange for a refused call.

Routes come from the router, so a route added later is fuzzed without a word here: its
path parameters and query get hostile values by name, its body the generic hostile JSON.
What the fuzzer once found is kept below as explicit cases (REGRESSIONS), one per class.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway import appkeys as K
from gateway.app import create_app
from gateway.http.admin.errors import ERROR_CODES
from gateway.ops.pgserver import EmbeddedPostgres
from tests.conftest import gateway_settings
from tests.gateway.fuzzing import FUZZ, JSON_VALUES, RAW_VALUES, Answer, LiveStack, pairs_query, send
from tests.support import AUDITOR_TOKEN, OFFICER_TOKEN, OPERATOR_TOKEN, admin, identity_body, new_customer

ADMIN_PREFIX = "/admin/"
_PLACEHOLDER = re.compile(r"\{([^}:]+)(:[^}]*)?\}")
_ADMIN_503 = frozenset({"database_unavailable", "sanctions_unavailable"})
_TARGET_MAX = 8000  # aiohttp's request line limit is 8190 bytes: stay an HTTP request


def admin_routes() -> list[tuple[str, str]]:
    """(method, template) of every admin route the app serves, read from its router."""
    app = create_app(gateway_settings("postgresql://postgres@127.0.0.1:1/none", "http://127.0.0.1:1"))
    routes = set()
    for resource in app.router.resources():
        template = resource.canonical
        if not template.startswith(ADMIN_PREFIX):
            continue
        for route in resource:
            if route.method == "HEAD":  # aiohttp's twin of each GET: no body to check
                continue
            methods = ("GET", "POST") if route.method == "*" else (route.method,)
            routes.update((method, template) for method in methods)
    return sorted(routes)


ROUTES = admin_routes()


@pytest.fixture(scope="module")
def stack(postgres: EmbeddedPostgres) -> Iterator[LiveStack]:
    live = LiveStack(postgres)
    try:
        live.ids = live.run(_seed(live))
        yield live
    finally:
        live.close()


async def _seed(live: LiveStack) -> dict[str, list[str]]:
    """Real ids, so hostile values also meet rows that exist."""
    customer = await new_customer(live.session, live.gateway_url, "fuzz-admin")
    _, keys = await admin(
        live.session, live.gateway_url, "GET", f"/admin/v1/customers/{customer.id}/api-keys"
    )
    return {
        "customer_id": [customer.id],
        "key_id": [k["id"] for k in keys["api_keys"]],
        "version": [live.gateway_app[K.RULES].book.version],
    }


# --- what a request is made of ----------------------------------------------------------

TOKENS: list[bytes | None] = [
    OPERATOR_TOKEN.encode(), AUDITOR_TOKEN.encode(), OFFICER_TOKEN.encode(), None,
    b"not-a-token", b"\xff\xfe", b"", b"a" * 600, "тест".encode(),
]  # fmt: skip
# Every query parameter some admin route takes, with a value of the right kind.
PARAMS: dict[str, list[str]] = {
    "limit": ["1", "500"], "cursor": ["eyJzIjoiZGVzYyJ9"], "after": ["fuzz-admin", "sealed:AAAA"],
    "unmask": ["<customer_id>"], "justification": ["investigating alert 42"],
    "since": ["2020-01-01T00:00:00Z"], "until": ["2030-01-01T00:00:00%2B09:00"],
    "customer_id": ["<customer_id>"], "outcome": ["deny"], "action_kind": ["order"],
    "reason": ["unknown_symbol"], "rule_id": ["core.instrument.unknown_symbol"], "country": ["KR", "US-NY"],
    "asset": ["BTC"], "notional_min": ["0.5"], "notional_max": ["1000"], "review_status": ["pending"],
    "sort": ["asc"], "format": ["csv", "jsonl"], "kind": ["customer.changed", "str"], "status": ["open"],
    "subject_type": ["customer"], "subject_id": ["<customer_id>"], "checkpoint_id": ["<customer_id>"],
    "state": ["pending"], "address": ["123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX"], "network": ["BTC"],
}  # fmt: skip
# A body each route would take, to be spoilt one field at a time.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/admin/v1/customers"): {"reference": "fuzz-new", "status": "active"},
    ("PATCH", "/admin/v1/customers/{customer_id}"): {"status": "active", "residence_country": "KR"},
    ("POST", "/admin/v1/customers/{customer_id}/api-keys"): {"label": "fuzz"},
    ("PUT", "/admin/v1/customers/{customer_id}/identity"): identity_body(),
    ("POST", "/admin/v1/customers/{customer_id}/verification"): {"decision": "verify", "level": "full"},
    ("POST", "/admin/v1/customers/{customer_id}/bank-accounts"): {
        "currency": "KRW", "bank_code": "004", "account_number": "1234567890",
        "holder_name": "Kim Minjun", "holder_confirmed": True,
    },
    ("POST", "/admin/v1/holds/{hold_id}/approve"): {"note": "checked the source of funds"},
    ("POST", "/admin/v1/holds/{hold_id}/reject"): {"note": "no source of funds"},
    ("PATCH", "/admin/v1/reports/{report_id}"): {"status": "filed", "note": "filed with the FIU"},
    ("POST", "/admin/v1/deposits"): {"customer_id": "<customer_id>", "coin": "BTC", "amount": "0.1", "tx_id": "tx-1"},
    ("POST", "/admin/v1/rule-packs/{version}/replay"): {
        "since": "2020-01-01T00:00:00Z", "until": "2030-01-01T00:00:00Z",
    },
    ("POST", "/admin/v1/sanctions/snapshots"): {"list": "OFAC SDN", "as_of": "2024-01-01", "addresses": []},
}  # fmt: skip
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _real(value: str, ids: dict[str, list[str]]) -> str:
    return value.replace("<customer_id>", ids["customer_id"][0])


def _segment(name: str, ids: dict[str, list[str]]) -> st.SearchStrategy[str]:
    known = ids.get(name, []) + ([str(uuid.UUID(int=7))] if name.endswith("_id") else [])
    return st.one_of(st.sampled_from(known or ["x"]), RAW_VALUES) if known else RAW_VALUES


def _query(ids: dict[str, list[str]]) -> st.SearchStrategy[list[tuple[str, str]]]:
    name = st.one_of(st.sampled_from(sorted(PARAMS)), RAW_VALUES)
    pair = name.flatmap(
        lambda n: st.tuples(
            st.just(n), st.one_of(st.sampled_from([_real(v, ids) for v in PARAMS.get(n, ["x"])]), RAW_VALUES)
        )
    )
    repeated = st.lists(pair, max_size=4).flatmap(
        lambda pairs: st.just(pairs) | (st.just(pairs + pairs[:1]) if pairs else st.just(pairs))
    )
    return repeated


def _body(method: str, template: str, ids: dict[str, list[str]]) -> st.SearchStrategy[tuple[bytes, bytes]]:
    """(content type, body): the route's body spoilt in one field, generic hostile JSON,
    a repeated key, or bytes that are not JSON at all."""
    json_type = b"application/json"
    if method not in _BODY_METHODS:
        return st.just((b"", b""))
    base = orjson.loads(_real(orjson.dumps(BODIES.get((method, template), {})).decode(), ids))

    def spoilt(key: str, value: Any) -> tuple[bytes, bytes]:
        return json_type, orjson.dumps({**base, key: value})

    def repeated(key: str, value: Any) -> tuple[bytes, bytes]:
        text = orjson.dumps(base).decode()
        extra = f"{orjson.dumps(key).decode()}: {orjson.dumps(value).decode()}"
        return json_type, (text[:-1] + (", " if base else "") + extra + "}").encode()

    keys = st.sampled_from(sorted(base) or ["x"]) | st.text(max_size=8)
    return st.one_of(
        st.builds(spoilt, keys, JSON_VALUES),
        st.builds(repeated, keys, JSON_VALUES),
        JSON_VALUES.map(lambda v: (json_type, orjson.dumps(v))),
        st.sampled_from([
            (json_type, b"\xff\xfe"), (json_type, b"{"), (json_type, b"[" * 5000 + b"]" * 5000),
            (json_type, b'{"a": NaN}'), (json_type, b'{"a": 1' + b"0" * 5000 + b"}"),
            (json_type, b'{"a": "\\ud800"}'), (b"text/plain", b"{}"), (b"", b""),
        ]),
    )  # fmt: skip


@st.composite
def admin_calls(draw: st.DrawFn, method: str, template: str, ids: dict[str, list[str]]) -> dict[str, Any]:
    path = _PLACEHOLDER.sub(lambda m: draw(_segment(m.group(1), ids)), template)
    pairs = draw(_query(ids))
    token = draw(st.sampled_from(TOKENS))
    content_type, body = draw(_body(method, template, ids))
    return {
        "method": method,
        "path": path,
        "pairs": pairs,
        "token": token,
        "content_type": content_type,
        "body": body,
    }


def call(stack: LiveStack, request: dict[str, Any]) -> Answer:
    pairs = list(request["pairs"])
    target = request["path"]
    while pairs and len(target + "?" + pairs_query(pairs)) > _TARGET_MAX:
        pairs.pop()
    if pairs:
        target += "?" + pairs_query(pairs)
    headers: dict[str, bytes] = {}
    if request["token"] is not None:
        headers["Authorization"] = b"Bearer " + request["token"]
    if request["content_type"]:
        headers["Content-Type"] = request["content_type"]
    return send(stack.port, request["method"], target[:_TARGET_MAX], headers, request["body"])


def check_answer(stack: LiveStack, answer: Answer, exchange_seq: int) -> dict[str, Any] | None:
    """The properties every admin answer has; the error, if it is one."""
    error = None
    if answer.status >= 400:
        body = answer.json()
        assert set(body) == {"error"}, body
        error = body["error"]
        assert set(error) <= {"code", "message", "details"} and isinstance(error["message"], str), body
        assert error["code"] in ERROR_CODES, body
    assert answer.status < 500 or (answer.status == 503 and error and error["code"] in _ADMIN_503), answer
    if answer.status >= 400:
        assert stack.customer_calls_since(exchange_seq) == [], "a refused admin call reached the exchange"
    return error


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {t}" for m, t in ROUTES])
def test_hostile_admin_calls(stack: LiveStack, method: str, template: str) -> None:
    ids = stack.ids

    @FUZZ
    @given(request=admin_calls(method, template, ids))
    def property_(request: dict[str, Any]) -> None:
        seq = stack.exchange_seq()
        check_answer(stack, call(stack, request), seq)

    property_()


def test_every_admin_route_is_fuzzed() -> None:
    """The router is the list: a route added anywhere is in it, and the fuzz takes it."""
    assert ("GET", "/admin/v1/customers") in ROUTES and ("GET", "/admin/v1/rule-packs/{version}") in ROUTES
    assert all(t.startswith(ADMIN_PREFIX) for _, t in ROUTES) and len(ROUTES) >= 30


# --- what the fuzzer found, and the classes it stands for --------------------------------

REGRESSIONS = [
    # (id, method, target, token, body, expected status, expected code, field named)
    ("nul-in-after", "GET", "/admin/v1/customers?after=%00", OPERATOR_TOKEN, None, 422, "validation_failed", "after"),
    ("nul-in-justification", "GET", "/admin/v1/customers/<customer_id>?unmask=<customer_id>&justification=%00%00%00%00%00%00%00%00%00%00%00",
     OFFICER_TOKEN, None, 422, "validation_failed", "justification"),
    ("invalid-utf8-in-after", "GET", "/admin/v1/customers?after=%ff", OPERATOR_TOKEN, None, 422, "validation_failed", "after"),
    ("invalid-escape-in-after", "GET", "/admin/v1/customers?after=%zz", OPERATOR_TOKEN, None, 422, "validation_failed", "after"),
    ("c1-in-network", "GET", "/admin/v1/sanctions/check?address=abc&network=%C2%85", OFFICER_TOKEN, None, 422, "validation_failed", "network"),
    ("overlong-param", "GET", "/admin/v1/audit/events?subject_id=" + "a" * 257, AUDITOR_TOKEN, None, 422, "validation_failed", "subject_id"),
    ("repeated-param", "GET", "/admin/v1/rule-packs?x=1&x=2", OPERATOR_TOKEN, None, 422, "validation_failed", "x"),
    ("unknown-param-rule-packs", "GET", "/admin/v1/rule-packs?status=old", OPERATOR_TOKEN, None, 422, "validation_failed", "status"),
    ("bad-param-name", "GET", "/admin/v1/customers?%00=1", OPERATOR_TOKEN, None, 422, "validation_failed", "query"),
    ("nul-in-rule-pack-version", "GET", "/admin/v1/rule-packs/%00", OPERATOR_TOKEN, None, 404, "not_found", "path"),
    ("nul-in-diffed-version", "GET", "/admin/v1/rule-packs/<version>/diff/sha256:0%00", OPERATOR_TOKEN, None, 404, "not_found", "path"),
    ("version-not-hex", "GET", "/admin/v1/rule-packs/latest", OPERATOR_TOKEN, None, 404, "not_found", "version"),
    ("version-in-replay", "POST", "/admin/v1/rule-packs/%ED%A0%80/replay", OFFICER_TOKEN,
     b'{"since": "2020-01-01T00:00:00Z", "until": "2021-01-01T00:00:00Z"}', 404, "not_found", "path"),
    ("id-not-a-uuid", "GET", "/admin/v1/customers/12345", OPERATOR_TOKEN, None, 404, "not_found", "customer_id"),
    ("token-not-utf8", "GET", "/admin/v1/customers", b"\xff\xfe", None, 401, "unauthorized", None),
    ("duplicate-key", "POST", "/admin/v1/customers", OPERATOR_TOKEN, b'{"reference": "a", "reference": "b"}',
     422, "validation_failed", "reference"),
    ("nested-duplicate-key", "PUT", "/admin/v1/customers/<customer_id>/identity", OPERATOR_TOKEN,
     b'{"contact": {"email": "a@example.org", "email": "b@example.org"}}', 422, "validation_failed", "contact.email"),
    ("duplicate-key-in-list", "POST", "/admin/v1/sanctions/snapshots", OPERATOR_TOKEN,
     b'{"addresses": [{"address": "x", "address": "y"}]}', 422, "validation_failed", "addresses.0.address"),
    ("nul-in-json-string", "POST", "/admin/v1/customers/<customer_id>/api-keys", OPERATOR_TOKEN, b'{"label": "a\\u0000"}',
     422, "validation_failed", "label"),
    ("escape-in-json-string", "POST", "/admin/v1/customers/<customer_id>/api-keys", OPERATOR_TOKEN, b'{"label": "\\u001b[2J"}',
     422, "validation_failed", "label"),
    ("nul-in-json-key", "POST", "/admin/v1/customers", OPERATOR_TOKEN, b'{"reference": "a", "x\\u0000": 1}',
     422, "validation_failed", "x\x00"),
    ("too-deep-for-the-stdlib", "POST", "/admin/v1/customers", OPERATOR_TOKEN, b"[" * 1000 + b"]" * 1000,
     400, "invalid_json", None),
]  # fmt: skip


def _target(text: str, ids: dict[str, list[str]]) -> str:
    return _real(text, ids).replace("<version>", ids["version"][0])


@pytest.mark.parametrize(("method", "target", "token", "body", "status", "code", "field"),
                         [c[1:] for c in REGRESSIONS], ids=[c[0] for c in REGRESSIONS])  # fmt: skip
def test_hostile_admin_input_is_refused_at_the_edge(
    stack: LiveStack, method: str, target: str, token: str | bytes, body: bytes | None, status: int, code: str,
    field: str | None,
) -> None:  # fmt: skip
    ids = stack.ids
    request = {
        "method": method, "path": _target(target, ids), "pairs": [], "content_type": b"application/json" if body else b"",
        "token": token.encode() if isinstance(token, str) else token, "body": _target((body or b"").decode("latin-1"), ids).encode("latin-1"),
    }  # fmt: skip
    seq = stack.exchange_seq()
    answer = call(stack, request)
    error = check_answer(stack, answer, seq)
    assert (answer.status, error and error["code"]) == (status, code), answer.body
    if field is not None:
        assert error is not None and error["details"][0]["field"] == field, error


def test_what_the_edge_takes_is_unchanged(stack: LiveStack) -> None:
    """The edge refuses the hostile, not the merely unusual: a justification of the
    documented 500 characters, an escaped '+', a non-ASCII reference, tab in a note."""
    ids = stack.ids
    customer = ids["customer_id"][0]
    why = "a" * 500
    ok = [
        ("GET", f"/admin/v1/customers/{customer}?unmask={customer}&justification={why}", OFFICER_TOKEN, b""),
        ("GET", "/admin/v1/decisions?since=2020-01-01T00:00:00%2B09:00&limit=5", AUDITOR_TOKEN, b""),
        ("GET", "/admin/v1/customers?after=%EA%B9%80", OPERATOR_TOKEN, b""),
        (
            "POST",
            f"/admin/v1/customers/{customer}/api-keys",
            OPERATOR_TOKEN,
            b'{"label": "desk\\tone\\nbot"}',
        ),
    ]
    for method, target, token, body in ok:
        request = {"method": method, "path": target, "pairs": [], "token": token.encode(),
                   "content_type": b"application/json" if body else b"", "body": body}  # fmt: skip
        answer = call(stack, request)
        assert answer.status in (200, 201), (target, answer.body)
    answer = call(stack, {"method": "GET", "path": f"/admin/v1/customers/{customer}?unmask={customer}&justification={why}a",
                          "pairs": [], "token": OFFICER_TOKEN.encode(), "content_type": b"", "body": b""})  # fmt: skip
    assert answer.status == 422 and answer.json()["error"]["details"][0]["field"] == "justification"


# An example the generator must always try, whatever the seed: the issue's own report.
@FUZZ
@example(raw="%00")
@given(raw=RAW_VALUES)
def test_after_never_reaches_postgres_unchecked(stack: LiveStack, raw: str) -> None:
    seq = stack.exchange_seq()
    request = {"method": "GET", "path": "/admin/v1/customers", "pairs": [("after", raw)], "token": OPERATOR_TOKEN.encode(),
               "content_type": b"", "body": b""}  # fmt: skip
    check_answer(stack, call(stack, request), seq)
