"""The HTTP edge: gateway authentication, the request log, the one error presenter, and
helpers handlers use to read parameters and the customer account."""

from __future__ import annotations

import hmac
import logging
from typing import Any, Final

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from exchange import errors
from exchange.accounts import Account
from exchange.market_maker import MARKET_MAKER_ID
from exchange.params import parse_form
from exchange.state import STATE, ExchangeState

TOKEN_HEADER: Final = "X-Gateway-Token"
CUSTOMER_HEADER: Final = "X-Customer-Id"
MAX_CUSTOMER_ID_LENGTH: Final = 256
OPS_PREFIX: Final = "/ops/"
_JSON: Final = "application/json"
_BODY_METHODS: Final = frozenset({"POST", "PUT", "DELETE"})
_UNKNOWN_ERROR: Final = "An unknown error occured while processing the request."

log = logging.getLogger(__name__)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=_JSON)


def error_response(exc: errors.ApiError) -> web.Response:
    return json_response(exc.body(), exc.status)


def state_of(request: web.Request) -> ExchangeState:
    return request.app[STATE]


def _token_ok(presented: str | None, expected: bytes) -> bool:
    if presented is None:
        return False
    # Constant-time so the token cannot be guessed byte by byte from response timing.
    return hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), expected)


def customer(request: web.Request) -> Account:
    """The account named by `X-Customer-Id` (created on first use); 401 without one."""
    customer_id = request.headers.get(CUSTOMER_HEADER, "").strip()
    if not customer_id:
        raise errors.unauthorized(f"Missing {CUSTOMER_HEADER} header: this endpoint needs a customer.")
    if customer_id == MARKET_MAKER_ID or len(customer_id) > MAX_CUSTOMER_ID_LENGTH:
        raise errors.unauthorized(f"Invalid {CUSTOMER_HEADER} header.")
    return state_of(request).accounts.get_or_create(customer_id)


async def request_params(request: web.Request) -> dict[str, str]:
    """Query string, with a form body (POST/PUT/DELETE) merged over it."""
    merged = dict(request.query)
    if request.method in _BODY_METHODS and request.can_read_body:
        body = await request.read()
        merged.update(parse_form(body.decode("utf-8", "replace")))
    return merged


def _from_http_exception(exc: web.HTTPException) -> web.Response:
    if exc.status == 404:
        return json_response({"code": -1020, "msg": "This operation is not supported."}, 404)
    if exc.status == 405:
        return json_response({"code": -1020, "msg": "Method not allowed."}, 405)
    return json_response({"code": errors.CODE_UNKNOWN, "msg": exc.reason}, exc.status)


@web.middleware
async def gateway_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = state_of(request)
    if not _token_ok(request.headers.get(TOKEN_HEADER), state.token):
        state.requests.rejected += 1
        return error_response(errors.unauthorized())
    response: web.StreamResponse
    try:
        response = await handler(request)
    except errors.ApiError as exc:
        response = error_response(exc)
    except web.HTTPException as exc:
        response = _from_http_exception(exc)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = json_response({"code": errors.CODE_UNKNOWN, "msg": _UNKNOWN_ERROR}, 500)
    if not request.path.startswith(OPS_PREFIX):
        state.requests.record(
            request.method, request.path, request.headers.get(CUSTOMER_HEADER),
            response.status, state.engine.clock(),
        )
    return response
