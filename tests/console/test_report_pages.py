"""The console's report candidates: STR candidates opened by real withdrawals through the
gateway (and a CTR opened as the review tests open one), listed with the admin API's
filters and paging, exported byte for byte as the API exports them, masked by role; an
officer files or dismisses one exactly once with a note, an auditor can do neither."""

from __future__ import annotations

import html
import re
import uuid
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
import pytest

from gateway.http.admin.reports import REPORT_FILTERS
from gateway.review.store import ReportCandidate, open_report
from tests.conftest import Gateway
from tests.console.conftest import ConsoleClient, SignIn
from tests.review.support import make_hold
from tests.support import (
    AUDITOR_TOKEN,
    OFFICER_TOKEN,
    Customer,
    admin,
    new_customer,
    signed,
    travel_rule_params,
)

pytestmark = pytest.mark.asyncio

_ROW_LINK = re.compile(r'href="/console/reports/([0-9a-f-]{36})"')
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">Next page</a>')
_EXPORT = re.compile(r'<a href="(/console/reports/export\?[^"]+)" download>')
BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
# ~KRW 21m: over the KoFIU indicator, so the withdrawal is allowed and an STR opened.
REPORTED_BTC = "0.25"
NOTE = "Filed with KoFIU, reference 2026-0042."


async def _withdraw_reported(gateway: Gateway, http: aiohttp.ClientSession, customer: Customer) -> str:
    params = {"coin": "BTC", "address": BTC_ADDRESS, "amount": REPORTED_BTC, **travel_rule_params()}
    status, body, headers = await signed(
        http, gateway.url, "POST", "/sapi/v1/capital/withdraw/apply", customer, params
    )
    assert status == 200, body
    return str(headers["X-Decision-Id"])


async def _ctr(gateway: Gateway, customer: Customer) -> str:
    """A CTR candidate, opened as tests/review/test_reports.py opens one."""
    decision_id = await make_hold(gateway, customer)
    candidate = ReportCandidate(
        kind="CTR", customer_id=uuid.UUID(customer.id), decision_ids=(decision_id,),
        rule_ids=("kr.cash_report.current",), amount=Decimal("12000000"), currency="KRW",
        details={"threshold": "10000000", "period": "day"},
    )  # fmt: skip
    async with gateway.pool.acquire() as conn, conn.transaction():
        return str(await open_report(conn, candidate))


async def _api_ids(gateway: Gateway, http: aiohttp.ClientSession, query: str) -> list[str]:
    status, body = await admin(http, gateway.url, "GET", f"/admin/v1/reports?{query}", token=AUDITOR_TOKEN)
    assert status == 200, body
    assert body["next_cursor"] is None
    return [r["id"] for r in body["reports"]]


async def _page(client: ConsoleClient, path: str, status: int = 200) -> str:
    async with client.get(path) as response:
        text = await response.text()
        assert response.status == status, text
        assert response.content_type == "text/html"
        return text


async def _reports(gateway: Gateway, http: aiohttp.ClientSession) -> tuple[Customer, Customer, str]:
    """alice: an STR from a real withdrawal and a CTR; bob: an STR. The CTR's id."""
    alice = await new_customer(http, gateway.url, "alice")
    bob = await new_customer(http, gateway.url, "bob")
    await _withdraw_reported(gateway, http, alice)
    await _withdraw_reported(gateway, http, bob)
    return alice, bob, await _ctr(gateway, alice)


async def _history(gateway: Gateway, report_id: str) -> list[tuple[str | None, str]]:
    rows = await gateway.pool.fetch(
        "SELECT from_status, to_status FROM report_history WHERE report_id = $1 ORDER BY seq",
        uuid.UUID(report_id),
    )
    return [(r["from_status"], r["to_status"]) for r in rows]


async def test_filters_paging_and_exports_are_the_apis(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    alice, bob, ctr = await _reports(console_app, http)
    auditor = await signed_in("auditor")
    form = await _page(auditor, "/console/reports")
    for name in REPORT_FILTERS | {"limit"}:  # a filter the API gains needs its field here
        assert f'<label for="f-{name}">' in form and f'name="{name}"' in form, name
    everything = _ROW_LINK.findall(form)
    assert everything == await _api_ids(console_app, http, "") and len(everything) == 3
    for query in ("kind=CTR", "kind=STR", f"customer_id={bob.id}", "since=2999-01-01T00:00:00Z",
                  "until=2000-01-01T00:00:00Z", "status=filed", "kind=&status=open"):  # fmt: skip
        shown = _ROW_LINK.findall(await _page(auditor, f"/console/reports?{query}"))
        api_query = "&".join(p for p in query.split("&") if not p.endswith("="))
        assert shown == await _api_ids(console_app, http, api_query), query
    assert _ROW_LINK.findall(await _page(auditor, "/console/reports?kind=CTR")) == [ctr]

    path: str | None = "/console/reports?limit=1&status=open"
    seen: list[str] = []
    while path is not None:
        page = await _page(auditor, path)
        seen += _ROW_LINK.findall(page)
        found = _NEXT.search(page)
        path = html.unescape(found[1]) if found else None
    assert seen == everything

    page = await _page(auditor, f"/console/reports?customer_id={alice.id}")
    links = [html.unescape(link) for link in _EXPORT.findall(page)]
    assert len(links) == 2
    for link in links:
        fmt = "csv" if "format=csv" in link else "jsonl"
        async with auditor.get(link) as response:
            assert response.status == 200
            assert response.headers["Content-Disposition"] == f'attachment; filename="reports.{fmt}"'
            ours = await response.read()
        headers = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
        query = urlencode({"customer_id": alice.id, "format": fmt})
        async with http.get(f"{console_app.url}/admin/v1/reports/export?{query}", headers=headers) as api:
            assert ours == await api.read()
        assert ctr.encode() in ours and alice.id.encode() not in ours


async def test_reports_are_masked_by_role(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    alice, _, ctr = await _reports(console_app, http)
    masked = alice.id[:4] + "…" + alice.id[-4:]
    for role in ("auditor", "compliance_officer"):
        client = await signed_in(role)
        for path in ("/console/reports", f"/console/reports/{ctr}"):
            page = await _page(client, path)
            assert alice.id not in page and masked in page, (role, path)
    operator = await signed_in("operator")
    for path in ("/console/reports", f"/console/reports/{ctr}", "/console/reports/export?format=csv"):
        await _page(operator, path, status=403)


async def test_a_reports_page_says_why_it_opened(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    alice = await new_customer(http, console_app.url, "alice")
    decision_id = await _withdraw_reported(console_app, http, alice)
    status, listed = await admin(http, console_app.url, "GET", "/admin/v1/reports", token=OFFICER_TOKEN)
    assert status == 200 and len(listed["reports"]) == 1
    report = listed["reports"][0]
    assert report["decision_ids"] == [decision_id]
    page = await _page(await signed_in("auditor"), f"/console/reports/{report['id']}")
    assert f'href="/console/decisions/{decision_id}"' in page
    for rule_id in report["rule_ids"]:
        assert f"<code>{rule_id}</code>" in page
    assert "STR" in page and "open" in page


async def test_an_officer_files_and_dismisses_once_with_a_note(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    _, _, ctr = await _reports(console_app, http)
    officer = await signed_in("compliance_officer")
    page = await _page(officer, f"/console/reports/{ctr}")
    assert 'name="note"' in page and 'value="filed"' in page and 'value="dismissed"' in page

    for bad in ({"status": "filed"}, {"status": "filed", "note": "   "}, {"status": "open", "note": NOTE}):
        async with officer.post(f"/console/reports/{ctr}", bad) as response:
            text = await response.text()
            assert response.status == 422, text
            assert "The report was not changed" in text and 'name="note"' in text
    assert await _history(console_app, ctr) == [(None, "open")]

    async with officer.post(f"/console/reports/{ctr}", {"status": "filed", "note": NOTE}) as response:
        assert response.status == 303
        assert response.headers["Location"] == f"/console/reports/{ctr}?result=filed"
    page = await _page(officer, f"/console/reports/{ctr}?result=filed")
    assert "Filed: the report is recorded as filed" in page and html.escape(NOTE) in page
    assert 'name="note"' not in page, "a filed report has no form"
    assert await _history(console_app, ctr) == [(None, "open"), ("open", "filed")]

    async with officer.post(f"/console/reports/{ctr}", {"status": "dismissed", "note": "again"}) as response:
        text = await response.text()
        assert response.status == 409
    actor = await console_app.pool.fetchval(
        "SELECT reviewed_by FROM report_candidates WHERE id = $1", uuid.UUID(ctr)
    )
    assert actor.startswith("admin:compliance_officer:") and actor in text and "filed" in text
    events = await console_app.pool.fetch(
        "SELECT kind, actor, reason FROM audit_events WHERE subject_type = 'report' AND subject_id = $1", ctr
    )
    assert [(e["kind"], e["actor"], e["reason"]) for e in events] == [("report.filed", actor, NOTE)]

    status, listed = await admin(
        http, console_app.url, "GET", "/admin/v1/reports?kind=STR", token=OFFICER_TOKEN
    )
    assert status == 200, listed
    other = listed["reports"][0]["id"]
    async with officer.post(
        f"/console/reports/{other}", {"status": "dismissed", "note": "Below concern."}
    ) as r:
        assert (r.status, r.headers["Location"]) == (303, f"/console/reports/{other}?result=dismissed")
    assert await _history(console_app, other) == [(None, "open"), ("open", "dismissed")]


async def test_an_auditor_cannot_file(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    _, _, ctr = await _reports(console_app, http)
    auditor = await signed_in("auditor")
    page = await _page(auditor, f"/console/reports/{ctr}")
    assert (
        'name="note"' not in page
        and 'value="filed"' not in page
        and 'method="post" action="/console/reports' not in page
    )
    async with auditor.post(f"/console/reports/{ctr}", {"status": "filed", "note": NOTE}) as response:
        assert response.status == 403
    assert await _history(console_app, ctr) == [(None, "open")]
    assert (
        await console_app.pool.fetchval("SELECT count(*) FROM audit_events WHERE subject_type = 'report'")
        == 0
    )


BAD_QUERIES = [
    ("bad-kind", "/console/reports?kind=SAR", "kind"),
    ("bad-status", "/console/reports?status=closed", "status"),
    ("bad-customer", "/console/reports?customer_id=alice", "customer_id"),
    ("bad-since", "/console/reports?since=yesterday", "since"),
    ("bad-cursor", "/console/reports?cursor=bm9wZQ", "cursor"),
    ("unknown-filter", "/console/reports?colour=red", "colour"),
    ("export-bad-format", "/console/reports/export?format=xml", "format"),
    ("unknown-result", "/console/reports/00000000-0000-0000-0000-000000000000?result=hacked", "result"),
]


@pytest.mark.parametrize(("path", "field"), [c[1:] for c in BAD_QUERIES], ids=[c[0] for c in BAD_QUERIES])
async def test_a_bad_report_filter_is_a_400_page(
    console_app: Gateway, signed_in: SignIn, path: str, field: str
) -> None:
    page = await _page(await signed_in("auditor"), path, status=400)
    assert field in page
