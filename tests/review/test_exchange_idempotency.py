"""The mock exchange, like Binance, treats a repeated withdrawOrderId of one account as the
same withdrawal: the forward of an approved hold can be retried without paying twice."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest

from tests.conftest import Exchange
from tests.review.support import ADDRESS, FORM, WITHDRAW_PATH, account, withdrawals
from tests.support import SERVICE_TOKEN

pytestmark = pytest.mark.asyncio


async def _withdraw(
    http: aiohttp.ClientSession, exchange: Exchange, customer: str, body: str
) -> tuple[int, str]:
    headers = {"X-Gateway-Token": SERVICE_TOKEN, "X-Customer-Id": customer, "Content-Type": FORM}
    async with http.post(exchange.url + WITHDRAW_PATH, data=body.encode(), headers=headers) as response:
        answer = await response.json()
        return response.status, answer.get("id")


async def test_repeated_withdraw_order_id_is_one_withdrawal(
    exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    before = await account(http, exchange, "c-1")
    body = f"coin=BTC&address={ADDRESS}&amount=0.01&withdrawOrderId=key-1"
    first = await _withdraw(http, exchange, "c-1", body)
    second = await _withdraw(http, exchange, "c-1", body)
    assert first[0] == second[0] == 200 and first[1] == second[1]
    sent = await withdrawals(http, exchange, "c-1")
    assert len(sent) == 1
    after = await account(http, exchange, "c-1")
    debit = Decimal(before["balances"]["BTC"]["free"]) - Decimal(after["balances"]["BTC"]["free"])
    assert debit == Decimal("0.01") + Decimal(sent[0]["transactionFee"])
    # Another account's key, or no key, is another withdrawal.
    assert (await _withdraw(http, exchange, "c-2", body))[1] != first[1]
    plain = f"coin=BTC&address={ADDRESS}&amount=0.01"
    assert (await _withdraw(http, exchange, "c-1", plain))[1] != (
        await _withdraw(http, exchange, "c-1", plain)
    )[1]
    assert len(await withdrawals(http, exchange, "c-1")) == 3
