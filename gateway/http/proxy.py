"""The exchange-dialect front door: authenticate, classify, decide, record, then act.

Order matters and is the product's promise: nothing is forwarded before its decision is
committed, and anything that cannot be decided or recorded is refused with a 503.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import datetime

import asyncpg
import orjson
from aiohttp import web

from gateway import appkeys as K
from gateway import logs
from gateway.binance import routes as binance
from gateway.binance.auth import DEFAULT_RECV_WINDOW_MS, KeyHolder, authenticate
from gateway.binance.errors import error_body, wire_error
from gateway.binance.params import MalformedEncoding, MalformedParameter, RawParams, read_params
from gateway.binance.withdraw_history import exchange_query, merge_withdraw_history
from gateway.decide.service import Call, Decided, Instruction
from gateway.feeds.markets import utcnow
from gateway.feeds.upstream import UpstreamTimeout, UpstreamUnavailable
from gateway.store.db import UNAVAILABLE_ERRORS, DatabaseUnavailable
from gateway.store.records import UpstreamResultRow
from gateway.store.seen_requests import CHECKED_KINDS, SeenRequest, seen_request
from policy.action import Action, ActionKind
from policy.facts import Authentication, AuthStatus

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-MBX-APIKEY"
DECISION_HEADER = "X-Decision-Id"
REVIEW_HEADER = "X-Review-Status"
WITHDRAW_HISTORY = "withdraw.history"
_FORM = "application/x-www-form-urlencoded"
# Every key the gateway issues: URL-safe base64, or a demo key (a customer reference, '-'
# and base64). Real exchanges' keys are alphanumeric.
_API_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,256}$")
_BODY_METHODS = frozenset({"POST", "PUT"})


class Refusal(Exception):
    """A call refused before a decision could be made (no customer known, or no body)."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        fail_closed: bool = False,
        decision_id: uuid.UUID | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.fail_closed = fail_closed
        self.decision_id = decision_id


def refusal_response(
    request: web.Request,
    reason: str,
    message: str,
    kind: ActionKind | None = None,
    decision_id: uuid.UUID | None = None,
) -> web.Response:
    status, code = wire_error(reason, kind)
    headers = {}
    if decision_id is not None:
        headers[DECISION_HEADER] = str(decision_id)
    return web.Response(
        body=orjson.dumps(error_body(code, reason, message)),
        status=status,
        content_type="application/json",
        headers=headers,
    )


async def handle_exchange_call(request: web.Request) -> web.StreamResponse:
    metrics = request.app[K.METRICS]
    route = binance.route_for(request.method, request.path)
    route_class = "unknown" if route is None else route.kind.value
    try:
        if route is None:
            raise Refusal("unknown_endpoint", f"{request.method} {request.path} is not served.")
        if route.signed:
            response = await _decide_and_forward(request, route)
        else:
            response = await _forward_public(request, route)
    except Refusal as refusal:
        metrics.child(metrics.refusals, refusal.reason).inc()
        if refusal.fail_closed:
            metrics.child(metrics.fail_closed, refusal.reason).inc()
        kind = route.kind if route is not None else None
        response = refusal_response(request, refusal.reason, refusal.message, kind, refusal.decision_id)
    metrics.child(metrics.requests, route_class, str(response.status)).inc()
    return response


async def _forward_public(request: web.Request, route: binance.Route) -> web.StreamResponse:
    """Public market data: no customer and no decision row, but well-formed parameters."""
    body = await _read_body(request)
    params = _read_call(request, body)
    problems = binance.public_problems(route, params.values, params.duplicates)
    if problems:
        raise Refusal(problems[0].reason, problems[0].detail)
    return await _forward(request, route, None, None, body)


async def _read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise Refusal("body_too_large", "Request body is larger than allowed.") from exc


def _read_call(request: web.Request, body: bytes) -> RawParams:
    if request.method in _BODY_METHODS and body and request.content_type != _FORM:
        raise Refusal("unsupported_content_type", f"Content-Type must be {_FORM}.")
    try:
        return read_params(request.rel_url.raw_query_string, body.decode("utf-8"))
    except (UnicodeDecodeError, MalformedEncoding) as exc:
        raise Refusal("malformed_encoding", "Parameters are not valid UTF-8.") from exc
    except MalformedParameter as exc:
        raise Refusal("malformed_parameter", f"{exc}.") from exc


async def _identify(request: web.Request) -> KeyHolder:
    api_key = request.headers.get(API_KEY_HEADER)
    if not api_key:
        raise Refusal("missing_api_key", "API-key format invalid.")
    if not _API_KEY.match(api_key):
        # No key we issue looks like this, so no lookup: bytes that are not UTF-8 (aiohttp
        # hands them on as surrogates) could not even be sent to Postgres.
        raise Refusal("unknown_api_key", "Invalid API-key, IP, or permissions for action.")
    try:
        holder = await request.app[K.KEYS].lookup(api_key)
    except DatabaseUnavailable as exc:
        raise Refusal(
            "decision_store_unavailable", "Unable to decide now; try again.", fail_closed=True
        ) from exc
    if holder is None:
        raise Refusal("unknown_api_key", "Invalid API-key, IP, or permissions for action.")
    return holder


async def _decide_and_forward(request: web.Request, route: binance.Route) -> web.StreamResponse:
    started = time.perf_counter()
    app = request.app
    settings = app[K.SETTINGS]
    decider = app[K.DECIDER]
    holder = await _identify(request)
    try:
        body = await _read_body(request)
        params = _read_call(request, body)
    except Refusal as refusal:
        # The key names a customer, so even an unreadable call is on their record.
        bare = Action(
            kind=route.kind, operation=f"{binance.DIALECT}.{route.operation}", customer_id=holder.customer_id
        )
        unreadable = _call(request, holder, bare, Authentication(AuthStatus.OK), utcnow(), started, b"")
        decided = await decider.refuse_unreadable(unreadable, refusal.reason, refusal.message)
        if decided.fail_closed:
            raise _refusal(decided) from refusal
        refusal.decision_id = decided.decision_id
        raise
    now = utcnow()
    auth = authenticate(
        params.values,
        params.signature,
        params.signed_payload,
        holder.signing_key,
        now_ms=int(now.timestamp() * 1000),
        recv_window_max_ms=settings.recv_window_max_ms,
        clock_skew_ms=settings.clock_skew_ms,
    )
    markets = app[K.MARKETS].current(now)
    action = binance.build_action(route, params.values, holder.customer_id, markets, params.duplicates)
    seen = _seen(request, holder, route, params, body) if auth.status is AuthStatus.OK else None
    decided = await decider.decide(_call(request, holder, action, auth, now, started, body, seen))
    if decided.instruction is Instruction.PARK:
        # Binance-shaped: the id is what the client looks up in its withdrawal history,
        # where the call shows as awaiting approval until a reviewer decides.
        return web.Response(
            body=orjson.dumps({"id": str(decided.decision_id)}),
            content_type="application/json",
            headers={DECISION_HEADER: str(decided.decision_id), REVIEW_HEADER: "pending"},
        )
    if decided.instruction is Instruction.REFUSE:
        raise _refusal(decided)
    return await _forward(request, route, holder.customer_id, decided.decision_id, body)


def _call(
    request: web.Request,
    holder: KeyHolder,
    action: Action,
    auth: Authentication,
    now: datetime,
    started: float,
    body: bytes,
    seen: SeenRequest | None = None,
) -> Call:
    return Call(
        action=action,
        authentication=auth,
        customer=holder.customer,
        kyc=holder.kyc,
        api_key_id=holder.api_key_id,
        dialect=binance.DIALECT,
        http_method=request.method,
        path=request.path,
        now=now,
        started=started,
        request_id=logs.request_id.get(),  # the id the middleware gave (X-Request-Id, logs)
        raw_query=request.rel_url.raw_query_string,
        body=body,
        content_type=request.headers.get("Content-Type"),
        seen=seen,
    )


def _seen(
    request: web.Request, holder: KeyHolder, route: binance.Route, params: RawParams, body: bytes
) -> SeenRequest | None:
    """The digest of an authenticated state-changing call as sent: a copy of it within its
    recvWindow is a replay. Authenticated: its timestamp and recvWindow are valid numbers."""
    if route.kind not in CHECKED_KINDS:
        return None
    return seen_request(
        holder.api_key_id,
        request.method,
        request.path,
        request.rel_url.raw_query_string,
        body,
        timestamp_ms=int(params.values["timestamp"]),
        recv_window_ms=int(params.values.get("recvWindow", DEFAULT_RECV_WINDOW_MS)),
    )


def _refusal(decided: Decided) -> Refusal:
    return Refusal(
        decided.reason, decided.message, fail_closed=decided.fail_closed, decision_id=decided.decision_id
    )


async def _forward(
    request: web.Request,
    route: binance.Route,
    customer_id: str | None,
    decision_id: uuid.UUID | None,
    body: bytes,
) -> web.StreamResponse:
    app = request.app
    metrics = app[K.METRICS]
    started = time.perf_counter()
    query = request.rel_url.raw_query_string
    if route.operation == WITHDRAW_HISTORY and customer_id is not None and "idList=" in query:
        query = await _history_query(request, customer_id, query)
    path_qs = request.path + ("?" + query if query else "")
    status: int | None = None
    error: str | None = None
    try:
        answer = await app[K.UPSTREAM].forward(
            request.method, path_qs, body, request.headers.get("Content-Type"), customer_id
        )
        status = answer.status
    except UpstreamTimeout as exc:
        error = "timeout"
        metrics.child(metrics.upstream_errors, "timeout").inc()
        raise Refusal(
            "upstream_timeout", "Timeout waiting for response from the exchange.", decision_id=decision_id
        ) from exc
    except UpstreamUnavailable as exc:
        error = "unavailable"
        metrics.child(metrics.upstream_errors, "unavailable").inc()
        raise Refusal(
            "upstream_unavailable", "The exchange is unavailable; try again.", decision_id=decision_id
        ) from exc
    finally:
        elapsed = time.perf_counter() - started
        metrics.child(metrics.upstream_seconds, route.kind.value).observe(elapsed)
        if decision_id is not None:
            app[K.WRITER].record_upstream(
                UpstreamResultRow(decision_id, utcnow(), status, error, int(elapsed * 1e6))
            )
    headers = answer.headers  # already a fresh, filtered dict
    if decision_id is not None:
        headers[DECISION_HEADER] = str(decision_id)
    body = answer.body
    if route.operation == WITHDRAW_HISTORY and answer.status == 200 and customer_id is not None:
        body = await _with_held_withdrawals(request, customer_id, body)
    return web.Response(body=body, status=answer.status, headers=headers)


async def _history_query(request: web.Request, customer_id: str, query: str) -> str:
    """The history query with forwarded holds' ids as the exchange knows them. Without the
    database the client's ids go as sent: the answer is then only incomplete."""
    try:
        return await exchange_query(request.app[K.POOL], uuid.UUID(customer_id), query)
    except (DatabaseUnavailable, *UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
        log.warning("held withdrawals' ids not swapped in the history query: %r", exc)
        return query


async def _with_held_withdrawals(request: web.Request, customer_id: str, body: bytes) -> bytes:
    """Held withdrawals appear in the customer's history (awaiting approval, rejected,
    expired) under the id they were answered with. Without the database the exchange's
    own list is still true, only incomplete: it is answered, and the miss logged."""
    try:
        return await merge_withdraw_history(request.app[K.POOL], uuid.UUID(customer_id), request.query, body)
    except (DatabaseUnavailable, *UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
        log.warning("held withdrawals not merged into history: %r", exc)
        return body
