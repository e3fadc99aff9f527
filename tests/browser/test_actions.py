"""In Chromium: an officer files a report candidate with a note, unmasks a customer's
identity with a justification (the audit event is written and shown), and runs the chain
verification; each answer is a page showing the result."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from gateway.audit.events import admin_actor
from gateway.review.store import ReportCandidate, open_report
from tests.browser.conftest import Browser
from tests.conftest import Gateway
from tests.review.support import make_hold
from tests.support import OFFICER_TOKEN, Customer, new_customer

pytestmark = [pytest.mark.asyncio, pytest.mark.browser]

LEGAL_NAME = "Kim Minjun"  # tests.support.identity_body's
JUSTIFICATION = "STR 2026-0042 draft: the examiner needs the originator's legal name."


async def open_ctr(gateway: Gateway, customer: Customer) -> str:
    """A CTR candidate over one of the customer's decisions, as the AML path opens one."""
    decision_id = await make_hold(gateway, customer)
    candidate = ReportCandidate(
        kind="CTR", customer_id=uuid.UUID(customer.id), decision_ids=(decision_id,),
        rule_ids=("kr.cash_report.current",), amount=Decimal("12000000"), currency="KRW",
        details={"threshold": "10000000", "period": "day"},
    )  # fmt: skip
    async with gateway.pool.acquire() as conn, conn.transaction():
        return str(await open_report(conn, candidate))


async def text_of(page: Any) -> str:
    text: str = await page.locator("main").inner_text()
    return text


async def test_an_officer_files_a_report_with_a_note(
    browser: Browser, console_gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, console_gateway.url, "alice")
    report_id = await open_ctr(console_gateway, alice)
    officer = await browser.signed_in("compliance_officer")

    await officer.goto("/console/reports")
    await officer.locator(f'a[href="/console/reports/{report_id}"]').first.click()
    await officer.wait_for_url(f"**/console/reports/{report_id}*")
    await officer.get_by_label("Note").fill("Filed with KoFIU, reference 2026-0042.")
    await officer.get_by_role("button", name="File", exact=True).click()
    await officer.wait_for_load_state()

    status = await console_gateway.pool.fetchval(
        "SELECT status FROM report_candidates WHERE id = $1", uuid.UUID(report_id)
    )
    assert status == "filed"
    assert "filed" in await text_of(officer)
    # Filed: the form is gone, nothing more to decide.
    assert await officer.get_by_role("button", name="File", exact=True).count() == 0


async def test_an_officer_unmasks_with_a_justification_and_the_access_is_logged(
    browser: Browser, console_gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    bob = await new_customer(http, console_gateway.url, "bob")
    officer = await browser.signed_in("compliance_officer")

    await officer.goto(f"/console/customers?id={bob.id}")
    assert LEGAL_NAME not in await text_of(officer), "masked until unmasked"
    await officer.get_by_label("Why do you need").fill(JUSTIFICATION)
    await officer.get_by_role("button", name="Unmask").click()
    await officer.wait_for_load_state()

    shown = await text_of(officer)
    assert LEGAL_NAME in shown
    actor = admin_actor("compliance_officer", OFFICER_TOKEN)
    assert f"Unmasked for {actor}: {JUSTIFICATION}" in shown
    events = await console_gateway.pool.fetch(
        "SELECT actor, reason FROM audit_events WHERE kind = 'personal_data.unmasked' AND subject_id = $1",
        bob.id,
    )
    assert [(e["actor"], e["reason"]) for e in events] == [(actor, JUSTIFICATION)]
    # The justification is a form field, not part of an address a browser keeps.
    assert "justification" not in officer.url.lower()


async def test_an_auditor_runs_the_chain_verification(
    browser: Browser, console_gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    carol = await new_customer(http, console_gateway.url, "carol")
    await make_hold(console_gateway, carol)  # something chained to verify
    auditor = await browser.signed_in("auditor")

    await auditor.goto("/console/proof")
    await auditor.get_by_role("button", name="Run verification").click()
    await auditor.wait_for_load_state()

    verdict = auditor.get_by_role("status").filter(has_text="Intact")
    assert await verdict.count() == 1
    assert await auditor.get_by_role("table", name="Chain heads").count() == 1
