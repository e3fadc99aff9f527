"""Deposits and withdrawals (Binance `sapi/v1/capital`), pure logic over accounts.

Withdrawal fee: by default added on top (the account is debited amount + fee and the
recipient gets `amount`), as Binance does; with `transactionFeeFlag=true` the fee is taken
out of `amount` instead. Withdrawals complete instantly (status 6).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from exchange import errors
from exchange.accounts import Account, Deposit, Withdrawal
from exchange.addresses import deposit_address
from exchange.catalog import ADDRESS_REGEX, ASSETS_BY_COIN, MEMO_REGEX, AssetSpec, NetworkSpec
from exchange.engine import Clock
from exchange.orders import ZERO

WITHDRAW_COMPLETED: Final = 6
DEPOSIT_SUCCESS: Final = 1


@dataclass(frozen=True, slots=True)
class WithdrawRequest:
    coin: str
    network: str | None
    address: str
    address_tag: str | None
    amount: Decimal
    fee_from_amount: bool
    withdraw_order_id: str | None
    name: str | None


def asset_of(coin: str) -> AssetSpec:
    asset = ASSETS_BY_COIN.get(coin)
    if asset is None:
        raise errors.wallet_error(errors.CODE_ASSET_NOT_EXIST, "We don't have this asset.")
    return asset


def network_of(asset: AssetSpec, network: str | None) -> NetworkSpec:
    spec = asset.network(network)
    if spec is None:
        raise errors.wallet_error(
            errors.CODE_ASSET_NOT_OPEN, f"Network {network} is not supported for {asset.coin}."
        )
    return spec


def _tx_hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class Wallet:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._seq = 0
        # (customer, withdrawOrderId) -> the withdrawal it made: a repeated withdrawOrderId
        # is the same withdrawal, as on Binance, so a retried call cannot pay twice.
        self._by_order_id: dict[tuple[str, str], Withdrawal] = {}

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def address(self, account: Account, coin: str, network: str | None) -> tuple[str, str, str]:
        """(coin, address, tag) for deposits."""
        asset = asset_of(coin)
        spec = network_of(asset, network)
        if not spec.deposit_enable:
            raise errors.wallet_error(errors.CODE_ASSET_NOT_OPEN, "Deposits are suspended.")
        address, tag = deposit_address(account.customer_id, coin, spec)
        return coin, address, tag

    def withdraw(self, account: Account, req: WithdrawRequest) -> Withdrawal:
        """A new withdrawal, or the existing one when its withdrawOrderId was seen before for
        this account (answered again; no money moves)."""
        if req.withdraw_order_id:
            existing = self._by_order_id.get((account.customer_id, req.withdraw_order_id))
            if existing is not None:
                return existing
        asset = asset_of(req.coin)
        spec = network_of(asset, req.network)
        _validate_withdrawal(spec, req)
        fee = spec.withdraw_fee
        if req.fee_from_amount:
            if req.amount <= fee:
                raise errors.wallet_error(
                    errors.CODE_AMOUNT_BELOW_FEE,
                    "The amount of withdrawal must be greater than the Commission.",
                )
            debit, sent = req.amount, req.amount - fee
        else:
            debit, sent = req.amount + fee, req.amount
        if not account.debit(req.coin, debit):
            raise errors.wallet_error(errors.CODE_WALLET_INSUFFICIENT, "User has insufficient balance")
        seq = self._next()
        withdraw_id = _tx_hash("withdraw", account.customer_id, str(seq))[:32]
        record = Withdrawal(
            withdraw_id=withdraw_id, coin=req.coin, network=spec.network, amount=sent, fee=fee,
            address=req.address, address_tag=req.address_tag or "",
            tx_id=_tx_hash("tx", withdraw_id), apply_ms=self.clock(), status=WITHDRAW_COMPLETED,
            withdraw_order_id=req.withdraw_order_id or "", name=req.name or "",
        )
        account.withdrawals.append(record)
        if req.withdraw_order_id:
            self._by_order_id[(account.customer_id, req.withdraw_order_id)] = record
        return record

    def deposit(
        self,
        account: Account,
        coin: str,
        amount: Decimal,
        *,
        network: str | None = None,
        address: str | None = None,
        source_address: str | None = None,
        tx_id: str | None = None,
    ) -> Deposit:
        if amount <= ZERO:
            raise errors.wallet_error(errors.CODE_MANDATORY_PARAM, "amount must be positive.")
        asset = asset_of(coin)
        spec = network_of(asset, network)
        own_address, tag = deposit_address(account.customer_id, coin, spec)
        seq = self._next()
        record = Deposit(
            deposit_id=str(10**17 + seq), coin=coin, network=spec.network, amount=amount,
            address=address or own_address, address_tag=tag if address is None else "",
            source_address=source_address or "",
            tx_id=tx_id or _tx_hash("deposit", account.customer_id, coin, str(seq)),
            insert_ms=self.clock(), status=DEPOSIT_SUCCESS,
        )
        account.credit(coin, amount)
        account.deposits.append(record)
        return record


def _validate_withdrawal(spec: NetworkSpec, req: WithdrawRequest) -> None:
    if not spec.withdraw_enable:
        raise errors.wallet_error(errors.CODE_ASSET_NOT_OPEN, "Current asset is not open for withdrawal.")
    if not re.match(ADDRESS_REGEX[spec.kind], req.address):
        raise errors.wallet_error(errors.CODE_ADDRESS_INVALID, "Address validation is not passed.")
    memo = MEMO_REGEX.get(spec.kind)
    if memo is not None and (req.address_tag is None or not re.match(memo, req.address_tag)):
        raise errors.wallet_error(errors.CODE_ADDRESS_TAG_INVALID, "Address tag validation is not passed.")
    if req.amount <= ZERO or req.amount < spec.withdraw_min:
        raise errors.wallet_error(
            errors.CODE_WITHDRAW_MIN, f"Not less than the minimum pick-up quantity {spec.withdraw_min}."
        )
    if req.amount > spec.withdraw_max:
        raise errors.wallet_error(
            errors.CODE_WITHDRAW_MAX, "Within 24 hours, the withdrawal exceeds the maximum amount."
        )
    if req.amount % spec.withdraw_multiple != ZERO:
        raise errors.wallet_error(
            errors.CODE_WITHDRAW_MULTIPLE,
            f"Asset withdrawal must be an integer multiple of {spec.withdraw_multiple}.",
        )
