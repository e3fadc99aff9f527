"""Korea's real-name system through the real gateway with a real client (ccxt), on the
mock exchange's KRW rails: one readable id per case, the reason and rule id it expects,
and whether the exchange saw the call.

The rule (kyc/stage.py, values from rules/packs/kr.toml): a KRW deposit or withdrawal
needs a bank-confirmed account in the customer's own name; with the 2018 same-bank rule,
an account at a bank other than the exchange's partner bank may withdraw but not deposit.

A holder who is not the customer never gets on record: the admin API refuses the account
(422), so through the gateway that customer has no real-name account. The stage's own
`real_name_holder_mismatch` (a stored account whose name does not match) cannot be reached
through the API; tests/kyc/test_stage.py and tests/rules/test_kyc_stage.py cover it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import ccxt.async_support as ccxt
import pytest

from gateway.app import create_app
from gateway.kyc_service import account_number_hash
from rules.kyc_rules import kyc_rule_set
from rules.loader import load_rule_book
from tests.conftest import Exchange, gateway_settings
from tests.support import AUDITOR_TOKEN, SERVICE_TOKEN, Customer, admin, ccxt_client, new_customer, serving

pytestmark = pytest.mark.asyncio

TODAY = datetime.now(UTC).date()
RULES_2018 = date(2018, 6, 1)
PARTNER_BANK = "011"  # the exchange's real-name partner bank (a Korean bank code)
OTHER_BANK = "088"
# The KYC name of every customer here is tests.support.identity_body's: Kim Minjun, 김민준.
HOLDER = "김민준"
HOLDER_LATIN = "MINJUN KIM"  # Latin names match in any word order
SOMEONE_ELSE = "이서연"
KRW_ACCOUNT = "110-123-456789"
OTHER_ACCOUNT = "123456-78-901234"
BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"

# What the mock exchange starts every account with and charges (exchange/settings.py,
# exchange/catalog.py): the allowed cases check that the money really moved.
KRW_START, KRW_FEE, KRW_AMOUNT = Decimal(10_000_000), Decimal(1_000), Decimal(50_000)
BTC_START, BTC_FEE, BTC_AMOUNT = Decimal(2), Decimal("0.0002"), Decimal("0.001")

MISSING, NOT_PARTNER = "real_name_account_missing", "real_name_not_partner_bank"
RULE_NOW, RULE_2018 = "kr.real_name_account.current", "kr.real_name_account.2018"


def _partner_bank_required_for_deposit(on: date) -> bool:
    """Today's value comes from kr.toml (unverified there, kept conservative): the test
    follows the pack rather than restating it."""
    rules = kyc_rule_set(load_rule_book(), home="KR", residence="KR", region=None, on=on)
    return rules.real_name_accounts["KRW"].value.partner_bank_required_for_deposit


PARTNER_ONLY_TODAY = _partner_bank_required_for_deposit(TODAY)


@dataclass(frozen=True)
class Account:
    bank: str
    holder: str = HOLDER
    number: str = KRW_ACCOUNT
    confirmed: bool = True  # the bank's real-name check
    currency: str = "KRW"
    refused_at_attach: bool = False  # the admin API refuses a holder who is not the customer


@dataclass(frozen=True)
class Case:
    id: str
    call: str  # "withdraw" or "deposit_address"
    accounts: tuple[Account, ...] = ()
    coin: str = "KRW"
    as_of: date | None = None  # None: today's rules
    reason: str | None = None  # None: allowed and forwarded
    rule: str | None = None
    note: str = ""
    destination: str | None = None  # a KRW withdrawal's account; None: the first on record
    amount: Decimal | None = None  # None: KRW_AMOUNT or BTC_AMOUNT


PARTNER = Account(PARTNER_BANK)
OTHER = Account(OTHER_BANK, HOLDER_LATIN, OTHER_ACCOUNT)
UNCONFIRMED = Account(PARTNER_BANK, confirmed=False)
NOT_THE_CUSTOMER = Account(PARTNER_BANK, SOMEONE_ELSE, refused_at_attach=True)

CASES = [
    Case("no-account-withdraw", "withdraw", reason=MISSING, rule=RULE_NOW),
    Case("no-account-deposit-address", "deposit_address", reason=MISSING, rule=RULE_NOW),
    Case("holder-not-customer-withdraw", "withdraw", (NOT_THE_CUSTOMER,), reason=MISSING, rule=RULE_NOW,
         note="refused at attach (422), so no account is on record"),
    Case("holder-not-customer-deposit-address", "deposit_address", (NOT_THE_CUSTOMER,), reason=MISSING, rule=RULE_NOW),
    Case("holder-unconfirmed-withdraw", "withdraw", (UNCONFIRMED,), reason=MISSING, rule=RULE_NOW,
         note="the bank has not confirmed the holder: not a real-name account yet"),
    Case("holder-unconfirmed-deposit-address", "deposit_address", (UNCONFIRMED,), reason=MISSING, rule=RULE_NOW),
    Case("usd-account-does-not-count-for-krw", "withdraw", (Account(PARTNER_BANK, currency="USD"),),
         reason=MISSING, rule=RULE_NOW),
    Case("partner-bank-withdraw", "withdraw", (PARTNER,)),
    Case("partner-bank-deposit-address", "deposit_address", (PARTNER,)),
    Case("other-bank-withdraw", "withdraw", (OTHER,)),
    Case("withdraw-to-someone-elses-account", "withdraw", (PARTNER,), destination="333-444-555666",
         reason="real_name_not_own_account", rule=RULE_NOW,
         note="won leave only to the customer's own registered account"),
    Case("withdraw-to-own-account-without-hyphens", "withdraw", (PARTNER,),
         destination=KRW_ACCOUNT.replace("-", "")),
    Case("bank-withdrawal-over-krw-1m-needs-no-travel-data", "withdraw", (PARTNER,), amount=Decimal(2_000_000),
         note="won to the customer's own bank account: a bank transfer, not a virtual-asset transfer"),
    Case("other-bank-deposit-address", "deposit_address", (OTHER,),
         reason=NOT_PARTNER if PARTNER_ONLY_TODAY else None, rule=RULE_NOW if PARTNER_ONLY_TODAY else None,
         note="kr.toml keeps the same-bank rule today (unverified, conservative)"),
    Case("confirmed-other-bank-beats-unconfirmed-partner", "deposit_address", (UNCONFIRMED, OTHER),
         reason=NOT_PARTNER if PARTNER_ONLY_TODAY else None, rule=RULE_NOW if PARTNER_ONLY_TODAY else None,
         note="the strongest account decides: confirmed first, then partner bank"),
    Case("2018-no-account-withdraw", "withdraw", as_of=RULES_2018, reason=MISSING, rule=RULE_2018),
    Case("2018-partner-bank-withdraw", "withdraw", (PARTNER,), as_of=RULES_2018),
    Case("2018-partner-bank-deposit-address", "deposit_address", (PARTNER,), as_of=RULES_2018),
    Case("2018-other-bank-withdraw", "withdraw", (OTHER,), as_of=RULES_2018,
         note="2018: an account at another bank may withdraw"),
    Case("2018-other-bank-deposit-address", "deposit_address", (OTHER,), as_of=RULES_2018,
         reason=NOT_PARTNER, rule=RULE_2018, note="2018: but not deposit"),
    Case("btc-withdraw-needs-no-bank-account", "withdraw", coin="BTC"),
    Case("btc-deposit-address-needs-no-bank-account", "deposit_address", coin="BTC"),
    Case("2018-btc-withdraw-needs-no-bank-account", "withdraw", coin="BTC", as_of=RULES_2018),
]  # fmt: skip

EXCHANGE_PATHS = {
    "withdraw": "/sapi/v1/capital/withdraw/apply",
    "deposit_address": "/sapi/v1/capital/deposit/address",
}


async def _attach(http: aiohttp.ClientSession, url: str, customer: Customer, account: Account) -> None:
    body = {
        "currency": account.currency,
        "bank_code": account.bank,
        "account_number": account.number,
        "holder_name": account.holder,
        "holder_confirmed": account.confirmed,
    }
    status, answer = await admin(
        http, url, "POST", f"/admin/v1/customers/{customer.id}/bank-accounts", json=body
    )
    if not account.refused_at_attach:
        assert status == 201, answer
        return
    assert status == 422, answer
    assert answer["error"]["code"] == "validation_failed"
    assert [d["field"] for d in answer["error"]["details"]] == ["holder_name"]
    assert SOMEONE_ELSE not in str(answer), "the refusal must not echo the holder's name"


def _destination(case: Case) -> str:
    if case.coin != "KRW":
        return BTC_ADDRESS
    # Won leave to the customer's own registered account (with none, to some account).
    if case.destination is not None:
        return case.destination
    return case.accounts[0].number if case.accounts else KRW_ACCOUNT


async def _check_destination_at_rest(
    database_url: str, decision_id: str, destination: str, settings: Any
) -> None:
    """A won withdrawal's account number is personal data: the append-only decision log
    keeps its keyed hash (the one bank_accounts keeps), a coin's address as it is."""
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval("SELECT address FROM decisions WHERE id = $1::uuid", decision_id)
    finally:
        await conn.close()
    if destination == BTC_ADDRESS:
        assert stored == BTC_ADDRESS
        return
    secret = settings.secret_key.get_secret_value()
    assert stored == "account-hash:" + account_number_hash(secret, destination)


async def _call(client: Any, case: Case) -> dict[str, Any]:
    if case.call == "deposit_address":
        address: dict[str, Any] = await client.fetch_deposit_address(case.coin)
        return address
    amount = case.amount or (KRW_AMOUNT if case.coin == "KRW" else BTC_AMOUNT)
    withdrawal: dict[str, Any] = await client.withdraw(case.coin, float(amount), _destination(case))
    return withdrawal


async def _exchange_json(http: aiohttp.ClientSession, exchange: Exchange, path: str) -> Any:
    async with http.get(exchange.url + path, headers={"X-Gateway-Token": SERVICE_TOKEN}) as response:
        return await response.json()


async def _exchange_saw(
    http: aiohttp.ClientSession, exchange: Exchange, customer: Customer, path: str
) -> int:
    log = await _exchange_json(http, exchange, "/ops/requests?since=0")
    return sum(1 for r in log["requests"] if r["customer_id"] == customer.id and r["path"] == path)


async def _check_money_moved(
    http: aiohttp.ClientSession, exchange: Exchange, customer: Customer, case: Case
) -> None:
    view = await _exchange_json(http, exchange, f"/ops/accounts/{customer.id}")
    free = Decimal(view["balances"][case.coin]["free"])
    if case.coin == "KRW":
        assert free == KRW_START - (case.amount or KRW_AMOUNT) - KRW_FEE
    else:
        assert free == BTC_START - BTC_AMOUNT - BTC_FEE
    assert view["withdrawals"] == 1


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_real_name_rule_through_ccxt(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession, case: Case
) -> None:
    settings = gateway_settings(
        database_url,
        exchange.url,
        home_country="KR",
        rules_as_of=case.as_of,
        partner_banks=frozenset({PARTNER_BANK}),
    )
    async with serving(create_app(settings)) as url:
        customer = await new_customer(http, url, case.id)
        for account in case.accounts:
            await _attach(http, url, customer, account)
        client = ccxt_client(url, customer)
        try:
            await client.load_markets()
            if case.reason is not None:
                with pytest.raises(ccxt.BadRequest) as raised:
                    await _call(client, case)
                # Exactly BadRequest (-1013), not a subclass such as BadSymbol.
                assert type(raised.value) is ccxt.BadRequest
                assert '"code":-1013' in str(raised.value) and f"{case.reason}:" in str(raised.value)
            else:
                result = await _call(client, case)
            decision_id = client.last_response_headers["X-Decision-Id"]
        finally:
            await client.close()
        status, decision = await admin(
            http, url, "GET", f"/admin/v1/decisions/{decision_id}", token=AUDITOR_TOKEN
        )
    assert status == 200, decision
    if case.call == "withdraw":
        await _check_destination_at_rest(database_url, decision_id, _destination(case), settings)
    denied = [f for f in decision["findings"] if f["outcome"] == "deny"]
    assert [f["rule_id"] for f in denied] == ([case.rule] if case.rule else [])
    assert [f["reason"] for f in denied] == ([case.reason] if case.reason else [])
    assert all(f.get("citation") for f in denied)
    seen = await _exchange_saw(http, exchange, customer, EXCHANGE_PATHS[case.call])
    if case.reason is not None:
        assert decision["outcome"] == "deny" and decision["upstream"] == []
        assert seen == 0, "a refused call must never reach the exchange"
        return
    assert decision["outcome"] == "allow" and seen == 1
    if case.call == "withdraw":
        await _check_money_moved(http, exchange, customer, case)
    elif case.coin == "KRW":
        assert re.fullmatch(r"[0-9]{3}-[0-9]{6}-[0-9]{5}", result["address"]), "a virtual account number"


async def test_the_pack_still_has_the_2018_same_bank_rule() -> None:
    """The 2018 cases above rest on this: deposits only from the partner bank."""
    assert _partner_bank_required_for_deposit(RULES_2018)
