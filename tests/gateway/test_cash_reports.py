"""Cash reports through the real gateway: a Korean CTR counts cash, the KRW that reaches
the exchange through the customer's real-name bank account, added up over the Seoul
day; a virtual-asset deposit worth more opens none."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import asyncpg
import pytest

from gateway.app import create_app
from tests.conftest import Exchange, gateway_settings
from tests.support import Customer, admin, new_customer, serving

pytestmark = pytest.mark.asyncio
PARTNER_BANK = "011"
CTR = "kr.cash_report.current"


async def _deposit(http: aiohttp.ClientSession, url: str, customer: Customer, coin: str, amount: str) -> Any:
    body = {"customer_id": customer.id, "coin": coin, "amount": amount, "network": "BANK" if coin == "KRW" else "BTC",
            "tx_id": f"tx-{uuid.uuid4().hex}"}  # fmt: skip
    status, answer = await admin(http, url, "POST", "/admin/v1/deposits", json=body)
    assert status == 201, answer
    return answer


async def _report_kinds(database_url: str, decision_id: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT kind FROM report_candidates WHERE $1 = ANY(decision_ids) ORDER BY kind",
            uuid.UUID(decision_id),
        )
    finally:
        await conn.close()
    return [r["kind"] for r in rows]


async def _opened_with(database_url: str, decision_id: str) -> None:
    """The decision's report candidates, their history's first lines and its movement are
    written by the decision's own statement: one transaction time for all of them."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """SELECT r.opened_at, h.at, h.from_status, h.to_status, m.occurred_at IS NOT NULL AS moved,
                      r.opened_at = (SELECT min(b.opened_at) FROM report_candidates b
                                      WHERE $1 = ANY(b.decision_ids)) AS together
                 FROM report_candidates r
                 JOIN report_history h ON h.report_id = r.id
                 LEFT JOIN movements m ON m.decision_id = $1
                WHERE $1 = ANY(r.decision_ids)""",
            uuid.UUID(decision_id),
        )
    finally:
        await conn.close()
    assert rows
    for row in rows:
        assert (row["from_status"], row["to_status"]) == (None, "open")
        assert row["at"] == row["opened_at"] and row["moved"] and row["together"]


async def test_krw_cash_adds_up_over_the_day_and_btc_is_not_cash(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    settings = gateway_settings(
        database_url, exchange.url, home_country="KR", partner_banks=frozenset({PARTNER_BANK})
    )
    async with serving(create_app(settings)) as url:
        customer = await new_customer(http, url, "cash")
        account = {"currency": "KRW", "bank_code": PARTNER_BANK, "account_number": "110-123-456789",
                   "holder_name": "김민준", "holder_confirmed": True}  # fmt: skip
        status, answer = await admin(
            http, url, "POST", f"/admin/v1/customers/{customer.id}/bank-accounts", json=account
        )
        assert status == 201, answer
        # About KRW 10.9m in BTC: no cash, so no CTR (the KoFIU indicator reports it).
        btc = await _deposit(http, url, customer, "BTC", "0.13")
        assert CTR not in [f["rule_id"] for f in btc["findings"]], btc
        first = await _deposit(http, url, customer, "KRW", "6000000")
        assert CTR not in [f["rule_id"] for f in first["findings"]], first
        # The same day's second KRW deposit takes the day's cash to KRW 11m: a CTR.
        second = await _deposit(http, url, customer, "KRW", "5000000")
    ctr = next(f for f in second["findings"] if f["rule_id"] == CTR)
    assert ctr["outcome"] == "allow_and_report" and ctr["citation"]
    assert (ctr["values"]["total"], ctr["values"]["rails"], ctr["values"]["period"]) == (
        "11000000",
        ["bank"],
        "day",
    )
    assert "CTR" in await _report_kinds(database_url, second["decision_id"])
    await _opened_with(database_url, second["decision_id"])
    assert "CTR" not in await _report_kinds(database_url, btc["decision_id"])
