"""The KYC record over the admin API: validated with field-level errors, nothing stored on
a refusal, duplicates caught by a keyed hash, personal data sealed and masked."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.conftest import Exchange, Gateway
from tests.review.support import another_gateway
from tests.support import AUDITOR_TOKEN, OFFICER_TOKEN, admin, identity_body, new_customer, signed

pytestmark = pytest.mark.asyncio
# A synthetic Korean resident registration number with a valid checksum (born 1990-05-17).
VALID_RRN = "900517-1234566"


def _rrn_identity(**overrides: Any) -> dict[str, Any]:
    body = identity_body()
    body["national_id"] = {"country": "KR", "type": "rrn", "number": VALID_RRN}
    body.update(overrides)
    return body


async def _fresh_customer(http: aiohttp.ClientSession, gateway: Gateway, reference: str) -> str:
    status, customer = await admin(http, gateway.url, "POST", "/admin/v1/customers", json={"reference": reference})
    assert status == 201
    return str(customer["id"])


BAD_IDENTITIES = [
    ("bad-rrn-checksum", {"national_id": {"country": "KR", "type": "rrn", "number": "900517-1234567"}}, "national_id.number"),
    ("impossible-birth-date", {"date_of_birth": "1990-02-30"}, "date_of_birth"),
    ("birth-date-in-future", {"date_of_birth": "2999-01-01"}, "date_of_birth"),
    ("unknown-country", {"nationality": "XX"}, "nationality"),
    ("missing-legal-name", {"legal_name": None}, "legal_name"),
    ("missing-document", {"identity_document": None}, "identity_document"),
    ("us-without-state", {"residence_country": "US"}, "residence_region"),
    ("rrn-not-matching-birth-date", {"date_of_birth": "1991-05-17", "national_id": {"country": "KR", "type": "rrn", "number": VALID_RRN}}, "national_id"),
]


@pytest.mark.parametrize(("overrides", "field"), [c[1:] for c in BAD_IDENTITIES], ids=[c[0] for c in BAD_IDENTITIES])
async def test_bad_identity_is_refused_by_field_and_nothing_stored(
    gateway: Gateway, http: aiohttp.ClientSession, overrides: dict[str, Any], field: str
) -> None:
    customer_id = await _fresh_customer(http, gateway, "badid")
    body = identity_body()
    body.update(overrides)
    if body.get("legal_name") is None:
        del body["legal_name"]
    status, answer = await admin(http, gateway.url, "PUT", f"/admin/v1/customers/{customer_id}/identity", json=body)
    assert status == 422, answer
    assert field in [d["field"] for d in answer["error"]["details"]]
    assert "1234567" not in str(answer) and "1990-02-30" not in str(answer), "errors do not echo personal data"
    for table in ("kyc_identities", "kyc_identity_history", "kyc_verifications"):
        assert await gateway.pool.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_one_identity_cannot_be_two_customers(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    first = await _fresh_customer(http, gateway, "first")
    second = await _fresh_customer(http, gateway, "second")
    status, _ = await admin(http, gateway.url, "PUT", f"/admin/v1/customers/{first}/identity", json=_rrn_identity())
    assert status == 200
    # The same number written another way is the same identity.
    again = _rrn_identity(national_id={"country": "KR", "type": "rrn", "number": VALID_RRN.replace("-", "")})
    status, answer = await admin(http, gateway.url, "PUT", f"/admin/v1/customers/{second}/identity", json=again)
    assert status == 409 and answer["error"]["details"][0]["field"] == "national_id.number"
    assert await gateway.pool.fetchval("SELECT count(*) FROM kyc_identities") == 1


async def test_identity_is_sealed_masked_and_unmasked_only_with_a_logged_reason(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    customer_id = await _fresh_customer(http, gateway, "sealed")
    status, _ = await admin(http, gateway.url, "PUT", f"/admin/v1/customers/{customer_id}/identity", json=_rrn_identity())
    assert status == 200
    raw = await gateway.pool.fetchrow("SELECT * FROM kyc_identities")
    assert b"Kim" not in raw["sealed"] and VALID_RRN.replace("-", "").encode() not in raw["sealed"]
    assert VALID_RRN.replace("-", "") not in (raw["national_id_hash"] or "")

    for token in (AUDITOR_TOKEN, OFFICER_TOKEN, "test-operator-token"):
        status, shown = await admin(http, gateway.url, "GET", f"/admin/v1/customers/{customer_id}/identity", token=token)
        assert status == 200 and shown["masked"]
        text = str(shown)
        assert "Kim Minjun" not in text and "9005171234566" not in text and "1990-05-17" not in text
        assert shown["identity"]["birth_year"] == 1990

    path = f"/admin/v1/customers/{customer_id}/identity?unmask={customer_id}"
    status, answer = await admin(http, gateway.url, "GET", path, token=OFFICER_TOKEN)
    assert status == 422 and answer["error"]["details"][0]["field"] == "justification", "unmasking needs a reason"
    status, answer = await admin(http, gateway.url, "GET", path, token=AUDITOR_TOKEN)
    assert status == 403 and answer["error"]["code"] == "forbidden"
    reason = "&justification=STR%20review%20case%2042"
    status, shown = await admin(http, gateway.url, "GET", path + reason, token=OFFICER_TOKEN)
    assert status == 200 and not shown["masked"] and shown["identity"]["legal_name"] == "Kim Minjun"
    logged = await gateway.pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE kind = 'personal_data.unmasked' AND subject_id = $1", customer_id
    )
    assert logged == 1


async def test_verification_history_and_resubmission(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    customer_id = await _fresh_customer(http, gateway, "history")
    await admin(http, gateway.url, "PUT", f"/admin/v1/customers/{customer_id}/identity", json=identity_body())
    path = f"/admin/v1/customers/{customer_id}/verification"
    status, answer = await admin(http, gateway.url, "POST", path, json={"decision": "verify", "level": "full"})
    assert status == 403, "operators submit; compliance officers verify"
    status, answer = await admin(http, gateway.url, "POST", path, token=OFFICER_TOKEN, json={"decision": "verify", "level": "gold"})
    assert status == 422 and answer["error"]["details"][0]["field"] == "level"
    status, answer = await admin(http, gateway.url, "POST", path, token=OFFICER_TOKEN, json={"decision": "reject"})
    assert status == 422, "a rejection needs a note"
    status, answer = await admin(http, gateway.url, "POST", path, token=OFFICER_TOKEN, json={"decision": "verify", "level": "full"})
    assert status == 200 and answer["status"] == "verified" and answer["verified_by"].startswith("admin:compliance_officer:")
    # Changed identity data goes back to pending: it must be checked again.
    await admin(http, gateway.url, "PUT", f"/admin/v1/customers/{customer_id}/identity", json=identity_body(risk_rating="high"))
    status, answer = await admin(http, gateway.url, "GET", path, token=AUDITOR_TOKEN)
    assert answer["status"] == "pending"
    assert [(h["from_status"], h["to_status"]) for h in answer["history"]] == [
        (None, "pending"), ("pending", "verified"), ("verified", "pending"),
    ]
    assert await gateway.pool.fetchval("SELECT count(*) FROM kyc_identity_history WHERE customer_id = $1::uuid", customer_id) == 2
    events = await gateway.pool.fetchval("SELECT count(*) FROM audit_events WHERE kind = 'kyc.changed' AND subject_id = $1", customer_id)
    assert events == 3


UNKNOWN_PARAMS = [
    ("identity", "GET", "identity?version=1", None),
    ("submit-identity", "PUT", "identity?dry_run=1", "identity"),
    ("verification", "GET", "verification?history=0", None),
    ("verification-unmasked", "GET", "verification?unmask={customer}&justification=nothing%20to%20unmask", None),
    ("decide", "POST", "verification?dry_run=1", {"decision": "reject", "note": "forged"}),
    ("bank-accounts", "GET", "bank-accounts?currency=KRW", None),
    ("add-bank-account", "POST", "bank-accounts?dry_run=1", {"currency": "KRW", "bank_code": "SHINHAN",
     "account_number": "110-123-456789", "holder_name": "김민준", "holder_confirmed": True}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body"), [c[1:] for c in UNKNOWN_PARAMS], ids=[c[0] for c in UNKNOWN_PARAMS])
async def test_kyc_endpoints_refuse_unknown_parameters(
    gateway: Gateway, http: aiohttp.ClientSession, method: str, path: str, body: Any
) -> None:
    customer_id = await _fresh_customer(http, gateway, "params")
    status, _ = await admin(http, gateway.url, "PUT", f"/admin/v1/customers/{customer_id}/identity", json=identity_body())
    assert status == 200
    token = OFFICER_TOKEN if method == "GET" or path.startswith("verification") else "test-operator-token"
    field = min(name.split("=")[0] for name in path.partition("?")[2].split("&"))  # the first named
    url = f"/admin/v1/customers/{customer_id}/{path.format(customer=customer_id)}"
    tables = ("kyc_identity_history", "kyc_verification_history", "bank_accounts", "audit_events")
    before = [await gateway.pool.fetchval(f"SELECT count(*) FROM {table}") for table in tables]
    status, answer = await admin(http, gateway.url, method, url, token=token, json=identity_body() if body == "identity" else body)
    assert status == 422, answer
    assert [d["field"] for d in answer["error"]["details"]] == [field]
    after = [await gateway.pool.fetchval(f"SELECT count(*) FROM {table}") for table in tables]
    assert after == before, "nothing changed, no unmasking logged"


async def _interleaved(gateway: Gateway, customer_id: str, *calls: Awaitable[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Run the calls while the verification row is held, and let go only once each waits for
    it: every call has read the state it decides on before any of them writes."""
    owner = await asyncpg.connect(gateway.database_url)
    try:
        held = owner.transaction()
        await held.start()
        await owner.execute("SELECT 1 FROM kyc_verifications WHERE customer_id = $1 FOR UPDATE", customer_id)
        tasks = [asyncio.ensure_future(call) for call in calls]
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        async with asyncio.timeout(30):
            while await owner.fetchval(waiting) < len(calls):
                await asyncio.sleep(0.05)
        await held.rollback()
        return list(await asyncio.gather(*tasks))
    finally:
        await owner.close()


async def _history(http: aiohttp.ClientSession, gateway: Gateway, customer_id: str) -> tuple[str, list[tuple[str | None, str]]]:
    status, state = await admin(http, gateway.url, "GET", f"/admin/v1/customers/{customer_id}/verification", token=AUDITOR_TOKEN)
    assert status == 200, state
    return state["status"], [(h["from_status"], h["to_status"]) for h in state["history"]]


async def test_two_officers_on_two_replicas_decide_a_verification_once(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    customer_id = await _fresh_customer(http, gateway, "raced")
    status, _ = await admin(http, gateway.url, "PUT", f"/admin/v1/customers/{customer_id}/identity", json=identity_body())
    assert status == 200
    path = f"/admin/v1/customers/{customer_id}/verification"
    verify = {"decision": "verify", "level": "full"}
    reject = {"decision": "reject", "note": "forged passport"}
    # Two processes: the in-process audit lock that serialises one replica's writes is not shared.
    async with another_gateway(gateway, exchange) as (_, replica):
        calls = (admin(http, gateway.url, "POST", path, token=OFFICER_TOKEN, json=verify),
                 admin(http, replica, "POST", path, token=OFFICER_TOKEN, json=reject))  # fmt: skip
        answers = await _interleaved(gateway, customer_id, *calls)
    assert sorted(code for code, _ in answers) == [200, 409], answers
    (_, decided), (_, refused) = sorted(answers, key=lambda a: a[0])
    assert refused["error"]["code"] == "conflict"
    assert refused["error"]["details"] == [{"field": "status", "problem": "changed_concurrently"}]
    status, history = await _history(http, gateway, customer_id)
    assert status == decided["status"] and history == [(None, "pending"), ("pending", status)]
    decisions = await gateway.pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE kind = 'kyc.changed' AND details->>'change' = 'verification'"
    )
    assert decisions == 1, "the refused decision is not logged as made"
    # The loser reads the state again and may still decide: verified -> rejected is allowed.
    code, answer = await admin(http, gateway.url, "POST", path, token=OFFICER_TOKEN, json=reject)
    assert code == (200 if status == "verified" else 409), answer


async def test_identity_resubmitted_on_another_replica_while_an_officer_decides(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    customer_id = await _fresh_customer(http, gateway, "resubmitted")
    identity = f"/admin/v1/customers/{customer_id}/identity"
    status, _ = await admin(http, gateway.url, "PUT", identity, json=identity_body())
    assert status == 200
    path = f"/admin/v1/customers/{customer_id}/verification"
    async with another_gateway(gateway, exchange) as (_, replica):
        calls = (admin(http, gateway.url, "POST", path, token=OFFICER_TOKEN, json={"decision": "verify", "level": "full"}),
                 admin(http, replica, "PUT", identity, json=identity_body(risk_rating="high")))  # fmt: skip
        answers = await _interleaved(gateway, customer_id, *calls)
    (decided, _), (submitted, _) = answers
    assert submitted == 200 and decided in (200, 409), answers
    # Whichever came first, the new identity is pending, and the history is one chain: the
    # officer's verification of the old identity is kept, or refused, never overwritten or
    # laid over the new one.
    status, history = await _history(http, gateway, customer_id)
    assert status == "pending"
    assert all(after[0] == before[1] for before, after in itertools.pairwise(history)), history
    assert history[-1] == ("verified" if decided == 200 else "pending", "pending")


BANK_CASES = [
    ("hangul-name-matches", "김민준", True, 201),
    ("latin-name-other-order", "MINJUN KIM", True, 201),
    ("someone-else", "Lee Seoyeon", True, 422),
]


@pytest.mark.parametrize(("holder", "confirmed", "status"), [c[1:] for c in BANK_CASES], ids=[c[0] for c in BANK_CASES])
async def test_real_name_bank_account(gateway: Gateway, http: aiohttp.ClientSession, holder: str, confirmed: bool, status: int) -> None:
    customer_id = await _fresh_customer(http, gateway, "banked")
    await admin(http, gateway.url, "PUT", f"/admin/v1/customers/{customer_id}/identity", json=identity_body())
    account = {"currency": "KRW", "bank_code": "SHINHAN", "account_number": "110-123-456789",
               "holder_name": holder, "holder_confirmed": confirmed}  # fmt: skip
    got, answer = await admin(http, gateway.url, "POST", f"/admin/v1/customers/{customer_id}/bank-accounts", json=account)
    assert got == status, answer
    stored = await gateway.pool.fetchval("SELECT count(*) FROM bank_accounts")
    if status == 201:
        assert stored == 1 and answer["holder_name_matches"] and "account_number" not in answer
        sealed = await gateway.pool.fetchval("SELECT sealed FROM bank_accounts")
        assert b"123-456789" not in sealed
    else:
        assert stored == 0 and answer["error"]["details"][0]["field"] == "holder_name"


async def test_personal_data_never_in_logs_metrics_or_decisions(
    gateway: Gateway, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    identity = _rrn_identity(legal_name="Park Jiwoo Unique", native_name="박지우")
    customer = await new_customer(http, gateway.url, "private", identity=identity)
    await signed(http, gateway.url, "POST", "/api/v3/order", customer, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"})
    await signed(http, gateway.url, "POST", "/api/v3/order", customer, {"symbol": "NOPE", "side": "BUY", "type": "MARKET", "quantity": "1"})
    async with http.get(gateway.url + "/metrics") as response:
        metrics = await response.text()
    secrets = ("Park Jiwoo", "박지우", "9005171234566", VALID_RRN, "1990-05-17", "trader@example.org")
    rows = await gateway.pool.fetch("SELECT d::text AS row FROM decisions d")
    events = await gateway.pool.fetch("SELECT e::text AS row FROM audit_events e")
    for where, text in (("logs", caplog.text), ("metrics", metrics), ("decisions", str([r["row"] for r in rows])),
                        ("audit events", str([r["row"] for r in events]))):  # fmt: skip
        for secret in secrets:
            assert secret not in text, f"{secret!r} in {where}"


async def test_a_new_identity_is_compared_again_with_the_accounts_on_record(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    """An account in Kim Minjun's name stops counting as the customer's own once the
    identity on record names someone else, verified or not."""
    url, number = gateway.url, "110-123-456789"
    customer = await new_customer(http, url, "renamed")  # Kim Minjun / 김민준, verified
    account = {"currency": "KRW", "bank_code": "011", "account_number": number, "holder_confirmed": True}
    status, body = await admin(
        http, url, "POST", f"/admin/v1/customers/{customer.id}/bank-accounts", json={**account, "holder_name": "김민준"}
    )
    assert status == 201, body
    other = identity_body(legal_name="Lee Seoyeon", native_name="이서연")
    status, body = await admin(http, url, "PUT", f"/admin/v1/customers/{customer.id}/identity", json=other)
    assert status == 200, body
    status, body = await admin(
        http, url, "POST", f"/admin/v1/customers/{customer.id}/verification",
        token=OFFICER_TOKEN, json={"decision": "verify", "level": "full"},
    )  # fmt: skip
    assert status == 200, body
    status, listed = await admin(http, url, "GET", f"/admin/v1/customers/{customer.id}/bank-accounts")
    assert [a["holder_name_matches"] for a in listed["bank_accounts"]] == [False]
    withdrawal = {"coin": "KRW", "network": "BANK", "address": number, "amount": "50000"}
    status, answer, _ = await signed(http, url, "POST", "/sapi/v1/capital/withdraw/apply", customer, withdrawal)
    assert status == 400 and answer["msg"].startswith("real_name_holder_mismatch:"), answer
