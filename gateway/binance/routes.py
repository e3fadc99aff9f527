"""The Binance Spot REST dialect: which calls exist, and what each one does as an Action."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from gateway.binance.params import parse_decimal
from gateway.review.keys import IDEMPOTENCY_PARAM, reserved_key
from policy.action import Action, ActionKind, ParseProblem, Side
from policy.facts import MarketCatalog

DIALECT = "binance"

_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
_ASSET = re.compile(r"^[A-Z0-9]{1,12}$")
_CLIENT_ORDER_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")  # Binance's documented pattern
_ADDRESS = re.compile(r"^[A-Za-z0-9:._-]{10,128}$")
_ORDER_TYPES = frozenset(
    {"LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
     "TAKE_PROFIT_LIMIT"}
)  # fmt: skip
_NEEDS_PRICE = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
_TIME_IN_FORCE = frozenset({"GTC", "IOC", "FOK"})
# Binance's integer parameters (ids, times, page sizes and offsets, history statuses):
# checked on every call, so a malformed one is refused and recorded here, not forwarded
# as an allowed call for the exchange to refuse.
_INTEGER_PARAMS = ("orderId", "fromId", "limit", "offset", "startTime", "endTime", "status")
_INTEGER = re.compile(r"^[0-9]{1,20}$")
_DUPLICATES_REPORTED = 10


@dataclass(frozen=True)
class Route:
    operation: str
    kind: ActionKind
    signed: bool
    # The params that make an Action; None for public calls, which are not decided.
    build: Callable[[_Reader], Action] | None = None


@dataclass
class _Reader:
    """Reads one call's params into Action fields, collecting problems instead of raising."""

    operation: str
    kind: ActionKind
    params: dict[str, str]
    customer_id: str | None
    problems: list[ParseProblem] = field(default_factory=list)
    # The exchange's market list, to name a symbol's base and quote assets (so a notional
    # carries its currency); None when there is none young enough.
    markets: MarketCatalog | None = None

    def text(self, name: str, pattern: re.Pattern[str], *, required: bool = True) -> str | None:
        value = self.params.get(name)
        if value is None or value == "":
            if required:
                self.problems.append(
                    ParseProblem("missing_parameter", name, f"Mandatory parameter '{name}' was not sent.")
                )
            return None
        if not pattern.match(value):
            self.problems.append(
                ParseProblem("malformed_parameter", name, f"Illegal characters found in parameter '{name}'.")
            )
            return None
        return value

    def choice(self, name: str, allowed: frozenset[str], *, required: bool = True) -> str | None:
        value = self.params.get(name)
        if value is None or value == "":
            if required:
                self.problems.append(
                    ParseProblem("missing_parameter", name, f"Mandatory parameter '{name}' was not sent.")
                )
            return None
        if value not in allowed:
            self.problems.append(ParseProblem("invalid_value", name, f"Invalid {name}: {value[:40]!r}."))
            return None
        return value

    def amount(self, name: str, *, required: bool = True) -> Decimal | None:
        raw = self.params.get(name)
        if raw is None or raw == "":
            if required:
                self.problems.append(
                    ParseProblem("missing_parameter", name, f"Mandatory parameter '{name}' was not sent.")
                )
            return None
        value = parse_decimal(raw)
        if value is None:
            self.problems.append(
                ParseProblem("malformed_parameter", name, f"Illegal characters found in parameter '{name}'.")
            )
            return None
        if value <= 0:
            self.problems.append(
                ParseProblem("non_positive_amount", name, f"Parameter '{name}' must be positive.")
            )
            return None
        return value

    def action(self, **fields: object) -> Action:
        symbol = fields.get("symbol")
        market = self.markets.market(symbol) if self.markets is not None and isinstance(symbol, str) else None
        if market is not None:
            fields["base_asset"], fields["quote_asset"] = market.base_asset, market.quote_asset
        return Action(
            kind=self.kind,
            operation=self.operation,
            customer_id=self.customer_id,
            problems=tuple(self.problems),
            **fields,  # type: ignore[arg-type]
        )


def _no_params(r: _Reader) -> Action:
    return r.action()


def _symbol_only(r: _Reader) -> Action:
    return r.action(symbol=r.text("symbol", _SYMBOL))


def _optional_symbol(r: _Reader) -> Action:
    return r.action(symbol=r.text("symbol", _SYMBOL, required=False))


def _optional_coin(r: _Reader) -> Action:
    return r.action(asset=r.text("coin", _ASSET, required=False))


def _order_ref(r: _Reader) -> Action:
    symbol = r.text("symbol", _SYMBOL)
    if "orderId" not in r.params and "origClientOrderId" not in r.params:
        r.problems.append(
            ParseProblem(
                "missing_parameter",
                "orderId",
                "Param 'origClientOrderId' or 'orderId' must be sent.",
            )
        )
    client_order_id = r.text("origClientOrderId", _CLIENT_ORDER_ID, required=False)
    return r.action(symbol=symbol, client_order_id=client_order_id)


_BOOLEAN = frozenset({"true", "false"})


def _new_order(r: _Reader) -> Action:
    symbol = r.text("symbol", _SYMBOL)
    side = r.choice("side", frozenset({"BUY", "SELL"}))
    order_type = r.choice("type", _ORDER_TYPES)
    by_quote = order_type == "MARKET" and "quoteOrderQty" in r.params and "quantity" not in r.params
    quantity = None if by_quote else r.amount("quantity")
    quote_quantity = r.amount("quoteOrderQty") if by_quote else None
    price = r.amount("price", required=order_type in _NEEDS_PRICE)
    if order_type in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        r.choice("timeInForce", _TIME_IN_FORCE)
    client_order_id = r.text("newClientOrderId", _CLIENT_ORDER_ID, required=False)
    return r.action(
        symbol=symbol,
        side=Side(side.lower()) if side else None,
        order_type=order_type,
        quantity=quantity,
        quote_quantity=quote_quantity,
        price=price,
        client_order_id=client_order_id,
    )


def _test_order(r: _Reader) -> Action:
    """An order the exchange validates and drops: read as the order it rehearses."""
    r.choice("computeCommissionRates", _BOOLEAN, required=False)
    return _new_order(r)


# Travel-rule data rides on the withdrawal as Binance's travel-rule variant does it: a
# `questionnaire` parameter, here holding the IVMS101 identity payload as JSON. A
# self-hosted destination is declared with `walletType=self_hosted`, and the proof that
# the customer controls it (a signed message, a satoshi test reference) in
# `ownershipProof`. The exchange ignores parameters it does not know.
TRAVEL_RULE_PARAM = "questionnaire"
_WALLET_TYPES = frozenset({"self_hosted", "vasp"})
# Printable ASCII, spaces included: ccxt sends withdrawal parameters unencoded (its
# `rawencode`), so a base64 signature's '+' arrives here decoded as a space.
_PROOF = re.compile(r"^[\x20-\x7e]{16,1024}$")
# A destination tag or memo (XRP, XLM, EOS …): printable ASCII, as long as the longest memo.
_ADDRESS_TAG = re.compile(r"^[\x20-\x7e]{1,256}$")


def _withdraw_order_id(r: _Reader) -> str | None:
    """The client's idempotency key, never one in the gateway's namespace: a key the
    gateway derives for a held call could otherwise be taken first, and the exchange would
    answer the held call's forward with the client's other withdrawal."""
    client_id = r.text(IDEMPOTENCY_PARAM, _CLIENT_ORDER_ID, required=False)
    if client_id is not None and reserved_key(client_id):
        r.problems.append(
            ParseProblem(
                "invalid_value", IDEMPOTENCY_PARAM, f"{IDEMPOTENCY_PARAM} is in a reserved namespace."
            )
        )
        return None
    return client_id


def _withdraw(r: _Reader) -> Action:
    return r.action(
        asset=r.text("coin", _ASSET),
        address=r.text("address", _ADDRESS),
        quantity=r.amount("amount"),
        network=r.text("network", _ASSET, required=False),
        address_tag=r.text("addressTag", _ADDRESS_TAG, required=False),
        client_order_id=_withdraw_order_id(r),
        travel_rule=r.params.get(TRAVEL_RULE_PARAM) or None,
        self_hosted=r.choice("walletType", _WALLET_TYPES, required=False) == "self_hosted",
        ownership_proof=r.text("ownershipProof", _PROOF, required=False),
    )


def _deposit_address(r: _Reader) -> Action:
    return r.action(asset=r.text("coin", _ASSET), network=r.text("network", _ASSET, required=False))


def _public(operation: str) -> Route:
    return Route(operation, ActionKind.PUBLIC_READ, signed=False)


def _signed(operation: str, kind: ActionKind, build: Callable[[_Reader], Action]) -> Route:
    return Route(operation, kind, signed=True, build=build)


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/v3/ping"): _public("ping"),
    ("GET", "/api/v3/time"): _public("time"),
    ("GET", "/api/v3/exchangeInfo"): _public("exchange_info"),
    ("GET", "/api/v3/ticker/24hr"): _public("ticker_24hr"),
    ("GET", "/api/v3/ticker/price"): _public("ticker_price"),
    ("GET", "/api/v3/depth"): _public("depth"),
    ("GET", "/api/v3/ticker/bookTicker"): _public("book_ticker"),
    ("GET", "/api/v3/trades"): _public("trades"),
    ("GET", "/api/v3/historicalTrades"): _public("historical_trades"),
    ("GET", "/api/v3/aggTrades"): _public("agg_trades"),
    ("GET", "/api/v3/klines"): _public("klines"),
    ("GET", "/api/v3/avgPrice"): _public("avg_price"),
    ("GET", "/sapi/v1/system/status"): _public("system_status"),
    ("GET", "/fapi/v1/exchangeInfo"): _public("futures_exchange_info"),
    ("GET", "/dapi/v1/exchangeInfo"): _public("delivery_exchange_info"),
    ("GET", "/api/v3/account"): _signed("account", ActionKind.ACCOUNT_READ, _no_params),
    ("POST", "/api/v3/order"): _signed("order.create", ActionKind.ORDER, _new_order),
    # Decided and recorded as an order, and forwarded to order/test only: the gateway
    # forwards every call to the path it came on, never to another.
    ("POST", "/api/v3/order/test"): _signed("order.test", ActionKind.ORDER_TEST, _test_order),
    ("GET", "/api/v3/order"): _signed("order.get", ActionKind.ACCOUNT_READ, _order_ref),
    ("DELETE", "/api/v3/order"): _signed("order.cancel", ActionKind.CANCEL, _order_ref),
    ("GET", "/api/v3/openOrders"): _signed("orders.open", ActionKind.ACCOUNT_READ, _optional_symbol),
    ("GET", "/api/v3/allOrders"): _signed("orders.all", ActionKind.ACCOUNT_READ, _symbol_only),
    ("GET", "/api/v3/myTrades"): _signed("trades.mine", ActionKind.ACCOUNT_READ, _symbol_only),
    ("GET", "/sapi/v1/asset/tradeFee"): _signed("trade_fee", ActionKind.ACCOUNT_READ, _optional_symbol),
    ("GET", "/sapi/v1/capital/config/getall"): _signed("capital.config", ActionKind.ACCOUNT_READ, _no_params),
    ("GET", "/sapi/v1/margin/allPairs"): _signed("margin.pairs", ActionKind.ACCOUNT_READ, _no_params),
    ("GET", "/sapi/v1/margin/isolated/allPairs"): _signed(
        "margin.isolated_pairs", ActionKind.ACCOUNT_READ, _no_params
    ),
    ("GET", "/sapi/v1/capital/deposit/address"): _signed(
        "deposit.address", ActionKind.DEPOSIT_ADDRESS, _deposit_address
    ),
    ("POST", "/sapi/v1/capital/withdraw/apply"): _signed("withdraw.apply", ActionKind.WITHDRAWAL, _withdraw),
    ("GET", "/sapi/v1/capital/withdraw/history"): _signed(
        "withdraw.history", ActionKind.ACCOUNT_READ, _optional_coin
    ),
    ("GET", "/sapi/v1/capital/deposit/hisrec"): _signed(
        "deposit.history", ActionKind.ACCOUNT_READ, _optional_coin
    ),
}


def route_for(method: str, path: str) -> Route | None:
    return ROUTES.get((method, path))


def build_action(
    route: Route,
    params: dict[str, str],
    customer_id: str | None,
    markets: MarketCatalog | None,
    duplicates: tuple[str, ...] = (),
) -> Action:
    """The call as an Action, its problems (each parameter given twice first) collected."""
    assert route.build is not None, "public routes are not decided"
    reader = _Reader(f"{DIALECT}.{route.operation}", route.kind, params, customer_id, markets=markets)
    if duplicates:
        reader.problems.extend(duplicate_problems(duplicates))
    _check_integers(reader)
    return route.build(reader)


def _check_integers(reader: _Reader) -> None:
    for name in _INTEGER_PARAMS:
        if name in reader.params:
            reader.text(name, _INTEGER, required=False)


def duplicate_problems(names: tuple[str, ...]) -> list[ParseProblem]:
    """One problem per name given twice, for the first few names only: `a&a&a…` in a 64 KiB
    body would otherwise put tens of thousands of findings into one decision row, hashed
    into the chain."""
    named = list(dict.fromkeys(names))[:_DUPLICATES_REPORTED]
    return [ParseProblem("duplicate_parameter", n, f"Duplicate values for parameter '{n}'.") for n in named]


def public_problems(route: Route, params: dict[str, str], duplicates: tuple[str, ...]) -> list[ParseProblem]:
    """Public reads are not decided, yet held to the rules of a signed call: each parameter
    once and integers in ASCII digits, so the gateway never forwards a call whose meaning
    depends on which copy, or which digits, the exchange happens to read."""
    reader = _Reader(f"{DIALECT}.{route.operation}", route.kind, params, None)
    reader.problems.extend(duplicate_problems(duplicates))
    _check_integers(reader)
    return reader.problems
