"""Domain records → Binance-shaped JSON objects (amounts as fixed 8-decimal strings)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from exchange.accounts import Account, Deposit, Withdrawal
from exchange.book import OrderBook
from exchange.catalog import ADDRESS_REGEX, MEMO_REGEX, AssetSpec, NetworkSpec, SymbolSpec
from exchange.klines import Candle
from exchange.orders import ZERO, Fill, Order, OrderType, Trade
from exchange.tape import AggTrade, PublicTrade
from exchange.tickers import MarketStats

Json = dict[str, Any]


def fmt(value: Decimal) -> str:
    return f"{value:.8f}"


def _plain(value: Decimal) -> str:
    """Catalogue constants as Binance writes them in filters (no exponent)."""
    return f"{value:f}"


def symbol_info(spec: SymbolSpec) -> Json:
    return {
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base,
        "baseAssetPrecision": spec.base_precision,
        "quoteAsset": spec.quote,
        "quotePrecision": spec.quote_precision,
        "quoteAssetPrecision": spec.quote_precision,
        "baseCommissionPrecision": spec.base_precision,
        "quoteCommissionPrecision": spec.quote_precision,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": _plain(spec.min_price),
             "maxPrice": _plain(spec.max_price), "tickSize": _plain(spec.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": _plain(spec.min_qty),
             "maxQty": _plain(spec.max_qty), "stepSize": _plain(spec.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": _plain(spec.min_qty),
             "maxQty": _plain(spec.max_qty), "stepSize": _plain(spec.step_size)},
            {"filterType": "NOTIONAL", "minNotional": _plain(spec.min_notional),
             "applyMinToMarket": True, "maxNotional": _plain(spec.max_notional),
             "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def order(o: Order) -> Json:
    return {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "price": fmt(o.price),
        "origQty": fmt(o.orig_qty),
        "executedQty": fmt(o.executed_qty),
        "cummulativeQuoteQty": fmt(o.cumulative_quote),
        "status": o.status.value,
        "timeInForce": o.time_in_force.value if o.time_in_force else "GTC",
        "type": o.type.value,
        "side": o.side.value,
        "stopPrice": fmt(ZERO),
        "icebergQty": fmt(ZERO),
        "time": o.created_ms,
        "updateTime": o.updated_ms,
        "isWorking": o.type is not OrderType.MARKET,
        "workingTime": o.created_ms,
        "origQuoteOrderQty": fmt(o.orig_quote_qty),
        "selfTradePreventionMode": "NONE",
    }


def order_ack(o: Order, fills: list[Fill]) -> Json:
    """The FULL response of `POST /api/v3/order`."""
    body = order(o)
    body["transactTime"] = o.updated_ms
    body["fills"] = [
        {"price": fmt(f.price), "qty": fmt(f.qty), "commission": fmt(f.commission),
         "commissionAsset": f.commission_asset, "tradeId": f.trade_id}
        for f in fills
    ]
    return body


def trade(t: Trade) -> Json:
    return {
        "symbol": t.symbol, "id": t.trade_id, "orderId": t.order_id, "orderListId": -1,
        "price": fmt(t.price), "qty": fmt(t.qty), "quoteQty": fmt(t.quote_qty),
        "commission": fmt(t.commission), "commissionAsset": t.commission_asset,
        "time": t.time_ms, "isBuyer": t.is_buyer, "isMaker": t.is_maker, "isBestMatch": True,
    }


def account(acc: Account, now_ms: int) -> Json:
    return {
        "makerCommission": 0, "takerCommission": 0, "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": fmt(ZERO), "taker": fmt(ZERO), "buyer": fmt(ZERO),
                            "seller": fmt(ZERO)},
        "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False,
        "updateTime": now_ms, "accountType": "SPOT",
        "balances": [
            {"asset": a, "free": fmt(acc.free_of(a)), "locked": fmt(acc.locked_of(a))}
            for a in acc.assets()
        ],
        "permissions": ["SPOT"],
        "uid": 0,
    }


def ticker(spec: SymbolSpec, stats: MarketStats, book: OrderBook, now_ms: int) -> Json:
    bid, ask = book.bids.depth(1), book.asks.depth(1)
    change = stats.last_price - stats.open_price
    pct = (change / stats.open_price * 100) if stats.open_price else ZERO
    avg = stats.quote_volume / stats.volume if stats.volume else stats.last_price
    return {
        "symbol": spec.symbol,
        "priceChange": fmt(change),
        "priceChangePercent": f"{pct:.3f}",
        "weightedAvgPrice": fmt(avg),
        "prevClosePrice": fmt(stats.open_price),
        "lastPrice": fmt(stats.last_price),
        "lastQty": fmt(stats.last_qty),
        "bidPrice": fmt(bid[0][0]) if bid else fmt(ZERO),
        "bidQty": fmt(bid[0][1]) if bid else fmt(ZERO),
        "askPrice": fmt(ask[0][0]) if ask else fmt(ZERO),
        "askQty": fmt(ask[0][1]) if ask else fmt(ZERO),
        "openPrice": fmt(stats.open_price),
        "highPrice": fmt(stats.high),
        "lowPrice": fmt(stats.low),
        "volume": fmt(stats.volume),
        "quoteVolume": fmt(stats.quote_volume),
        "openTime": stats.open_ms,
        "closeTime": now_ms,
        "firstId": stats.first_trade_id,
        "lastId": stats.last_trade_id,
        "count": stats.count,
    }


def _network(asset: AssetSpec, net: NetworkSpec) -> Json:
    return {
        "network": net.network, "coin": asset.coin, "name": net.name,
        "isDefault": net.is_default, "depositEnable": net.deposit_enable,
        "withdrawEnable": net.withdraw_enable, "depositDesc": "", "withdrawDesc": "",
        "specialTips": "", "resetAddressStatus": False,
        "addressRegex": ADDRESS_REGEX[net.kind], "memoRegex": MEMO_REGEX.get(net.kind, ""),
        "withdrawFee": _plain(net.withdraw_fee), "withdrawMin": _plain(net.withdraw_min),
        "withdrawMax": _plain(net.withdraw_max),
        "withdrawIntegerMultiple": _plain(net.withdraw_multiple),
        "minConfirm": net.min_confirm, "unLockConfirm": 0, "sameAddress": net.tag_required,
        "busy": False, "contractAddress": net.contract_address, "contractAddressUrl": "",
        "depositDust": "", "estimatedArrivalTime": 5,
    }


def coin_config(asset: AssetSpec, acc: Account) -> Json:
    return {
        "coin": asset.coin, "name": asset.name,
        "depositAllEnable": any(n.deposit_enable for n in asset.networks),
        "withdrawAllEnable": any(n.withdraw_enable for n in asset.networks),
        "free": fmt(acc.free_of(asset.coin)), "locked": fmt(acc.locked_of(asset.coin)),
        "freeze": fmt(ZERO), "withdrawing": fmt(ZERO), "ipoing": fmt(ZERO),
        "ipoable": fmt(ZERO), "storage": fmt(ZERO), "isLegalMoney": asset.fiat, "trading": True,
        "networkList": [_network(asset, n) for n in asset.networks],
    }


def _utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def withdrawal(w: Withdrawal) -> Json:
    body: Json = {
        "id": w.withdraw_id, "amount": fmt(w.amount), "transactionFee": fmt(w.fee),
        "coin": w.coin, "status": w.status, "address": w.address, "txId": w.tx_id,
        "applyTime": _utc_text(w.apply_ms), "completeTime": _utc_text(w.apply_ms),
        "network": w.network, "transferType": 0, "info": "", "confirmNo": 1,
        "walletType": 0, "txKey": "",
    }
    if w.address_tag:
        body["addressTag"] = w.address_tag
    if w.withdraw_order_id:
        body["withdrawOrderId"] = w.withdraw_order_id
    return body


def deposit(d: Deposit) -> Json:
    return {
        "id": d.deposit_id, "amount": fmt(d.amount), "coin": d.coin, "network": d.network,
        "status": d.status, "address": d.address, "addressTag": d.address_tag,
        "txId": d.tx_id, "insertTime": d.insert_ms, "completeTime": d.insert_ms,
        "transferType": 0, "confirmTimes": "1/1", "unlockConfirm": 0, "walletType": 0,
        "sourceAddress": d.source_address,
    }


def public_trade(t: PublicTrade) -> Json:
    return {"id": t.trade_id, "price": fmt(t.price), "qty": fmt(t.qty), "quoteQty": fmt(t.quote_qty),
            "time": t.time_ms, "isBuyerMaker": t.buyer_is_maker, "isBestMatch": True}  # fmt: skip


def agg_trade(t: AggTrade) -> Json:
    return {"a": t.agg_id, "p": fmt(t.price), "q": fmt(t.qty), "f": t.first_trade_id,
            "l": t.last_trade_id, "T": t.time_ms, "m": t.buyer_is_maker, "M": True}  # fmt: skip


def kline(c: Candle) -> list[object]:
    return [c.open_ms, fmt(c.open), fmt(c.high), fmt(c.low), fmt(c.close), fmt(c.volume), c.close_ms,
            fmt(c.quote_volume), c.count, fmt(c.taker_buy_volume), fmt(c.taker_buy_quote_volume),
            "0"]  # fmt: skip
