"""Hostile parameters on every exchange-dialect route, signed with a real key so they get
past authentication and meet the parameter handling: no 5xx but the documented 503/504,
Binance-shaped errors, and nothing reaches the exchange for a call the gateway refused.

The routes are the dialect's own table (gateway/binance/routes.py), each checked to be
served by the app's router: a route added there is fuzzed without a word here.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import yarl
from hypothesis import example, given
from hypothesis import strategies as st

from gateway import appkeys as K
from gateway.app import EXCHANGE_PREFIXES
from gateway.binance import routes as binance
from gateway.http import proxy
from gateway.ops.pgserver import EmbeddedPostgres
from tests.gateway.fuzzing import DOCUMENTED_503, FUZZ, RAW_VALUES, REASON, Answer, LiveStack, send
from tests.support import new_customer

ROUTES = sorted(binance.ROUTES)
_FORM = b"application/x-www-form-urlencoded"
_ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.001",
    "price": "50000",
    "timeInForce": "GTC",
}
_WITHDRAWAL = {"coin": "BTC", "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "amount": "0.001"}
# A call each operation would take, to be spoilt; an operation not named gets a symbol.
BASE: dict[str, dict[str, str]] = {
    "order.create": _ORDER, "order.get": {"symbol": "BTCUSDT", "orderId": "1"},
    "order.cancel": {"symbol": "BTCUSDT", "origClientOrderId": "fuzz-1"}, "withdraw.apply": _WITHDRAWAL,
    "deposit.address": {"coin": "BTC"}, "withdraw.history": {"coin": "BTC"}, "deposit.history": {"coin": "BTC"},
    "account": {}, "capital.config": {}, "margin.pairs": {}, "margin.isolated_pairs": {}, "ping": {}, "time": {},
    "exchange_info": {}, "futures_exchange_info": {}, "delivery_exchange_info": {},
}  # fmt: skip
# Parameter names Binance calls take, for added and duplicated parameters.
NAMES = sorted(
    {"symbol", "side", "type", "quantity", "quoteOrderQty", "price", "timeInForce", "newClientOrderId",
     "orderId", "origClientOrderId", "limit", "fromId", "startTime", "endTime", "offset", "status",
     "coin", "network", "address", "addressTag", "amount", "withdrawOrderId", "walletType",
     "ownershipProof", "questionnaire", "recvWindow", "timestamp", "signature", "idList", "symbols"}
)  # fmt: skip
_DECIDED_NOT_FORWARDED = frozenset({"deny", "hold"})
_TARGET_MAX = 8000


@pytest.fixture(scope="module")
def stack(postgres: EmbeddedPostgres) -> Iterator[LiveStack]:
    live = LiveStack(postgres)
    try:
        live.trader = live.run(new_customer(live.session, live.gateway_url, "fuzz-trader"))
        yield live
    finally:
        live.close()


@st.composite
def exchange_calls(draw: st.DrawFn, method: str, path: str) -> dict[str, Any]:
    route = binance.ROUTES[(method, path)]
    pairs = [(k, quote(v, safe="")) for k, v in BASE.get(route.operation, {"symbol": "BTCUSDT"}).items()]
    for _ in range(draw(st.integers(1, 3))):
        move = draw(st.sampled_from(["set", "add", "dup", "drop", "name"]))
        if move == "set" and pairs:
            i = draw(st.integers(0, len(pairs) - 1))
            pairs[i] = (pairs[i][0], draw(RAW_VALUES))
        elif move == "add":
            pairs.append((draw(st.sampled_from(NAMES)), draw(RAW_VALUES)))
        elif move == "dup" and pairs:
            pairs.append(draw(st.sampled_from(pairs)))
        elif move == "drop" and pairs:
            pairs.pop(draw(st.integers(0, len(pairs) - 1)))
        else:
            pairs.append((draw(RAW_VALUES), draw(RAW_VALUES)))
    in_body = method in ("POST", "PUT") and draw(st.booleans())
    auth = draw(st.sampled_from(["signed", "signed", "signed", "bad_signature", "no_key", "hostile_key"]))
    raw_body_tail = (
        draw(st.sampled_from([b"", b"", b"", b"&\xff=1", b"&a=\xc0\x80", b"&n=\x00"])) if in_body else b""
    )
    return {
        "method": method,
        "path": path,
        "pairs": pairs,
        "in_body": in_body,
        "auth": auth,
        "tail": raw_body_tail,
    }


def call(stack: LiveStack, request: dict[str, Any]) -> Answer:
    trader = stack.trader
    assert trader is not None
    pairs = [("timestamp", str(int(time.time() * 1000))), *request["pairs"]]
    text = "&".join(f"{k}={v}" for k, v in pairs)
    while len(text) > _TARGET_MAX and len(pairs) > 1:
        pairs.pop()
        text = "&".join(f"{k}={v}" for k, v in pairs)
    query, body = ("", text.encode() + request["tail"]) if request["in_body"] else (text, b"")
    secret = trader.secret if request["auth"] != "bad_signature" else "wrong"
    signature = hmac.new(secret.encode(), query.encode() + body, hashlib.sha256).hexdigest()
    if body:
        body += b"&signature=" + signature.encode()
    else:
        query += "&signature=" + signature
    headers: dict[str, bytes] = {}
    if request["auth"] in ("signed", "bad_signature"):
        headers["X-MBX-APIKEY"] = trader.api_key.encode()
    elif request["auth"] == "hostile_key":
        headers["X-MBX-APIKEY"] = b"\xff\xfe" + trader.api_key.encode()
    if body:
        headers["Content-Type"] = _FORM
    return send(
        stack.port,
        request["method"],
        request["path"] + "?" + query if query else request["path"],
        headers,
        body,
    )


def _outcome(stack: LiveStack, decision_id: str) -> str | None:
    pool = stack.gateway_app[K.POOL]
    return stack.run(pool.fetchval("SELECT outcome FROM decisions WHERE id = $1", uuid.UUID(decision_id)))


def check_answer(stack: LiveStack, answer: Answer, exchange_seq: int, path: str) -> dict[str, Any] | None:
    """The properties every exchange-dialect answer has; the refusal, if it is one."""
    body = answer.json()
    # A public call goes without a customer, so the exchange's log is read by path.
    forwarded = [e for e in stack.calls_since(exchange_seq) if e.path == path]
    refusal = None
    if answer.status >= 400:
        assert (
            isinstance(body, dict) and isinstance(body.get("code"), int) and isinstance(body.get("msg"), str)
        ), body
        refusal = body
        if not forwarded:  # the gateway's own answer: a stable reason first
            assert REASON.match(body["msg"]), body
    reason = refusal["msg"].split(":", 1)[0] if refusal else None
    assert (
        answer.status < 500
        or (answer.status == 503 and reason in DOCUMENTED_503)
        or (answer.status == 504 and reason == "upstream_timeout")
    ), body
    decision_id = answer.headers.get(proxy.DECISION_HEADER)
    if decision_id is not None and _outcome(stack, decision_id) in _DECIDED_NOT_FORWARDED:
        assert forwarded == [], f"a refused call reached the exchange: {forwarded}"
    return refusal


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_hostile_exchange_calls(stack: LiveStack, method: str, path: str) -> None:
    @FUZZ
    @given(request=exchange_calls(method, path))
    def property_(request: dict[str, Any]) -> None:
        seq = stack.exchange_seq()
        check_answer(stack, call(stack, request), seq, path)

    property_()


def test_every_dialect_route_is_served_and_fuzzed() -> None:
    assert all(path.startswith(EXCHANGE_PREFIXES) for _, path in ROUTES)
    assert ("POST", "/api/v3/order") in ROUTES and ("POST", "/sapi/v1/capital/withdraw/apply") in ROUTES


@FUZZ
@example(tail="%00").via("NUL in a path")
@example(tail="order%ff").via("invalid UTF-8 in a path")
@given(tail=RAW_VALUES)
def test_hostile_paths_are_unknown_endpoints(stack: LiveStack, tail: str) -> None:
    seq = stack.exchange_seq()
    for prefix in EXCHANGE_PREFIXES:
        target = f"{prefix}v3/{tail}"[:_TARGET_MAX]
        if not yarl.URL(target, encoded=True).path.startswith(prefix):
            continue  # `..` left the dialect: what answers then is the router's business
        answer = send(stack.port, "GET", target, {})
        refusal = check_answer(stack, answer, seq, yarl.URL(target, encoded=True).path)
        if (("GET", f"{prefix}v3/{tail}")) not in binance.ROUTES:
            assert refusal is not None and refusal["msg"].startswith("unknown_endpoint:"), answer.body
