"""The console's customer pages on a running gateway: masked by role exactly as the admin
API masks, an officer's unmasking logged (before the data is read) and shown, a bad
justification refused with nothing logged, and the operator's and officer's actions
(revoke a key, record a verification) present and working only for the roles that hold
them, refused when posted by any other."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from gateway.audit.events import admin_actor
from gateway.http.console import customers as pages
from tests.conftest import Gateway
from tests.console.conftest import ConsoleClient, SignIn
from tests.support import OFFICER_TOKEN, OPERATOR_TOKEN, Customer, admin, identity_body, new_customer, signed

pytestmark = pytest.mark.asyncio

LEGAL_NAME = "Kim Minjun"  # identity_body's, as submitted
JUSTIFICATION = "Suspicious withdrawals, case STR-2026-041"
_LINK = re.compile(r'href="(/console/customers/[^"#?]+)"')


async def _fetch(client: ConsoleClient, path: str) -> tuple[int, str, Any]:
    async with client.get(path) as response:
        return response.status, await response.text(), response.headers


async def _post(client: ConsoleClient, path: str, data: dict[str, str]) -> tuple[int, str, Any]:
    async with client.post(path, data) as response:
        return response.status, await response.text(), response.headers


async def _customer_link(client: ConsoleClient) -> str:
    """The first customer's link on the list, as the role is given it."""
    status, page, _ = await _fetch(client, "/console/customers")
    assert status == 200, page
    found = _LINK.search(page)
    assert found is not None, page
    return found[1]


async def _db(gateway: Gateway, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(gateway.database_url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()


async def _unmask_events(gateway: Gateway, customer_id: str) -> list[asyncpg.Record]:
    return await _db(
        gateway,
        "SELECT actor, reason, details FROM audit_events WHERE kind = 'personal_data.unmasked' AND subject_id = $1",
        customer_id,
    )


@pytest_asyncio.fixture
async def alice(console_app: Gateway, http: aiohttp.ClientSession) -> Customer:
    """A verified customer with a key and one decision on record."""
    customer = await new_customer(http, console_app.url, "alice")
    status, _, _ = await signed(http, console_app.url, "GET", "/api/v3/account", customer, {})
    assert status == 200
    return customer


@pytest.mark.parametrize("role", ["auditor", "compliance_officer", "operator"])
async def test_customer_pages_are_masked_by_role_as_the_admin_api_masks(
    console_app: Gateway, signed_in: SignIn, alice: Customer, role: str
) -> None:
    client = await signed_in(role)
    status, listing, _ = await _fetch(client, "/console/customers")
    assert status == 200
    link = await _customer_link(client)
    clear = role == "operator"  # gateway/audit/masking.py: operators see ids and references
    assert (alice.id in listing) is clear and (alice.reference in listing) is clear
    # A masked role is not handed the id in a link either: its links are sealed.
    assert (link == f"/console/customers/{alice.id}") is clear
    assert link.startswith("/console/customers/sealed:") is not clear
    status, page, _ = await _fetch(client, link)
    assert status == 200, page
    assert (alice.id in page) is clear
    # The identity is masked for every role until an officer unmasks it (a logged access).
    assert LEGAL_NAME not in page and "K*** M***" in page
    assert (alice.api_key in page) is clear
    # An operator reads customers but not decisions: the section is absent for them.
    assert ("Recent decisions" in page) is not clear
    # The same page by the id itself, as the admin API takes it from any reading role.
    status, by_id, _ = await _fetch(client, f"/console/customers/{alice.id}")
    assert status == 200 and LEGAL_NAME not in by_id


async def test_a_forged_or_plain_link_for_a_masked_role_is_not_an_oracle(
    console_app: Gateway, signed_in: SignIn, alice: Customer
) -> None:
    auditor = await signed_in("auditor")
    status, _, _ = await _fetch(auditor, "/console/customers/sealed:AAAA")
    assert status == 404
    status, _, _ = await _fetch(auditor, f"/console/customers?after={alice.reference}")
    assert status == 400  # a plain `after` would say whether the hidden reference sorts after it


async def test_customer_list_pages_with_the_admin_apis_page_tokens(
    console_app: Gateway, signed_in: SignIn, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    for reference in ("cust-a", "cust-b", "cust-c"):
        status, body = await admin(
            http, console_app.url, "POST", "/admin/v1/customers", json={"reference": reference}
        )
        assert status == 201, body
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    auditor = await signed_in("auditor")
    status, first, _ = await _fetch(auditor, "/console/customers")
    assert status == 200 and first.count("/console/customers/sealed:") == 2
    found = re.search(r'href="(/console/customers\?after=[^"]+)"', first)
    assert found is not None, first
    status, second, _ = await _fetch(auditor, found[1].replace("&amp;", "&"))
    assert status == 200 and second.count("/console/customers/sealed:") == 1


async def test_an_officer_unmasks_with_a_justification_logged_first_and_shown(
    console_app: Gateway, signed_in: SignIn, alice: Customer
) -> None:
    officer = await signed_in("compliance_officer")
    link = await _customer_link(officer)
    _, masked, _ = await _fetch(officer, link)
    assert f'action="{link}/unmask"' in masked
    status, page, headers = await _post(officer, f"{link}/unmask", {"justification": JUSTIFICATION})
    assert status == 200, page  # answered, not redirected: the reason stays out of the URL
    assert LEGAL_NAME in page and alice.id in page
    actor = admin_actor("compliance_officer", OFFICER_TOKEN)  # the admin API's label for the same person
    assert f"Unmasked for <strong>{actor}</strong>: {JUSTIFICATION}, logged at" in page
    assert headers["Cache-Control"] == "no-store"
    events = await _unmask_events(console_app, alice.id)
    assert [(e["actor"], e["reason"]) for e in events] == [(actor, JUSTIFICATION)]
    assert alice.id not in events[0]["details"], "the endpoint is the route's template, not the path"
    # The next plain view is masked again: an unmasking covers the page it was asked for.
    _, again, _ = await _fetch(officer, link)
    assert LEGAL_NAME not in again


@pytest.mark.parametrize("justification", ["", "too short", "x" * 501, "         spaces  "])
async def test_a_justification_out_of_bounds_is_a_422_and_nothing_is_logged_or_shown(
    console_app: Gateway, signed_in: SignIn, alice: Customer, justification: str
) -> None:
    officer = await signed_in("compliance_officer")
    link = await _customer_link(officer)
    status, page, _ = await _post(officer, f"{link}/unmask", {"justification": justification})
    assert status == 422, page
    assert "10 to 500 characters" in page and LEGAL_NAME not in page
    assert await _unmask_events(console_app, alice.id) == []


@pytest.mark.parametrize("role", ["auditor", "operator"])
async def test_a_role_without_the_unmask_permission_has_no_form_and_is_refused(
    console_app: Gateway, signed_in: SignIn, alice: Customer, role: str
) -> None:
    client = await signed_in(role)
    link = await _customer_link(client)
    _, page, _ = await _fetch(client, link)
    assert "/unmask" not in page and 'name="justification"' not in page
    status, refused, _ = await _post(client, f"{link}/unmask", {"justification": JUSTIFICATION})
    assert status == 403
    assert LEGAL_NAME not in refused
    assert await _unmask_events(console_app, alice.id) == []


async def test_an_operator_revokes_a_key_and_an_auditor_cannot(
    console_app: Gateway, signed_in: SignIn, http: aiohttp.ClientSession, alice: Customer
) -> None:
    (key,) = await _db(
        console_app, "SELECT id::text AS id FROM api_keys WHERE customer_id = $1::uuid", alice.id
    )
    revoke = f"/console/api-keys/{key['id']}/revoke"
    auditor = await signed_in("auditor")
    _, page, _ = await _fetch(auditor, await _customer_link(auditor))
    assert revoke not in page
    status, _, _ = await _post(auditor, revoke, {})
    assert status == 403
    status, _, _ = await signed(http, console_app.url, "GET", "/api/v3/account", alice, {})
    assert status == 200, "the key still works after the refused revocation"

    operator = await signed_in("operator")
    link = await _customer_link(operator)
    _, page, _ = await _fetch(operator, link)
    assert f'action="{revoke}"' in page
    status, _, headers = await _post(operator, revoke, {})
    assert status == 303 and headers["Location"] == f"{link}#api-keys"
    (stored,) = await _db(console_app, "SELECT status FROM api_keys WHERE id = $1::uuid", key["id"])
    assert stored["status"] == "revoked"
    events = await _db(
        console_app, "SELECT actor FROM audit_events WHERE kind = 'api_key.revoked' AND details->>'api_key_id' = $1",
        key["id"],
    )  # fmt: skip
    assert [e["actor"] for e in events] == [admin_actor("operator", OPERATOR_TOKEN)]
    status, _, _ = await signed(http, console_app.url, "GET", "/api/v3/account", alice, {})
    assert status == 401, "revoked at once on this replica (its key cache forgot it)"
    _, page, _ = await _fetch(operator, link)
    assert f'action="{revoke}"' not in page


async def test_an_officer_records_a_verification_through_the_api_rules(
    console_app: Gateway, signed_in: SignIn, http: aiohttp.ClientSession
) -> None:
    bob = await new_customer(http, console_app.url, "bob", verified=False, identity=identity_body())
    officer = await signed_in("compliance_officer")
    link = f"/console/customers/{bob.id}"
    _, page, _ = await _fetch(officer, link)
    assert f'action="{link}/verification"' in page

    status, refused, _ = await _post(officer, f"{link}/verification", {"decision": "reject", "note": ""})
    assert status == 422 and "A rejection needs a note." in refused
    status, refused, _ = await _post(officer, f"{link}/verification", {"decision": "verify", "level": "gold"})
    assert status == 422 and "Unknown verification level." in refused
    status, _, headers = await _post(officer, f"{link}/verification", {"decision": "verify", "level": "full"})
    assert status == 303, headers
    (row,) = await _db(
        console_app, "SELECT status, level FROM kyc_verifications WHERE customer_id = $1::uuid", bob.id
    )
    assert (row["status"], row["level"]) == ("verified", "full")
    events = await _db(
        console_app,
        "SELECT actor FROM audit_events WHERE kind = 'kyc.changed' AND subject_id = $1"
        " AND details->>'change' = 'verification'",
        bob.id,
    )
    assert [e["actor"] for e in events] == [admin_actor("compliance_officer", OFFICER_TOKEN)]
    # Verifying a verified record again is the state machine's conflict, as in the API.
    status, conflict, _ = await _post(
        officer, f"{link}/verification", {"decision": "verify", "level": "full"}
    )
    assert status == 409, conflict

    auditor = await signed_in("auditor")
    _, page, _ = await _fetch(auditor, link)
    assert "Record a verification decision" not in page
    status, _, _ = await _post(auditor, f"{link}/verification", {"decision": "expire"})
    assert status == 403
    (row,) = await _db(
        console_app, "SELECT status FROM kyc_verifications WHERE customer_id = $1::uuid", bob.id
    )
    assert row["status"] == "verified"


BAD_VERIFICATIONS = [
    # (id, form fields): each refused by the admin API's body model, so a 422 page here
    ("no-decision", {}),
    ("unknown-decision", {"decision": "destroy"}),
    ("level-not-a-code", {"decision": "verify", "level": "Full Level!"}),
    ("date-not-a-date", {"decision": "verify", "level": "full", "valid_until": "2027-13-45"}),
    ("note-too-long", {"decision": "reject", "note": "x" * 1001}),
]


@pytest.mark.parametrize("fields", [c[1] for c in BAD_VERIFICATIONS], ids=[c[0] for c in BAD_VERIFICATIONS])
async def test_a_verification_form_the_api_would_refuse_is_a_422_and_changes_nothing(
    console_app: Gateway, signed_in: SignIn, http: aiohttp.ClientSession, fields: dict[str, str]
) -> None:
    carol = await new_customer(http, console_app.url, "carol", verified=False, identity=identity_body())
    officer = await signed_in("compliance_officer")
    status, page, _ = await _post(officer, f"/console/customers/{carol.id}/verification", fields)
    assert status == 422, page
    assert 'role="alert"' in page
    (row,) = await _db(
        console_app, "SELECT status FROM kyc_verifications WHERE customer_id = $1::uuid", carol.id
    )
    assert row["status"] == "pending"


async def test_a_customer_that_does_not_exist_is_a_404_page(console_app: Gateway, signed_in: SignIn) -> None:
    officer = await signed_in("compliance_officer")
    missing = "/console/customers/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    status, page, _ = await _fetch(officer, missing)
    assert status == 404 and "<html" in page
    status, _, _ = await _post(officer, f"{missing}/unmask", {"justification": JUSTIFICATION})
    assert status == 404
