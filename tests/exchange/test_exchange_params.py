"""Parameter parsing and order validation: the error Binance would answer, per case."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.orders import OrderType, Side, TimeInForce
from exchange.params import order_request, parse_form

REF = D(60000)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("name=my wallet&amount=1", {"name": "my wallet", "amount": "1"}, id="raw-space-kept"),
        pytest.param("name=my%20wallet", {"name": "my wallet"}, id="percent-encoded"),
        pytest.param("name=my+wallet", {"name": "my wallet"}, id="plus-is-space"),
        pytest.param("name=caf\u00e9 \u00fcber", {"name": "caf\u00e9 \u00fcber"}, id="raw-utf8"),
        pytest.param("note=100%&x=1", {"note": "100%", "x": "1"}, id="stray-percent-kept"),
        pytest.param("a=b=c", {"a": "b=c"}, id="split-on-first-equals"),
        pytest.param("empty=&flag", {"empty": "", "flag": ""}, id="blank-values"),
    ],
)
def test_parse_form(body: str, expected: dict[str, str]) -> None:
    assert parse_form(body) == expected


def _order(**overrides: str) -> dict[str, str]:
    base = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.001",
        "price": "50000",
        "timestamp": "1",
        "recvWindow": "10000",
        "signature": "ab",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v != "-"}


def test_valid_limit_order() -> None:
    req = order_request(_order(newClientOrderId="x-TKT5PX2F0123456789abcdef012345"), REF)
    assert (req.side, req.type, req.time_in_force) == (Side.BUY, OrderType.LIMIT, TimeInForce.GTC)
    assert (req.quantity, req.price) == (D("0.001"), D(50000))
    assert req.client_order_id == "x-TKT5PX2F0123456789abcdef012345"


def test_valid_market_by_quote() -> None:
    req = order_request(
        _order(type="MARKET", timeInForce="-", price="-", quantity="-", quoteOrderQty="50"), REF
    )
    assert (req.quantity, req.quote_quantity) == (None, D(50))


def test_market_orders_are_exempt_from_max_notional() -> None:
    """exchangeInfo says applyMaxToMarket false: only a limit order is held to it."""
    big = {"type": "MARKET", "timeInForce": "-", "price": "-", "quantity": "-", "quoteOrderQty": "9000001"}
    assert order_request(_order(**big), REF).quote_quantity == D("9000001")
    with pytest.raises(errors.ApiError, match="NOTIONAL"):
        order_request(_order(quantity="10", price="1000000"), REF)


@pytest.mark.parametrize(
    ("overrides", "code", "msg_part"),
    [
        pytest.param({"symbol": "-"}, -1102, "'symbol'", id="missing-symbol"),
        pytest.param({"symbol": "DOGEUSDT"}, -1121, "Invalid symbol", id="unknown-symbol"),
        pytest.param({"side": "HOLD"}, -1100, "'side'", id="bad-side"),
        pytest.param({"type": "STOP_LOSS"}, -1116, "orderType", id="unsupported-type"),
        pytest.param({"timeInForce": "-"}, -1102, "'timeInForce'", id="limit-needs-tif"),
        pytest.param({"timeInForce": "GTD"}, -1115, "timeInForce", id="bad-tif"),
        pytest.param({"quantity": "-"}, -1102, "'quantity'", id="limit-needs-quantity"),
        pytest.param({"price": "-"}, -1102, "'price'", id="limit-needs-price"),
        pytest.param({"quantity": "1e-3"}, -1100, "'quantity'", id="quantity-exponent"),
        pytest.param({"quantity": "abc"}, -1100, "'quantity'", id="quantity-garbage"),
        pytest.param({"quantity": "0"}, -1013, "Invalid quantity", id="zero-quantity"),
        pytest.param({"quantity": "0.000015"}, -1013, "LOT_SIZE", id="quantity-off-step"),
        pytest.param({"quantity": "0.000001"}, -1013, "LOT_SIZE", id="quantity-below-min"),
        pytest.param({"price": "50000.001"}, -1013, "PRICE_FILTER", id="price-off-tick"),
        pytest.param({"price": "2000000"}, -1013, "PRICE_FILTER", id="price-above-max"),
        pytest.param({"quantity": "0.00001"}, -1013, "NOTIONAL", id="limit-below-min-notional"),
        pytest.param({"quoteOrderQty": "10"}, -1106, "quoteOrderQty", id="limit-with-quote-qty"),
        pytest.param({"newClientOrderId": "has space"}, -1100, "newClientOrderId", id="bad-client-id"),
        pytest.param({"type": "MARKET", "timeInForce": "-"}, -1106, "'price'", id="market-with-price"),
        pytest.param(
            {"type": "MARKET", "timeInForce": "GTC", "price": "-"}, -1106, "timeInForce", id="market-with-tif"
        ),
        pytest.param(
            {"type": "MARKET", "timeInForce": "-", "price": "-", "quantity": "-"},
            -1102,
            "quoteOrderQty",
            id="market-needs-a-size",
        ),
        pytest.param(
            {"type": "MARKET", "timeInForce": "-", "price": "-", "quoteOrderQty": "9"},
            -1106,
            "quoteOrderQty",
            id="market-with-both-sizes",
        ),
        pytest.param(
            {"type": "MARKET", "timeInForce": "-", "price": "-", "quantity": "0.00005"},
            -1013,
            "NOTIONAL",
            id="market-below-min-notional",
        ),
        pytest.param(
            {"type": "MARKET", "timeInForce": "-", "price": "-", "quantity": "-", "quoteOrderQty": "1"},
            -1013,
            "NOTIONAL",
            id="market-quote-below-min",
        ),
    ],
)
def test_order_rejections(overrides: dict[str, str], code: int, msg_part: str) -> None:
    with pytest.raises(errors.ApiError) as rejected:
        order_request(_order(**overrides), REF)
    assert rejected.value.status == 400
    assert rejected.value.code == code
    assert msg_part in rejected.value.msg
