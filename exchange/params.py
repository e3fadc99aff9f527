"""Request parameters → validated values, or the error Binance would answer.

Parameters arrive as a flat `str → str` mapping (query string for GET/DELETE, form body
merged over the query string for POST). `timestamp`, `recvWindow` and `signature` are the
gateway's business and are ignored here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final
from urllib.parse import parse_qsl

from exchange import errors
from exchange.catalog import SYMBOLS_BY_ID, SymbolSpec
from exchange.orders import ZERO, OrderRequest, OrderType, Side, TimeInForce

Params = Mapping[str, str]

_NUMBER_LEGAL: Final = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
_NUMBER: Final = re.compile(_NUMBER_LEGAL)
_INT: Final = re.compile(r"^[0-9]{1,19}$")
_CLIENT_ID_LEGAL: Final = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"
_CLIENT_ID: Final = re.compile(_CLIENT_ID_LEGAL)
MAX_LIMIT: Final = 1000


def parse_form(body: str) -> dict[str, str]:
    """Parse a form body, tolerating ccxt's raw (not percent-encoded) withdraw bodies.

    `parse_qsl` splits on `&` and the first `=`, and leaves malformed `%` escapes alone, so
    `name=my wallet` and raw UTF-8 both come through as sent.
    """
    return dict(parse_qsl(body, keep_blank_values=True))


def optional(params: Params, name: str) -> str | None:
    value = params.get(name)
    return value if value else None


def required(params: Params, name: str) -> str:
    value = params.get(name)
    if not value:
        raise errors.mandatory(name)
    return value


def decimal_param(params: Params, name: str) -> Decimal | None:
    text = optional(params, name)
    if text is None:
        return None
    if not _NUMBER.match(text):
        raise errors.illegal_chars(name, _NUMBER_LEGAL)
    return Decimal(text)


def int_param(params: Params, name: str) -> int | None:
    text = optional(params, name)
    if text is None:
        return None
    if not _INT.match(text):
        raise errors.illegal_chars(name, "^[0-9]{1,19}$")
    return int(text)


def limit_param(params: Params, default: int = 500, maximum: int = MAX_LIMIT) -> int:
    limit = int_param(params, "limit")
    if limit is None:
        return default
    return max(1, min(limit, maximum))


def symbol_param(params: Params) -> SymbolSpec:
    spec = SYMBOLS_BY_ID.get(required(params, "symbol"))
    if spec is None:
        raise errors.invalid_symbol()
    return spec


def optional_symbol(params: Params) -> SymbolSpec | None:
    return symbol_param(params) if optional(params, "symbol") is not None else None


def _side(params: Params) -> Side:
    text = required(params, "side")
    try:
        return Side(text)
    except ValueError:
        raise errors.illegal_chars("side", "BUY, SELL") from None


def _order_type(params: Params) -> OrderType:
    text = required(params, "type")
    try:
        return OrderType(text)
    except ValueError:
        raise errors.ApiError(errors.BAD_REQUEST, errors.CODE_INVALID_ORDER_TYPE,
                              "Invalid orderType.") from None


def _time_in_force(params: Params, order_type: OrderType) -> TimeInForce | None:
    text = optional(params, "timeInForce")
    if order_type is not OrderType.LIMIT:
        if text is not None:
            raise errors.not_required("timeInForce")
        return None
    if text is None:
        raise errors.mandatory("timeInForce")
    try:
        return TimeInForce(text)
    except ValueError:
        raise errors.ApiError(errors.BAD_REQUEST, errors.CODE_INVALID_TIF,
                              "Invalid timeInForce.") from None


def _check_price(spec: SymbolSpec, price: Decimal) -> None:
    if price <= ZERO:
        raise errors.invalid_message("Invalid price.")
    if price < spec.min_price or price > spec.max_price or price % spec.tick_size != ZERO:
        raise errors.filter_failure("PRICE_FILTER")


def _check_quantity(spec: SymbolSpec, qty: Decimal, filter_name: str) -> None:
    if qty <= ZERO:
        raise errors.invalid_message("Invalid quantity.")
    if qty < spec.min_qty or qty > spec.max_qty or qty % spec.step_size != ZERO:
        raise errors.filter_failure(filter_name)


def _check_notional(spec: SymbolSpec, notional: Decimal, *, market: bool = False) -> None:
    # As exchangeInfo publishes the NOTIONAL filter: applyMinToMarket true,
    # applyMaxToMarket false (exchange/serialize.py).
    if notional < spec.min_notional or (not market and notional > spec.max_notional):
        raise errors.filter_failure("NOTIONAL")


def client_order_id(params: Params, name: str) -> str | None:
    text = optional(params, name)
    if text is not None and not _CLIENT_ID.match(text):
        raise errors.illegal_chars(name, _CLIENT_ID_LEGAL)
    return text


def order_request(params: Params, reference_price: Decimal) -> OrderRequest:
    """Validate a new order like Binance does (`reference_price` sizes market notionals)."""
    spec = symbol_param(params)
    side = _side(params)
    order_type = _order_type(params)
    tif = _time_in_force(params, order_type)
    qty = decimal_param(params, "quantity")
    quote_qty = decimal_param(params, "quoteOrderQty")
    price = decimal_param(params, "price")
    if order_type is OrderType.MARKET:
        if price is not None:
            raise errors.not_required("price")
        if qty is None and quote_qty is None:
            raise errors.one_of_mandatory("quantity", "quoteOrderQty")
        if qty is not None and quote_qty is not None:
            raise errors.not_required("quoteOrderQty")
        if qty is not None:
            _check_quantity(spec, qty, "MARKET_LOT_SIZE")
            _check_notional(spec, qty * reference_price, market=True)
        else:
            assert quote_qty is not None
            if quote_qty <= ZERO:
                raise errors.invalid_message("Invalid quoteOrderQty.")
            _check_notional(spec, quote_qty, market=True)
    else:
        if quote_qty is not None:
            raise errors.not_required("quoteOrderQty")
        if qty is None:
            raise errors.mandatory("quantity")
        if price is None:
            raise errors.mandatory("price")
        _check_price(spec, price)
        _check_quantity(spec, qty, "LOT_SIZE")
        _check_notional(spec, qty * price)
    return OrderRequest(
        symbol=spec.symbol,
        side=side,
        type=order_type,
        quantity=qty,
        quote_quantity=quote_qty,
        price=price,
        time_in_force=tif,
        client_order_id=client_order_id(params, "newClientOrderId"),
    )


def order_ref(params: Params) -> tuple[int | None, str | None]:
    """(orderId, origClientOrderId) of an existing order; at least one is required."""
    order_id = int_param(params, "orderId")
    client_id = optional(params, "origClientOrderId")
    if order_id is None and client_id is None:
        raise errors.one_of_mandatory("origClientOrderId", "orderId")
    return order_id, client_id
