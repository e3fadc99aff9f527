"""The exchange-dialect front door: authenticate, classify, decide, record, then act.

Order matters and is the product's promise: nothing is forwarded before its decision is
committed, and anything that cannot be decided or recorded is refused with a 503.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import replace
from datetime import datetime

import asyncpg
import orjson
from aiohttp import web

from gateway import appkeys as K
from gateway import logs
from gateway.binance import routes as binance
from gateway.binance.auth import KeyHolder, authenticate
from gateway.binance.errors import error_body, wire_error
from gateway.binance.params import MalformedEncoding, MalformedParameter, RawParams, read_params
from gateway.binance.withdraw_history import exchange_query, merge_withdraw_history
from gateway.decide import money_calls
from gateway.decide.kyc_facts import kyc_facts
from gateway.decide.money_calls import MoneyCall
from gateway.feeds.markets import utcnow
from gateway.feeds.upstream import UpstreamTimeout, UpstreamUnavailable
from gateway.kyc_service import account_number_hash
from gateway.settings import Settings
from gateway.store.db import UNAVAILABLE_ERRORS, DatabaseUnavailable
from gateway.store.records import DecisionRow, UpstreamResultRow, new_decision_id
from policy.action import Action, ActionKind, ParseProblem
from policy.decision import CannotDecide, Finding, Outcome, Verdict
from policy.facts import Authentication, AuthStatus, Facts
from rules.aml_stage import AML_KINDS

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
BANK_NETWORK = "BANK"  # the mock exchange's fiat rail, as Korean exchanges name it
BANK_ACCOUNT_PREFIX = "account-hash:"


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


def _request_id(request: web.Request, decision_id: uuid.UUID) -> str:
    """The id the middleware gave the request (answered in X-Request-Id, in its logs)."""
    return logs.request_id.get() or decision_id.hex


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
    holder = await _identify(request)
    try:
        body = await _read_body(request)
        params = _read_call(request, body)
    except Refusal as refusal:
        # The key names a customer, so even an unreadable call is on their record.
        refusal.decision_id = await _record_unreadable(request, route, holder, refusal, started)
        raise
    now = utcnow()
    auth = authenticate(
        params.values,
        params.signature,
        params.signed_payload,
        holder.secret,
        now_ms=int(now.timestamp() * 1000),
        recv_window_max_ms=settings.recv_window_max_ms,
        clock_skew_ms=settings.clock_skew_ms,
    )
    action = binance.build_action(route, params.values, holder.customer_id)
    if params.duplicates:
        duplicated = binance.duplicate_problems(params.duplicates)
        action = replace(action, problems=(*duplicated, *action.problems))
    facts = _gather_facts(request, action, auth, holder, now)
    action = _with_market(action, facts)
    if action.kind in AML_KINDS and auth.status is AuthStatus.OK and not action.problems:
        return await _decide_money_call(request, route, holder, action, facts, body, started)
    verdict = app[K.RULES].pipeline.decide(action, facts)
    decision_id = await _record(request, holder, action, verdict, now, started, facts)
    if not verdict.outcome.forwards:
        return _refuse(request, action, verdict, decision_id)
    return await _forward(request, route, holder.customer_id, decision_id, body)


def _refuse(request: web.Request, action: Action, verdict: Verdict, decision_id: uuid.UUID) -> web.Response:
    primary = verdict.primary
    reason = primary.reason if primary else verdict.outcome.value
    message = primary.message if primary else "Refused."
    metrics = request.app[K.METRICS]
    metrics.child(metrics.refusals, reason).inc()
    if verdict.cannot_decide is not None:  # a stage could not decide: counted fail-closed
        metrics.child(metrics.fail_closed, reason).inc()
    return refusal_response(request, reason, message, action.kind, decision_id)


async def _decide_money_call(
    request: web.Request,
    route: binance.Route,
    holder: KeyHolder,
    action: Action,
    facts: Facts,
    body: bytes,
    started: float,
) -> web.StreamResponse:
    """Deposits and withdrawals: decided under the customer's lock (gateway/decide/money_calls.py)."""
    assert holder.customer_id is not None

    def make_row(verdict: Verdict, decided: Facts) -> DecisionRow:
        return _decision_row(request, holder, action, verdict, facts.now, started, decided)

    call = MoneyCall(
        action, make_row, request.rel_url.raw_query_string, body, request.headers.get("Content-Type")
    )
    try:
        row = await money_calls.decide(request.app, call, facts)
    except CannotDecide as exc:
        raise Refusal(exc.reason, exc.message, fail_closed=True) from exc
    verdict = row.verdict
    _count_decision(request, action, verdict, started)
    if verdict.outcome is Outcome.HOLD:
        # Binance-shaped: the id is what the client looks up in its withdrawal history,
        # where the call shows as awaiting approval until a reviewer decides.
        return web.Response(
            body=orjson.dumps({"id": str(row.id)}),
            content_type="application/json",
            headers={DECISION_HEADER: str(row.id), REVIEW_HEADER: "pending"},
        )
    if not verdict.outcome.forwards:
        return _refuse(request, action, verdict, row.id)
    return await _forward(request, route, holder.customer_id, row.id, body)


def _decision_row(
    request: web.Request,
    holder: KeyHolder,
    action: Action,
    verdict: Verdict,
    now: datetime,
    started: float,
    facts: Facts | None,
) -> DecisionRow:
    decision_id = new_decision_id()
    logs.decision_id.set(str(decision_id))  # for the records logged from here on
    if _to_bank_account(action, request.app):
        # An account number is personal data, and the decision log is append-only and
        # kept for years: it holds the number's keyed hash, the one bank_accounts keeps.
        action = replace(
            action, address=BANK_ACCOUNT_PREFIX + (_destination_hash(action, request.app[K.SETTINGS]) or "")
        )
    return DecisionRow(
        id=decision_id,
        decided_at=now,
        request_id=_request_id(request, decision_id),
        customer_id=holder.customer_id,
        api_key_id=holder.api_key_id,
        dialect=binance.DIALECT,
        http_method=request.method,
        path=request.path,
        action=action,
        verdict=verdict,
        decision_micros=int((time.perf_counter() - started) * 1e6),
        country=holder.customer.jurisdiction,
        facts=facts,
        personal_box=request.app[K.FACTS_BOX],
    )


async def _record(
    request: web.Request,
    holder: KeyHolder,
    action: Action,
    verdict: Verdict,
    now: datetime,
    started: float,
    facts: Facts | None,
) -> uuid.UUID:
    """Commit the decision; only then may anything be forwarded or answered."""
    row = _decision_row(request, holder, action, verdict, now, started, facts)
    try:
        await request.app[K.WRITER].record(row)
    except DatabaseUnavailable as exc:
        raise Refusal(
            "decision_store_unavailable", "Unable to record the decision; try again.", fail_closed=True
        ) from exc
    _count_decision(request, action, verdict, started)
    return row.id


async def _record_unreadable(
    request: web.Request, route: binance.Route, holder: KeyHolder, refusal: Refusal, started: float
) -> uuid.UUID:
    problem = ParseProblem(refusal.reason, "body", refusal.message)
    action = Action(
        kind=route.kind,
        operation=f"{binance.DIALECT}.{route.operation}",
        customer_id=holder.customer_id,
        problems=(problem,),
    )
    finding = Finding(
        "well_formed", f"core.request.{refusal.reason}", Outcome.DENY, refusal.reason, refusal.message
    )
    verdict = Verdict(Outcome.DENY, (finding,), request.app[K.RULES].pipeline.pack_version)
    return await _record(request, holder, action, verdict, utcnow(), started, None)


def _gather_facts(
    request: web.Request, action: Action, auth: Authentication, holder: KeyHolder, now: datetime
) -> Facts:
    markets = request.app[K.MARKETS].current(now)
    needs_markets = action.symbol is not None or action.asset is not None
    if needs_markets and markets is None and not action.problems and auth.status is AuthStatus.OK:
        # Without the exchange's own list we cannot say the symbol is real: refuse to
        # decide rather than forward an unchecked call.
        raise Refusal("markets_unavailable", "Market list unavailable; try again.", fail_closed=True)
    settings = request.app[K.SETTINGS]
    # Ages and expiries are judged on the day the rules are read for (pinned or today).
    today = settings.rules_day(now)
    currency = action.asset if action.kind.decided_as is not ActionKind.ORDER else action.quote_asset
    return Facts(
        now=now,
        authentication=auth,
        customer=holder.customer,
        markets=markets,
        kyc=kyc_facts(
            holder.kyc,
            holder.customer,
            settings.home_country,
            today,
            currency,
            _destination_hash(action, settings),
        ),
    )


def _to_bank_account(action: Action, app: web.Application) -> bool:
    if action.kind is not ActionKind.WITHDRAWAL or not action.address:
        return False
    return action.network == BANK_NETWORK or action.asset in app[K.RULES].book.bank_currencies


def _destination_hash(action: Action, settings: Settings) -> str | None:
    """For a withdrawal, the keyed hash its address would have as a bank account number:
    the real-name rule compares it with the customer's own accounts."""
    if action.kind is not ActionKind.WITHDRAWAL or not action.address:
        return None
    return account_number_hash(settings.secret_key.get_secret_value(), action.address)


def _with_market(action: Action, facts: Facts) -> Action:
    """Name the base and quote assets of the symbol, so notional carries its currency."""
    market = facts.markets.market(action.symbol) if facts.markets and action.symbol else None
    if market is None:
        return action
    return replace(action, base_asset=market.base_asset, quote_asset=market.quote_asset)


def _count_decision(request: web.Request, action: Action, verdict: Verdict, started: float) -> None:
    metrics = request.app[K.METRICS]
    reasons = verdict.reasons
    primary = reasons[0] if reasons else ""
    metrics.child(metrics.decisions, verdict.outcome.value, action.kind.value, primary).inc()
    metrics.child(metrics.decision_seconds, action.kind.value).observe(time.perf_counter() - started)


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
