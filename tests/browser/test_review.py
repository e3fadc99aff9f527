"""In Chromium: officers approve and reject held withdrawals and the exchange sees exactly
what they decided; four eyes above the threshold; an auditor has no review button and a
review posted anyway is refused; a review without the CSRF token is refused."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.browser.conftest import DUAL_CONTROL_ABOVE, Browser, csrf_of
from tests.conftest import Exchange, Gateway
from tests.review.support import hold_state, make_hold, withdrawals
from tests.support import new_customer

pytestmark = [pytest.mark.asyncio, pytest.mark.browser]

# At or below the four-eyes threshold: one officer's approval releases it. (A hold nothing
# valued needs two, failing closed.)
ONE_OFFICER = DUAL_CONTROL_ABOVE
NOTE = "Source of funds documented in ticket 4411."


async def open_hold(page: Any, hold_id: uuid.UUID) -> None:
    """From the queue, as a person would: the hold's row links to its page."""
    await page.goto("/console/review")
    await page.locator(f'a[href="/console/review/{hold_id}"]').click()
    await page.wait_for_url(f"**/console/review/{hold_id}")


async def review(page: Any, hold_id: uuid.UUID, button: str, note: str = NOTE) -> None:
    await open_hold(page, hold_id)
    await page.get_by_label("Note").fill(note)
    await page.get_by_role("button", name=button, exact=True).click()
    await page.wait_for_load_state()


async def test_an_approval_forwards_the_withdrawal_once(
    browser: Browser, console_gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, console_gateway.url, "alice")
    hold_id = await make_hold(console_gateway, alice, amount="0.01", home_value=ONE_OFFICER)
    officer = await browser.signed_in("compliance_officer")
    # The same hold open in a second tab, its form loaded before the approval.
    stale = browser.watch(await officer.context.new_page())
    await open_hold(stale, hold_id)

    await review(officer, hold_id, "Approve")

    assert await officer.get_by_role("status").count() == 1
    assert "forwarded" in await officer.locator("dd.state").inner_text()
    assert len(await withdrawals(http, exchange, alice.id)) == 1

    # The stale tab's Approve: refused and told why; the exchange saw one withdrawal.
    await stale.get_by_label("Note").fill(NOTE)
    async with stale.expect_response(lambda r: r.request.method == "POST") as posted:
        await stale.get_by_role("button", name="Approve", exact=True).click()
    assert (await posted.value).status == 409
    await stale.wait_for_load_state()
    assert "nothing changed" in await stale.locator("main").inner_text()
    assert len(await withdrawals(http, exchange, alice.id)) == 1
    assert await hold_state(console_gateway, hold_id) == "forwarded"


async def test_a_rejection_sends_nothing(
    browser: Browser, console_gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    bob = await new_customer(http, console_gateway.url, "bob")
    hold_id = await make_hold(console_gateway, bob)
    officer = await browser.signed_in("compliance_officer")

    await review(officer, hold_id, "Reject", "Destination is a mixer; refused.")

    assert "rejected" in await officer.locator("dd.state").inner_text()
    assert await hold_state(console_gateway, hold_id) == "rejected"
    assert await withdrawals(http, exchange, bob.id) == []


async def test_above_the_threshold_two_different_officers_must_approve(
    browser: Browser, console_gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    carol = await new_customer(http, console_gateway.url, "carol")
    hold_id = await make_hold(console_gateway, carol, home_value=DUAL_CONTROL_ABOVE + Decimal(1))
    first = await browser.signed_in("compliance_officer")
    second = await browser.signed_in("second_officer")

    await review(first, hold_id, "Approve")
    assert "1 of 2" in await first.locator("dd.approvals").inner_text()
    # No second Approve for the officer who gave the first; rejecting stays open to them.
    assert await first.get_by_role("button", name="Approve", exact=True).count() == 0
    assert await first.get_by_role("button", name="Reject", exact=True).count() == 1
    assert await hold_state(console_gateway, hold_id) == "pending"
    assert await withdrawals(http, exchange, carol.id) == []

    # The same officer again does not count as the second pair of eyes (a stale form).
    answer = await first.request.post(
        f"/console/review/{hold_id}/approve", form={"csrf_token": await csrf_of(first), "note": NOTE},
        max_redirects=0,
    )  # fmt: skip
    assert answer.status == 409 and "nothing changed" in await answer.text()
    assert await hold_state(console_gateway, hold_id) == "pending"

    await review(second, hold_id, "Approve", "Second review: agreed.")
    assert "2 of 2" in await second.locator("dd.approvals").inner_text()
    assert await hold_state(console_gateway, hold_id) == "forwarded"
    assert len(await withdrawals(http, exchange, carol.id)) == 1


async def test_an_auditor_has_no_review_and_a_posted_one_is_refused(
    browser: Browser, console_gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    dave = await new_customer(http, console_gateway.url, "dave")
    hold_id = await make_hold(console_gateway, dave)
    auditor = await browser.signed_in("auditor")

    await open_hold(auditor, hold_id)
    assert await auditor.get_by_role("button", name="Approve").count() == 0
    assert await auditor.get_by_role("button", name="Reject").count() == 0
    assert await auditor.get_by_label("Note").count() == 0

    # Posted anyway, with the auditor's own session cookie and CSRF token: refused.
    token = await csrf_of(auditor)
    for verb in ("approve", "reject"):
        answer = await auditor.request.post(
            f"/console/review/{hold_id}/{verb}", form={"csrf_token": token, "note": NOTE}, max_redirects=0
        )
        assert answer.status == 403, verb
    assert await hold_state(console_gateway, hold_id) == "pending"
    assert await withdrawals(http, exchange, dave.id) == []


async def test_a_review_without_the_csrf_token_is_refused(
    browser: Browser, console_gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    erin = await new_customer(http, console_gateway.url, "erin")
    hold_id = await make_hold(console_gateway, erin, home_value=ONE_OFFICER)
    officer = await browser.signed_in("compliance_officer")
    await open_hold(officer, hold_id)
    url = f"/console/review/{hold_id}/approve"

    missing = await officer.request.post(url, form={"note": NOTE}, max_redirects=0)
    wrong = await officer.request.post(url, form={"note": NOTE, "csrf_token": "x" * 43}, max_redirects=0)

    assert (missing.status, wrong.status) == (403, 403)
    assert await hold_state(console_gateway, hold_id) == "pending"
    assert await withdrawals(http, exchange, erin.id) == []
    # The same post with the session's token goes through: the token was what was missing.
    right = await officer.request.post(
        url, form={"note": NOTE, "csrf_token": await csrf_of(officer)}, max_redirects=0
    )
    assert right.status == 303
    assert await hold_state(console_gateway, hold_id) == "forwarded"
