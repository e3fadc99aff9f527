"""In Chromium, for every role and every console action its role lacks (by gateway/roles.py,
the admin API's table): the action's button is not on the page, and the same POST sent
anyway with the role's own session cookie and CSRF token is refused (403) with nothing
changed. The class of "absent and refused", not one instance of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from gateway.review.store import ReportCandidate, open_report
from gateway.roles import ROLE_PERMISSIONS, Permission
from tests.browser.conftest import Browser, csrf_of
from tests.conftest import Gateway
from tests.review.support import make_hold
from tests.support import new_customer

pytestmark = [pytest.mark.asyncio, pytest.mark.browser]

NOTE = "Looked at it; posting anyway."


@dataclass(frozen=True)
class Action:
    name: str
    permission: Permission
    page: str  # where the button would be; "{customer}": the customer's page
    button: str
    post: str  # "{page}": the page's own path
    form: dict[str, str]


@dataclass(frozen=True)
class World:
    hold_id: uuid.UUID
    report_id: str
    customer_id: str
    key_id: str

    def fill(self, template: str, page: str = "") -> str:
        return template.format(
            hold=self.hold_id, report=self.report_id, customer=f"/console/customers?id={self.customer_id}",
            key=self.key_id, page=page,
        )  # fmt: skip


ACTIONS = (
    Action("approve", Permission.REVIEW_HOLDS, "/console/review/{hold}", "Approve",
           "/console/review/{hold}/approve", {"note": NOTE}),
    Action("reject", Permission.REVIEW_HOLDS, "/console/review/{hold}", "Reject",
           "/console/review/{hold}/reject", {"note": NOTE}),
    Action("file report", Permission.MANAGE_REPORTS, "/console/reports/{report}", "File",
           "/console/reports/{report}", {"note": NOTE, "status": "filed"}),
    Action("unmask", Permission.UNMASK_PERSONAL_DATA, "{customer}", "Unmask", "{page}/unmask",
           {"justification": "An examiner asked for the legal name."}),
    Action("record KYC", Permission.VERIFY_KYC, "{customer}", "Record decision", "{page}/verification",
           {"decision": "reject", "note": NOTE}),
    Action("revoke key", Permission.MANAGE_KEYS, "{customer}", "Revoke key", "/console/api-keys/{key}/revoke", {}),
)  # fmt: skip


async def a_world(gateway: Gateway, http: aiohttp.ClientSession) -> World:
    alice = await new_customer(http, gateway.url, "alice")
    hold_id = await make_hold(gateway, alice)
    candidate = ReportCandidate(
        kind="CTR", customer_id=uuid.UUID(alice.id), decision_ids=(hold_id,), rule_ids=("kr.cash_report.current",),
        amount=Decimal("12000000"), currency="KRW", details={"threshold": "10000000", "period": "day"},
    )  # fmt: skip
    async with gateway.pool.acquire() as conn, conn.transaction():
        report_id = str(await open_report(conn, candidate))
        key_id = str(await conn.fetchval("SELECT id FROM api_keys WHERE api_key = $1", alice.api_key))
    return World(hold_id, report_id, alice.id, key_id)


async def state(gateway: Gateway, world: World) -> tuple[Any, ...]:
    """Everything the actions would change."""
    pool = gateway.pool
    return (
        await pool.fetchval("SELECT state FROM held_calls WHERE id = $1", world.hold_id),
        await pool.fetchval("SELECT status FROM report_candidates WHERE id = $1", uuid.UUID(world.report_id)),
        await pool.fetchval("SELECT status FROM api_keys WHERE id = $1", uuid.UUID(world.key_id)),
        await pool.fetchval("SELECT count(*) FROM audit_events"),
    )


@pytest.mark.parametrize("role", sorted(ROLE_PERMISSIONS))
async def test_an_action_the_role_lacks_is_absent_and_refused(
    browser: Browser, console_gateway: Gateway, http: aiohttp.ClientSession, role: str
) -> None:
    world = await a_world(console_gateway, http)
    lacking = [a for a in ACTIONS if a.permission not in ROLE_PERMISSIONS[role]]
    assert lacking, f"every role lacks some officer's or operator's action ({role})"
    page = await browser.signed_in(role)
    before = await state(console_gateway, world)

    for action in lacking:
        await page.goto(world.fill(action.page))  # may itself be a 403 page: nothing to press there
        assert await page.get_by_role("button", name=action.button).count() == 0, (role, action.name)
        path = world.fill(action.post, page=page.url.removeprefix(console_gateway.url).split("?")[0])
        form = {**action.form, "csrf_token": await csrf_of(page)}
        answer = await page.request.post(path, form=form, max_redirects=0)
        assert answer.status == 403, (role, action.name, answer.status)

    assert await state(console_gateway, world) == before, "nothing changed"
