"""AML in the request path, through the real gateway with ccxt: sanctioned addresses from
the real snapshot, the travel rule, cash reports, rolling-window holds, structuring, and
fail-closed valuation. Home jurisdiction: Korea (the default), customers resident there."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import ccxt.async_support as ccxt
import pytest

from exchange.state import STATE
from gateway.app import create_app
from tests.conftest import CHECKPOINT_KEY, TEST_LICENCES, Exchange, Gateway, gateway_settings, runtime_dsn
from tests.support import (
    AUDITOR_TOKEN,
    OFFICER_TOKEN,
    OPERATOR_TOKEN,
    SECRET_KEY,
    SERVICE_TOKEN,
    Customer,
    admin,
    ccxt_client,
    new_customer,
    serving,
    signed,
    travel_rule_params,
)

pytestmark = pytest.mark.asyncio
BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
# From the packaged OFAC snapshot (aml/data/sanctions/ofac_0xB10C).
LISTED_BTC = "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX"
LISTED_EVM = "0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1"


def _payload(edit: Callable[[dict[str, Any]], object]) -> dict[str, str]:
    params = travel_rule_params()
    payload = json.loads(params["questionnaire"])
    edit(payload)
    return {"questionnaire": json.dumps(payload)}


@dataclass(frozen=True)
class Case:
    id: str
    amount: str  # BTC (about USD 60,000 each on the mock exchange)
    params: dict[str, str] = field(default_factory=dict)
    address: str = BTC_ADDRESS
    coin: str = "BTC"
    outcome: str = "allow"
    reason: str | None = None
    rule: str | None = None
    report: str | None = None


TRAVEL = travel_rule_params()
CASES = [
    Case("small-needs-no-travel-data", "0.001"),  # ~KRW 84,000: under KRW 1m
    Case("travel-rule-missing", "0.02", outcome="deny", reason="travel_rule_missing",
         rule="kr.travel_rule.current"),
    Case("travel-rule-present", "0.02", TRAVEL),
    Case("travel-rule-invalid-names-the-field", "0.02",
         _payload(lambda p: p["originator"]["originatorPersons"][0].pop("naturalPerson")),
         outcome="deny", reason="travel_rule_invalid", rule="kr.travel_rule.current"),
    Case("travel-rule-not-json", "0.02", {"questionnaire": "{originator:"}, outcome="deny",
         reason="travel_rule_invalid", rule="kr.travel_rule.current"),
    Case("travel-rule-originator-not-the-customer", "0.02", travel_rule_params("Jane Howard"),
         outcome="deny", reason="travel_rule_originator_mismatch", rule="kr.travel_rule.current"),
    # KRW 10m in BTC is no cash: no CTR (kr.cash_report.current covers the bank rail), only
    # the KoFIU 24 h indicator's STR.
    Case("btc-worth-krw-10m-is-no-cash-report", "0.13", TRAVEL, outcome="allow_and_report",
         reason="rolling_window_total", rule="kr.str.day_total.current", report="STR"),
    Case("travel-rule-wallet-address-missing", "0.02",
         _payload(lambda p: p["originator"].pop("accountNumber")), outcome="deny",
         reason="travel_rule_data_missing", rule="kr.travel_rule.current"),
    Case("travel-rule-unknown-key-named", "0.02",
         _payload(lambda p: p.__setitem__("Originator", p.pop("originator"))), outcome="deny",
         reason="travel_rule_invalid", rule="kr.travel_rule.current"),
    Case("sanctioned-btc-address", "0.001", address=LISTED_BTC, outcome="deny",
         reason="sanctioned_address", rule="aml.sanctions.ofac_sdn", report="STR"),
    Case("sanctioned-evm-address-any-case", "0.01", address=LISTED_EVM.upper().replace("0X", "0x"),
         coin="ETH", outcome="deny", reason="sanctioned_address", rule="aml.sanctions.ofac_sdn",
         report="STR"),
]  # fmt: skip


async def _decision(http: aiohttp.ClientSession, url: str, decision_id: str) -> Any:
    status, body = await admin(http, url, "GET", f"/admin/v1/decisions/{decision_id}", token=AUDITOR_TOKEN)
    assert status == 200, body
    return body


async def _withdraw(client: Any, coin: str, amount: str, address: str, params: dict[str, str]) -> str:
    """The decision id of one withdrawal, whatever the outcome."""
    with contextlib.suppress(ccxt.ExchangeError):
        await client.withdraw(coin, float(amount), address, params=dict(params))
    return str(client.last_response_headers["X-Decision-Id"])


async def _reports(database_url: str, decision_id: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT kind FROM report_candidates WHERE $1 = ANY(decision_ids) ORDER BY kind",
            uuid.UUID(decision_id),
        )
    finally:
        await conn.close()
    return [r["kind"] for r in rows]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_aml_checks_through_ccxt(gateway: Gateway, http: aiohttp.ClientSession, case: Case) -> None:
    customer = await new_customer(http, gateway.url, "aml")
    async with ccxt_client(gateway.url, customer) as client:
        decision_id = await _withdraw(client, case.coin, case.amount, case.address, case.params)
    decision = await _decision(http, gateway.url, decision_id)
    assert decision["outcome"] == case.outcome, decision["findings"]
    if case.reason is not None:
        assert case.reason in decision["reasons"]
        finding = next(f for f in decision["findings"] if f["reason"] == case.reason)
        assert finding["rule_id"] == case.rule and finding.get("citation")
        if case.reason in ("travel_rule_invalid", "travel_rule_data_missing"):
            assert finding["values"]["field"]  # which field is wrong
        if case.id == "travel-rule-unknown-key-named":
            assert finding["values"]["field"] == "Originator" and "did you mean 'originator'" in finding["message"]
        if case.id == "travel-rule-wallet-address-missing":
            assert finding["values"]["field"] == "originator.accountNumber"
        if case.reason == "sanctioned_address":
            assert finding["values"]["snapshot_id"].startswith("sha256:")
    valuation = next(f for f in decision["findings"] if f["rule_id"] == "aml.valuation")
    if case.outcome != "deny" or case.reason != "sanctioned_address":
        conversion = valuation["values"]["conversions"][0]
        # The price and its time are recorded (an FX leg too, where one was needed).
        assert conversion["price"] and conversion["price_as_of"] and "fx" in conversion
    expected_reports = [case.report] if case.report else []
    assert await _reports(gateway.database_url, decision_id) == expected_reports


async def _krw_value(http: aiohttp.ClientSession, url: str, decision_id: str) -> Decimal:
    decision = await _decision(http, url, decision_id)
    valuation = next(f for f in decision["findings"] if f["rule_id"] == "aml.valuation")
    return Decimal(next(c["value"] for c in valuation["values"]["conversions"] if c["currency"] == "KRW"))


async def test_withdrawals_over_krw_50m_in_24h_are_held(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    customer = await new_customer(http, gateway.url, "window")
    outcomes = []
    async with ccxt_client(gateway.url, customer) as client:
        for _ in range(3):  # ~KRW 21m each: the third crosses KRW 50m
            decision_id = await _withdraw(client, "BTC", "0.25", BTC_ADDRESS, TRAVEL)
            outcomes.append((await _decision(http, gateway.url, decision_id))["outcome"])
        held = await client.withdraw("BTC", 0.25, BTC_ADDRESS, params=dict(TRAVEL))
    assert outcomes == ["allow_and_report", "allow_and_report", "hold"]
    assert held["id"] == client.last_response_headers["X-Decision-Id"]
    assert client.last_response_headers["X-Review-Status"] == "pending"
    decision = await _decision(http, gateway.url, held["id"])
    assert "kr.withdrawal.day_total.hold" in [f["rule_id"] for f in decision["findings"]]


async def test_structuring_just_under_krw_10m_is_held(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    customer = await new_customer(http, gateway.url, "splitter")
    async with ccxt_client(gateway.url, customer) as client:
        first = await _withdraw(client, "BTC", "0.112", BTC_ADDRESS, TRAVEL)
        value = await _krw_value(http, gateway.url, first)
        assert Decimal(9_000_000) <= value < Decimal(10_000_000), value  # inside the 10% band
        second = await _withdraw(client, "BTC", "0.112", BTC_ADDRESS, TRAVEL)
        third = await _withdraw(client, "BTC", "0.112", BTC_ADDRESS, TRAVEL)
    assert (await _decision(http, gateway.url, second))["outcome"] != "hold"
    decision = await _decision(http, gateway.url, third)
    assert decision["outcome"] == "hold"
    assert "structuring_suspected" in decision["reasons"]
    assert "STR" in await _reports(gateway.database_url, third)


async def test_no_price_route_fails_closed(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    # ETH trades against USDT, and no rate leads from USD to KRW: the withdrawal cannot be
    # valued for the Korean thresholds, so it is not sent.
    settings = gateway_settings(database_url, exchange.url, fx_rates={"USDT/USD": Decimal(1)})
    async with serving(create_app(settings)) as url:
        customer = await new_customer(http, url, "no-fx")
        before = await _exchange_withdrawals(exchange, customer)
        async with ccxt_client(url, customer) as client:
            with pytest.raises(ccxt.OperationFailed) as refused:  # 503: try again later
                await client.withdraw("ETH", 0.02, "0x" + "12" * 20, params=dict(TRAVEL))
            decision_id = client.last_response_headers["X-Decision-Id"]
        assert "price_unavailable" in str(refused.value)
        decision = await _decision(http, url, decision_id)
        assert decision["outcome"] == "deny" and decision["reasons"] == ["price_unavailable"]
        async with http.get(f"{url}/metrics") as response:
            metrics = await response.text()
        assert 'gateway_fail_closed_total{reason="price_unavailable"} 1.0' in metrics
    assert await _exchange_withdrawals(exchange, customer) == before


async def test_deeply_nested_travel_rule_data_is_refused_and_recorded(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    # 10,000 characters, under the body limit: nested 5,000 deep, it used to reach
    # json.loads, whose RecursionError answered 500 with nothing on record.
    customer = await new_customer(http, gateway.url, "nested")
    before = await _exchange_withdrawals(exchange, customer)
    params = {
        "coin": "BTC",
        "address": BTC_ADDRESS,
        "amount": "0.02",
        "questionnaire": "[" * 5000 + "]" * 5000,
    }
    status, body, headers = await signed(
        http, gateway.url, "POST", "/sapi/v1/capital/withdraw/apply", customer, params
    )
    assert (status, body["code"]) == (400, -1013), body
    assert body["msg"].startswith("travel_rule_invalid:")
    decision = await _decision(http, gateway.url, headers["X-Decision-Id"])
    assert decision["outcome"] == "deny" and "travel_rule_invalid" in decision["reasons"]
    finding = next(f for f in decision["findings"] if f["reason"] == "travel_rule_invalid")
    assert finding["rule_id"] == "kr.travel_rule.current"
    assert finding["values"]["field"] == "(payload)" and "nested deeper" in finding["message"]
    async with http.get(f"{gateway.url}/metrics") as response:
        metrics = await response.text()
    assert 'gateway_refusals_total{reason="travel_rule_invalid"} 1.0' in metrics
    assert await _exchange_withdrawals(exchange, customer) == before


async def _exchange_withdrawals(exchange: Exchange, customer: Customer) -> int:
    account = exchange.app[STATE].accounts.get(customer.id)
    return 0 if account is None else len(account.withdrawals)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def gateway_process(database_url: str, exchange: Exchange) -> AsyncIterator[str]:
    """A second gateway as its own OS process (`python -m gateway serve`), same database."""
    port = _free_port()
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": runtime_dsn(database_url),
        "GATEWAY_MIGRATION_DATABASE_URL": database_url,
        "GATEWAY_UPSTREAM_URL": exchange.url,
        "GATEWAY_UPSTREAM_TOKEN": SERVICE_TOKEN,
        "GATEWAY_SECRET_KEY": SECRET_KEY,
        "GATEWAY_AUDIT_CHECKPOINT_KEY": CHECKPOINT_KEY,
        "GATEWAY_LICENCES_HELD": ",".join(sorted(TEST_LICENCES)),
        "GATEWAY_ADMIN_TOKENS": f"operator:{OPERATOR_TOKEN},auditor:{AUDITOR_TOKEN}",
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):  # bounded: ~20 s at most
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{url}/readyz") as response:
                        if response.status == 200:
                            break
                if process.returncode is not None:
                    raise RuntimeError("the second gateway exited at start")
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the second gateway did not become ready")
        yield url
    finally:
        process.terminate()
        await process.wait()


async def test_a_limit_holds_across_two_gateway_processes_racing(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    """20 concurrent withdrawals, split over two gateway processes on one database:
    exactly those that fit under KRW 50m in 24 h reach the exchange; the rest are held."""
    customer = await new_customer(http, gateway.url, "racer")
    async with gateway_process(gateway.database_url, exchange) as other, contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(ccxt_client(gateway.url if n % 2 else other, customer))
            for n in range(20)
        ]
        ids = await asyncio.gather(*(_withdraw(c, "BTC", "0.05", BTC_ADDRESS, TRAVEL) for c in clients))
    value = await _krw_value(http, gateway.url, ids[0])
    fits = int(Decimal(50_000_000) // value)  # "more than KRW 50m" holds
    outcomes = [(await _decision(http, gateway.url, i))["outcome"] for i in ids]
    forwarded = sum(o in ("allow", "allow_and_report") for o in outcomes)
    assert 0 < fits < 20
    assert forwarded == fits and outcomes.count("hold") == 20 - fits, outcomes
    assert await _exchange_withdrawals(exchange, customer) == fits


async def _held_withdrawal(gateway: Gateway, http: aiohttp.ClientSession, client: Any) -> str:
    for _ in range(2):  # ~KRW 21m each
        await _withdraw(client, "BTC", "0.25", BTC_ADDRESS, TRAVEL)
    held = await client.withdraw("BTC", 0.25, BTC_ADDRESS, params=dict(TRAVEL))
    assert client.last_response_headers["X-Review-Status"] == "pending"
    return str(held["id"])


async def test_a_held_withdrawal_is_visible_then_approved_and_forwarded_once(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    customer = await new_customer(http, gateway.url, "held")
    async with ccxt_client(gateway.url, customer) as client:
        held_id = await _held_withdrawal(gateway, http, client)
        sent = await _exchange_withdrawals(exchange, customer)
        listed = {w["id"]: w for w in await client.fetch_withdrawals("BTC")}
        assert listed[held_id]["status"] == "pending"  # Binance 2: awaiting approval
        note = {"note": "source of funds documented"}
        answers = await asyncio.gather(
            *(admin(http, gateway.url, "POST", f"/admin/v1/holds/{held_id}/approve", token=OFFICER_TOKEN, json=note)
              for _ in range(3))
        )  # fmt: skip
        assert sorted(status for status, _ in answers) == [200, 409, 409], answers
        assert await _exchange_withdrawals(exchange, customer) == sent + 1
        listed = {w["id"]: w for w in await client.fetch_withdrawals("BTC")}
    assert listed[held_id]["amount"] == 0.25


async def test_a_rejected_hold_never_leaves_and_frees_the_window(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    customer = await new_customer(http, gateway.url, "rejected")
    async with ccxt_client(gateway.url, customer) as client:
        held_id = await _held_withdrawal(gateway, http, client)
        sent = await _exchange_withdrawals(exchange, customer)
        status, _ = await admin(http, gateway.url, "POST", f"/admin/v1/holds/{held_id}/reject",
                                token=OFFICER_TOKEN, json={"note": "no source of funds"})  # fmt: skip
        assert status == 200
        listed = {w["id"]: w for w in await client.fetch_withdrawals("BTC")}
        assert listed[held_id]["status"] == "failed"  # Binance 3: rejected
        # The rejected KRW 21m no longer counts: the same amount again fits under KRW 50m.
        again = await _withdraw(client, "BTC", "0.05", BTC_ADDRESS, TRAVEL)
    assert (await _decision(http, gateway.url, again))["outcome"] != "hold"
    assert await _exchange_withdrawals(exchange, customer) == sent + 1


# From the customer's own wallet: Korea's travel rule covers VASP-to-VASP transfers only
# (tests/gateway/test_deposits_inbound.py judges deposits from other VASPs).
DEPOSIT = {"coin": "BTC", "amount": "0.13", "network": "BTC", "from_address": BTC_ADDRESS, "wallet_type": "self_hosted"}


async def _deposit(http: aiohttp.ClientSession, url: str, customer: Customer, **body: Any) -> tuple[int, Any]:
    payload = {**DEPOSIT, "customer_id": customer.id, "tx_id": f"tx-{uuid.uuid4().hex}", **body}
    return await admin(http, url, "POST", "/admin/v1/deposits", json=payload)


async def test_deposits_are_judged_counted_once_and_screened(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    customer = await new_customer(http, gateway.url, "depositor")
    status, first = await _deposit(http, gateway.url, customer, tx_id="tx-1")
    # ~KRW 10.9m in BTC: the KoFIU indicator reports it; no CTR, since BTC is not cash.
    assert status == 201 and first["outcome"] == "allow_and_report", first
    rule_ids = [f["rule_id"] for f in first["findings"]]
    assert "kr.str.day_total.current" in rule_ids and "kr.cash_report.current" not in rule_ids
    assert await _reports(gateway.database_url, first["decision_id"]) == ["STR"]
    status, again = await _deposit(http, gateway.url, customer, tx_id="tx-1")
    assert (status, again["decision_id"], again["already_reported"]) == (200, first["decision_id"], True)
    status, listed = await _deposit(http, gateway.url, customer, from_address=LISTED_BTC, amount="0.001")
    assert status == 201 and listed["outcome"] == "deny" and listed["reasons"] == ["sanctioned_address"]
    assert await _reports(gateway.database_url, listed["decision_id"]) == ["STR"]
    conn = await asyncpg.connect(gateway.database_url)
    try:
        counted = await conn.fetchval(
            "SELECT count(*) FROM movements WHERE customer_id = $1 AND direction = 'deposit'",
            uuid.UUID(customer.id),
        )
    finally:
        await conn.close()
    assert counted == 1  # the repeat is not counted twice; the refused one not at all


BAD_DEPOSITS = [
    ("negative-amount", {"amount": "-1"}),
    ("float-ish-garbage", {"amount": "1e999999"}),
    ("unknown-field", {"memo": "x"}),
    ("bad-coin", {"coin": "btc!"}),
    ("missing-tx", {"tx_id": None}),
]


@pytest.mark.parametrize("change", [b[1] for b in BAD_DEPOSITS], ids=[b[0] for b in BAD_DEPOSITS])
async def test_bad_deposit_reports_change_nothing(
    gateway: Gateway, http: aiohttp.ClientSession, change: dict[str, Any]
) -> None:
    customer = await new_customer(http, gateway.url, "bad-deposit")
    body = {k: v for k, v in {**DEPOSIT, "tx_id": "tx-bad", **change}.items() if v is not None}
    status, answer = await admin(http, gateway.url, "POST", "/admin/v1/deposits",
                                 json={"customer_id": customer.id, **body})  # fmt: skip
    assert status == 422 and answer["error"]["code"] == "validation_failed", answer
    conn = await asyncpg.connect(gateway.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM movements") == 0
    finally:
        await conn.close()


async def _upstream_recorded(gateway: Gateway, decision_id: str) -> None:
    """What the exchange answered rides with a later batch: wait (bounded) until it is in."""
    for _ in range(100):
        found = await gateway.pool.fetchval(
            "SELECT count(*) FROM upstream_results WHERE decision_id = $1::uuid", decision_id
        )
        if found:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the exchange's answer was never recorded")


APPLY = "/sapi/v1/capital/withdraw/apply"


async def test_a_retried_withdrawal_counts_once_in_the_windows(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    """The same withdrawOrderId twice is one withdrawal at the exchange, and in the 24 h
    window: 2 x 0.25 BTC counted twice plus 0.12 would cross KRW 50m and be held."""
    customer = await new_customer(http, gateway.url, "retrier")
    retried = {"coin": "BTC", "address": BTC_ADDRESS, "amount": "0.25", "withdrawOrderId": "retry-1"}
    answers = [await signed(http, gateway.url, "POST", APPLY, customer, {**retried, **travel_rule_params()})]
    answers.append(
        await signed(http, gateway.url, "POST", APPLY, customer, {**retried, **travel_rule_params()})
    )
    assert [a[0] for a in answers] == [200, 200] and answers[0][1]["id"] == answers[1][1]["id"]
    fresh = {"coin": "BTC", "address": BTC_ADDRESS, "amount": "0.12", **travel_rule_params()}
    status, body, headers = await signed(http, gateway.url, "POST", APPLY, customer, fresh)
    assert status == 200 and "X-Review-Status" not in headers, body


async def test_a_withdrawal_the_exchange_refused_does_not_count(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    """0.5 BTC in an amount the exchange does not take (not a multiple of its 1e-8 step;
    an address it would refuse the gateway now refuses first, tests/gateway/test_networks.py):
    refused there (4xx), nothing left. Counted, it would put the next 0.15 BTC over KRW
    50m in 24 h."""
    customer = await new_customer(http, gateway.url, "refused-there")
    off_step = {"coin": "BTC", "address": BTC_ADDRESS, "amount": "0.500000001"}
    status, body, headers = await signed(
        http, gateway.url, "POST", APPLY, customer, {**off_step, **travel_rule_params()}
    )
    assert 400 <= status < 500 and "X-Decision-Id" in headers, body
    await _upstream_recorded(gateway, headers["X-Decision-Id"])
    small = {"coin": "BTC", "address": BTC_ADDRESS, "amount": "0.15", **travel_rule_params()}
    status, body, headers = await signed(http, gateway.url, "POST", APPLY, customer, small)
    assert status == 200 and "X-Review-Status" not in headers, body
