"""Inbound transfers through the real gateway: a receiving exchange's travel-rule and
self-hosted duties per home country (the customer is the beneficiary), and a deposit
reported again being the same decision whatever its outcome, on one app or two."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import pytest
from pydantic import SecretStr

from aml.ivms101 import MAX_NESTING, MAX_PAYLOAD_CHARS
from aml.ownership import ownership_message
from gateway.app import create_app
from gateway.settings import DEFAULT_FX_RATES
from tests.aml.test_ownership import EVM_ADDRESS, KEY_ONE, P2WPKH, bitcoin_proof
from tests.conftest import Exchange, gateway_settings, runtime_dsn
from tests.support import IVMS101_SAMPLE, OFFICER_TOKEN, Customer, admin, new_customer, serving

pytestmark = pytest.mark.asyncio
BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
LISTED_BTC = "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX"  # in the packaged OFAC snapshot
LICENCES = frozenset({"KR-KOFIU-VASP", "HK-SFC-VATP", "JP-FSA-CAESP", "US-FINCEN-MSB"})
# USD/KRW 1000: USDT 1,000 is exactly KRW 1,000,000 (Korea's threshold); USD/HKD 8: BTC
# at USDT 60,000 is HKD 480,000.
FX = {**DEFAULT_FX_RATES, "USD/KRW": Decimal("1000"), "USD/HKD": Decimal("8")}
REGION = {"US": {"residence_region": "TX"}}


def ivms101(beneficiary: str = "Kim Minjun") -> dict[str, Any]:
    """The TRISA sample, with the customer (KYC name Kim Minjun) as the beneficiary."""
    payload: dict[str, Any] = json.loads(IVMS101_SAMPLE.read_text())
    family, _, given = beneficiary.partition(" ")
    person = payload["beneficiary"]["beneficiaryPersons"][0]["naturalPerson"]
    person["name"]["nameIdentifier"] = [
        {"primaryIdentifier": family, "secondaryIdentifier": given, "nameIdentifierType": "LEGL"}
    ]
    return payload


@asynccontextmanager
async def home(database_url: str, exchange: Exchange, country: str) -> AsyncIterator[str]:
    settings = gateway_settings(
        runtime_dsn(database_url), exchange.url, migration_database_url=SecretStr(database_url),
        home_country=country, licences_held=LICENCES, fx_rates=FX,
    )  # fmt: skip
    async with serving(create_app(settings)) as url:
        yield url


async def resident(http: aiohttp.ClientSession, url: str, country: str) -> Customer:
    where = {"residence_country": country, "nationality": country, **REGION.get(country, {})}
    return await new_customer(http, url, f"depositor-{uuid.uuid4().hex[:8]}", **where)


def deposit_body(customer: Customer, coin: str, amount: str, **extra: Any) -> dict[str, Any]:
    network, address = ("ETH", EVM_ADDRESS) if coin == "USDT" else ("BTC", BTC_ADDRESS)
    return {"customer_id": customer.id, "coin": coin, "amount": amount, "network": network,
            "from_address": address, "tx_id": f"tx-{uuid.uuid4().hex}", **extra}  # fmt: skip


async def report(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, Any]:
    return await admin(http, url, "POST", "/admin/v1/deposits", json=body)


def travel_finding(answer: dict[str, Any]) -> dict[str, Any] | None:
    found = [f for f in answer["findings"] if ".travel_rule" in f["rule_id"]]
    return found[0] if found else None


@dataclass(frozen=True)
class Threshold:
    id: str
    country: str
    coin: str
    amount: str
    data: bool
    outcome: str  # of the travel-rule finding; "" when none binds
    rule: str = ""
    reason: str = ""


THRESHOLDS = [
    Threshold("kr-just-below-krw-1m", "KR", "USDT", "999.99", False, ""),
    Threshold("kr-at-krw-1m-without-data-refused", "KR", "USDT", "1000", False, "deny",
              "kr.travel_rule.current", "travel_rule_missing"),
    Threshold("kr-at-krw-1m-with-data", "KR", "USDT", "1000", True, ""),
    Threshold("us-just-below-usd-3000", "US", "USDT", "2999.99", False, ""),
    Threshold("us-at-usd-3000-without-data-held", "US", "USDT", "3000", False, "hold",
              "us.travel_rule", "travel_rule_missing"),
    Threshold("us-at-usd-3000-with-data", "US", "USDT", "3000", True, ""),
    Threshold("hk-below-hkd-8000", "HK", "BTC", "0.01", False, ""),  # HKD 4,800
    Threshold("hk-above-hkd-8000-without-data-held", "HK", "BTC", "0.02", False, "hold",
              "hk.travel_rule.current", "travel_rule_missing"),
    Threshold("hk-above-hkd-8000-with-data", "HK", "BTC", "0.02", True, ""),
    Threshold("jp-any-amount-without-data-held", "JP", "BTC", "0.0001", False, "hold",
              "jp.travel_rule.current", "travel_rule_missing"),
    Threshold("jp-with-data", "JP", "BTC", "0.0001", True, ""),
    Threshold("ch-any-amount-without-data-held", "CH", "BTC", "0.0001", False, "hold",
              "ch.travel_rule.current", "travel_rule_missing"),
    Threshold("ch-with-data", "CH", "BTC", "0.0001", True, ""),
    Threshold("ee-any-amount-without-data-held", "EE", "BTC", "0.0001", False, "hold",
              "ee.travel_rule.current", "travel_rule_missing"),
    Threshold("ee-with-data", "EE", "BTC", "0.0001", True, ""),
]  # fmt: skip


@pytest.mark.parametrize("case", THRESHOLDS, ids=[c.id for c in THRESHOLDS])
async def test_deposits_at_each_countrys_travel_rule_threshold(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession, case: Threshold
) -> None:
    async with home(database_url, exchange, case.country) as url:
        customer = await resident(http, url, case.country)
        extra = {"travel_rule": ivms101()} if case.data else {}
        status, answer = await report(http, url, deposit_body(customer, case.coin, case.amount, **extra))
        assert status == 201, answer
        finding = travel_finding(answer)
        if not case.outcome:
            assert finding is None and answer["outcome"] in ("allow", "allow_and_report"), answer
            return
        assert finding is not None, answer
        assert (finding["outcome"], finding["rule_id"], finding["reason"]) == (
            case.outcome,
            case.rule,
            case.reason,
        )
        assert answer["outcome"] == case.outcome


@dataclass(frozen=True)
class Party:
    id: str
    country: str
    amount: str
    extra: dict[str, Any]
    outcome: str
    reason: str = ""
    field: str = ""


def _payload_without_originator_persons() -> dict[str, Any]:
    payload = ivms101()
    payload["originator"].pop("originatorPersons")
    return payload


PARTIES = [
    # Korea's rule covers VASP-to-VASP only: a declared self-hosted wallet needs no data.
    Party("kr-self-hosted-needs-no-data", "KR", "0.02", {"wallet_type": "self_hosted"}, "allow"),
    Party("kr-declared-vasp-needs-data", "KR", "0.02", {"wallet_type": "vasp"}, "deny", "travel_rule_missing"),
    Party("kr-unknown-wallet-taken-as-vasp", "KR", "0.02", {}, "deny", "travel_rule_missing"),
    # The customer is the beneficiary: data naming someone else is not this customer's.
    Party("kr-beneficiary-is-someone-else", "KR", "0.02", {"travel_rule": ivms101("Park Jisoo")}, "deny",
          "travel_rule_beneficiary_mismatch", "beneficiary.beneficiaryPersons"),
    # The same strict IVMS101 validation as a withdrawal's: the bad field is named.
    Party("jp-invalid-payload-named", "JP", "0.0001", {"travel_rule": _payload_without_originator_persons()},
          "hold", "travel_rule_invalid", "originator.originatorPersons"),
    # EU: EUR 1,000 and below, a self-hosted wallet needs no proof (the data still travel).
    Party("ee-self-hosted-under-eur-1000", "EE", "0.01", {"wallet_type": "self_hosted", "travel_rule": ivms101()},
          "allow"),
    Party("ee-self-hosted-over-eur-1000-needs-proof", "EE", "0.02",
          {"wallet_type": "self_hosted", "travel_rule": ivms101()}, "deny", "self_hosted_proof_missing"),
    Party("ee-self-hosted-proof-for-another-customer", "EE", "0.02",
          {"wallet_type": "self_hosted", "travel_rule": ivms101(), "from_address": P2WPKH,
           "ownership_proof": bitcoin_proof(KEY_ONE, ownership_message("someone-else", P2WPKH), 39)},
          "deny", "self_hosted_proof_invalid"),
    Party("ee-vasp-over-eur-1000-needs-no-proof", "EE", "0.02", {"wallet_type": "vasp", "travel_rule": ivms101()},
          "allow"),
]  # fmt: skip


@pytest.mark.parametrize("case", PARTIES, ids=[c.id for c in PARTIES])
async def test_counterparty_scope_and_strict_data(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession, case: Party
) -> None:
    async with home(database_url, exchange, case.country) as url:
        customer = await resident(http, url, case.country)
        status, answer = await report(http, url, deposit_body(customer, "BTC", case.amount, **case.extra))
        assert status == 201, answer
        assert answer["outcome"] in (
            (case.outcome,) if case.outcome != "allow" else ("allow", "allow_and_report")
        )
        if case.reason:
            assert case.reason in answer["reasons"], answer
            finding = next(f for f in answer["findings"] if f["reason"] == case.reason)
            if case.field:
                assert finding["values"]["field"].startswith(case.field), finding


async def test_a_self_hosted_deposit_with_the_customers_proof_is_allowed(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    async with home(database_url, exchange, "EE") as url:
        customer = await resident(http, url, "EE")
        proof = bitcoin_proof(KEY_ONE, ownership_message(customer.id, P2WPKH), 39)
        body = deposit_body(customer, "BTC", "0.02", wallet_type="self_hosted", travel_rule=ivms101(),
                            from_address=P2WPKH, ownership_proof=proof)  # fmt: skip
        status, answer = await report(http, url, body)
        assert status == 201 and answer["outcome"] == "allow", answer


# -- idempotency ------------------------------------------------------------------------


async def _count(database_url: str, sql: str, *args: Any) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def _decisions(database_url: str, customer: Customer) -> int:
    return await _count(
        database_url,
        "SELECT count(*) FROM decisions WHERE customer_id = $1 AND operation = 'admin.deposit.report'",
        uuid.UUID(customer.id),
    )


OUTCOMES = [
    # (id, home, coin, amount, extra, outcome)
    ("allow", "KR", "USDT", "10", {}, "allow"),
    ("deny", "KR", "USDT", "1000", {}, "deny"),  # no originator data: Korea refuses
    ("hold", "US", "USDT", "3000", {}, "hold"),  # no originator data: held for review
    ("sanctioned", "KR", "BTC", "0.001", {"from_address": LISTED_BTC}, "deny"),
]


@pytest.mark.parametrize(("home_country", "coin", "amount", "extra", "outcome"), [o[1:] for o in OUTCOMES],
                         ids=[o[0] for o in OUTCOMES])  # fmt: skip
async def test_a_deposit_reported_again_is_the_same_decision_whatever_its_outcome(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession,
    home_country: str, coin: str, amount: str, extra: dict[str, Any], outcome: str,
) -> None:  # fmt: skip
    async with home(database_url, exchange, home_country) as url:
        customer = await resident(http, url, home_country)
        body = deposit_body(customer, coin, amount, **extra)
        status, first = await report(http, url, body)
        assert status == 201 and first["outcome"] == outcome, first
        reports = await _count(database_url, "SELECT count(*) FROM report_candidates")
        holds = await _count(database_url, "SELECT count(*) FROM held_calls")
        for _ in range(3):
            status, again = await report(http, url, body)
            assert status == 200, again
            assert again == {"decision_id": first["decision_id"], "already_reported": True,
                             "outcome": outcome, "reasons": first["reasons"]}  # fmt: skip
        assert await _decisions(database_url, customer) == 1
        assert await _count(database_url, "SELECT count(*) FROM report_candidates") == reports
        assert await _count(database_url, "SELECT count(*) FROM held_calls") == holds


async def test_the_deposit_key_is_network_tx_and_output(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    async with home(database_url, exchange, "KR") as url:
        customer = await resident(http, url, "KR")
        body = {**deposit_body(customer, "BTC", "0.001"), "network": None}
        status, first = await report(http, url, body)
        assert status == 201, first
        # No network named: the coin's own (BTC), so naming it is the same deposit.
        status, again = await report(http, url, {**body, "network": "BTC"})
        assert (status, again["decision_id"]) == (200, first["decision_id"])
        status, second_output = await report(http, url, {**body, "output_index": 1})
        assert status == 201 and second_output["decision_id"] != first["decision_id"]
        status, other_chain = await report(http, url, {**body, "network": "BSC"})
        assert status == 201, other_chain
        assert await _decisions(database_url, customer) == 3
        # Each output counts once in the windows.
        assert await _count(database_url, "SELECT count(*) FROM movements WHERE direction = 'deposit'") == 3


CONFLICTS = [
    ("amount", {"amount": "0.002"}),
    ("coin", {"coin": "ETH"}),
    ("from_address", {"from_address": P2WPKH}),
    ("from_address", {"from_address": None}),
]


@pytest.mark.parametrize(("field", "change"), CONFLICTS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CONFLICTS)])
async def test_the_same_deposit_with_other_content_is_a_conflict(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession, field: str, change: dict[str, Any]
) -> None:
    async with home(database_url, exchange, "KR") as url:
        customer = await resident(http, url, "KR")
        body = deposit_body(customer, "BTC", "0.001")
        status, first = await report(http, url, body)
        assert status == 201, first
        changed = {k: v for k, v in {**body, **change}.items() if v is not None}
        status, answer = await report(http, url, changed)
        assert status == 409 and answer["error"]["code"] == "conflict", answer
        assert [d["field"] for d in answer["error"]["details"]] == [field]
        other = await resident(http, url, "KR")
        status, answer = await report(http, url, {**body, "customer_id": other.id})
        assert status == 409 and [d["field"] for d in answer["error"]["details"]] == ["customer_id"]
        assert await _count(database_url, "SELECT count(*) FROM deposit_reports") == 1
        assert await _decisions(database_url, customer) == 1 and await _decisions(database_url, other) == 0


async def test_concurrent_reports_on_two_apps_are_one_decision_and_one_str(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    """A refused deposit (a sanctioned sender: refused and reported) reported by two
    replicas polling at once, and again by a second customer's report racing it."""
    async with home(database_url, exchange, "KR") as one, home(database_url, exchange, "KR") as two:
        customer = await resident(http, one, "KR")
        other = await resident(http, two, "KR")
        body = deposit_body(customer, "BTC", "0.001", from_address=LISTED_BTC)
        bodies = [body] * 8 + [{**body, "customer_id": other.id}] * 2
        answers = await asyncio.gather(*(report(http, (one, two)[n % 2], b) for n, b in enumerate(bodies)))
        statuses = sorted(status for status, _ in answers)
        assert statuses.count(201) == 1, answers
        created = next(a for s, a in answers if s == 201)
        for status, answer in answers:
            if status == 200:
                assert answer["decision_id"] == created["decision_id"] and answer["outcome"] == "deny"
            elif status == 409:
                assert [d["field"] for d in answer["error"]["details"]] == ["customer_id"]
            else:
                assert status == 201, answer
        # The first report may have been the other customer's: its content is then the
        # deposit's, and this customer's reports are the conflicting ones.
        assert statuses.count(200) + statuses.count(409) == 9
        assert await _count(database_url, "SELECT count(*) FROM deposit_reports") == 1
        assert (
            await _count(
                database_url, "SELECT count(*) FROM decisions WHERE operation = 'admin.deposit.report'"
            )
            == 1
        )
        assert await _count(database_url, "SELECT count(*) FROM report_candidates WHERE kind = 'STR'") == 1


# -- a held deposit under review --------------------------------------------------------


async def test_a_held_deposit_is_credited_on_approval_without_calling_the_exchange(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    async with home(database_url, exchange, "US") as url:
        customer = await resident(http, url, "US")
        held = []
        for _ in range(2):
            status, answer = await report(http, url, deposit_body(customer, "USDT", "3000"))
            assert status == 201 and answer["outcome"] == "hold", answer
            held.append(answer["decision_id"])
        status, hold = await admin(http, url, "GET", f"/admin/v1/holds/{held[0]}", token=OFFICER_TOKEN)
        assert status == 200 and hold["state"] == "pending" and hold["action_kind"] == "deposit_credit", hold
        note = {"note": "originator data obtained from the sending VASP"}
        status, approved = await admin(http, url, "POST", f"/admin/v1/holds/{held[0]}/approve",
                                       token=OFFICER_TOKEN, json=note)  # fmt: skip
        assert status == 200 and approved["state"] == "credited", approved
        status, again = await admin(http, url, "POST", f"/admin/v1/holds/{held[0]}/approve",
                                    token=OFFICER_TOKEN, json=note)  # fmt: skip
        assert status == 409, again
        status, rejected = await admin(http, url, "POST", f"/admin/v1/holds/{held[1]}/reject",
                                       token=OFFICER_TOKEN, json={"note": "no originator data"})  # fmt: skip
        assert status == 200 and rejected["state"] == "rejected", rejected
        # Nothing was sent to the exchange for either.
        assert await _count(
            database_url, "SELECT count(*) FROM upstream_results WHERE decision_id = ANY($1::uuid[])",
            [uuid.UUID(h) for h in held],
        ) == 0  # fmt: skip
        assert await _count(database_url, "SELECT sum(forward_attempts) FROM held_calls") == 0
        # A credited deposit still counts in the windows; a rejected one no longer does.
        status, _ = await report(http, url, deposit_body(customer, "USDT", "3000"))
        assert status == 201


# -- bad input --------------------------------------------------------------------------


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(depth):
        node = {"a": node}
    return node


BAD = [
    ("unknown-wallet-type", {"wallet_type": "custodial"}, "wallet_type"),
    ("negative-output-index", {"output_index": -1}, "output_index"),
    ("output-index-as-text", {"output_index": "1"}, "output_index"),
    ("travel-rule-not-an-object", {"travel_rule": '{"originator": {}}'}, "travel_rule"),
    ("travel-rule-too-deep", {"travel_rule": _nested(MAX_NESTING + 1)}, "travel_rule"),
    # Larger than the admin API takes at all (413), let alone the payload bound.
    ("travel-rule-too-long", {"travel_rule": {"x": "a" * MAX_PAYLOAD_CHARS}}, "(413)"),
    ("proof-without-self-hosted", {"ownership_proof": "AAAA"}, ""),
    (
        "proof-not-base64-or-hex",
        {"wallet_type": "self_hosted", "ownership_proof": "<script>"},
        "ownership_proof",
    ),
    ("unknown-field", {"originator_name": "Howard"}, "originator_name"),
]


@pytest.mark.parametrize(("change", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
async def test_bad_reports_are_a_clear_error_and_store_nothing(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession, change: dict[str, Any], field: str
) -> None:
    async with home(database_url, exchange, "KR") as url:
        customer = await resident(http, url, "KR")
        status, answer = await report(http, url, deposit_body(customer, "BTC", "0.001", **change))
        if field == "(413)":
            assert status == 413 and answer["error"]["code"] == "body_too_large", answer
        else:
            assert status == 422 and answer["error"]["code"] == "validation_failed", answer
        if field.isidentifier():
            assert field in [d["field"] for d in answer["error"]["details"]], answer
        for table in ("deposit_reports", "movements", "held_calls", "report_candidates"):
            assert await _count(database_url, f"SELECT count(*) FROM {table}") == 0, table
        assert await _decisions(database_url, customer) == 0
