"""How refusals look in the Binance dialect: HTTP status and a `{"code", "msg"}` body.

The codes are the ones ccxt maps to meaningful exceptions (see the ccxt reference):
-1022 AuthenticationError, -1021 InvalidNonce, -1121 BadSymbol, -1102/-1100 BadRequest,
-4000 InvalidOrder. The `msg` starts with a stable snake_case reason code.
"""

from __future__ import annotations

from typing import NamedTuple

from policy.action import ActionKind


class WireError(NamedTuple):
    http_status: int
    code: int


REASON_ERRORS: dict[str, WireError] = {
    "missing_api_key": WireError(401, -2014),
    "unknown_api_key": WireError(401, -2015),
    "missing_signature": WireError(400, -1102),
    "bad_signature": WireError(400, -1022),
    "missing_timestamp": WireError(400, -1102),
    "bad_timestamp": WireError(400, -1100),
    "stale_timestamp": WireError(400, -1021),
    "future_timestamp": WireError(400, -1021),
    # The same signed bytes seen before (gateway/store/seen_requests.py): a nonce used
    # twice. ccxt: InvalidNonce, so a client signs again with a fresh timestamp.
    "replayed_request": WireError(400, -1021),
    "bad_recv_window": WireError(400, -1131),
    "duplicate_parameter": WireError(400, -1101),
    "missing_parameter": WireError(400, -1102),
    "malformed_parameter": WireError(400, -1100),
    "invalid_value": WireError(400, -1102),
    "non_positive_amount": WireError(400, -1013),
    "unknown_symbol": WireError(400, -1121),
    "symbol_not_trading": WireError(400, -1013),
    "unknown_asset": WireError(400, -1013),
    # A withdrawal's network or address the exchange's coin networks refuse
    # (gateway/feeds/capital.py). ccxt: BadRequest for both; -4007 is Binance's own
    # "Address validation is not passed".
    "unknown_network": WireError(400, -1102),
    "invalid_address": WireError(400, -4007),
    "unknown_customer": WireError(401, -1002),
    "customer_inactive": WireError(401, -1002),
    "body_too_large": WireError(413, -1104),
    "unsupported_content_type": WireError(415, -1102),
    "malformed_encoding": WireError(400, -1100),
    "unknown_endpoint": WireError(404, -1000),
    "method_not_allowed": WireError(405, -1000),
    # Not HTTP/1.1 the server can read (gateway/http/edge_protocol.py): no handler saw it.
    "malformed_request": WireError(400, -1100),
    # Could not decide or could not deliver: never a silent allow.
    "decision_store_unavailable": WireError(503, -1001),
    "markets_unavailable": WireError(503, -1001),
    "networks_unavailable": WireError(503, -1001),
    "facts_unavailable": WireError(503, -1001),
    "price_unavailable": WireError(503, -1001),
    "aml_facts_missing": WireError(503, -1001),
    "sanctions_unavailable": WireError(503, -1001),
    "upstream_unavailable": WireError(503, -1001),
    "upstream_timeout": WireError(504, -1007),
}

# A compliance refusal with no specific mapping: ccxt raises InvalidOrder for -4000 and
# BadRequest for -1013, which is what a trading bot should see for each kind of call.
_COMPLIANCE_DEFAULT = {
    ActionKind.ORDER: WireError(400, -4000),
    ActionKind.CANCEL: WireError(400, -4000),
}
_FALLBACK = WireError(400, -1013)


def wire_error(reason: str, kind: ActionKind | None) -> WireError:
    known = REASON_ERRORS.get(reason)
    if known is not None:
        return known
    if kind is not None and kind.decided_as in _COMPLIANCE_DEFAULT:
        return _COMPLIANCE_DEFAULT[kind.decided_as]  # an order test is refused as its order
    return _FALLBACK


def error_body(code: int, reason: str, message: str) -> dict[str, object]:
    return {"code": code, "msg": f"{reason}: {message}"}
