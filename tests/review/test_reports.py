"""Report candidates: opened in the decision's transaction, listed, filed or dismissed once
with a note (history and audit event kept), exported in CSV and JSON Lines, masked for
auditors."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal

import aiohttp
import orjson
import pytest

from gateway.review.store import InvalidHold, ReportCandidate, open_report
from tests.conftest import Gateway
from tests.review.support import make_hold
from tests.support import AUDITOR_TOKEN, OFFICER_TOKEN, OPERATOR_TOKEN, Customer, admin, new_customer

pytestmark = pytest.mark.asyncio


async def _open(
    gateway: Gateway, customer: Customer, kind: str = "CTR", amount: str = "12000000"
) -> uuid.UUID:
    decision_id = await make_hold(gateway, customer)
    candidate = ReportCandidate(
        kind=kind, customer_id=uuid.UUID(customer.id), decision_ids=(decision_id,),
        rule_ids=("kr.aml.cash_report",), amount=Decimal(amount), currency="KRW",
        details={"threshold": "10000000", "rate": {"BTC/KRW": "90000000"}},
    )  # fmt: skip
    async with gateway.pool.acquire() as conn, conn.transaction():
        return await open_report(conn, candidate)


async def test_list_update_export_round_trip(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    ctr, str_ = await _open(gateway, alice, "CTR"), await _open(gateway, alice, "STR", "5")

    status, page = await admin(http, gateway.url, "GET", "/admin/v1/reports?kind=CTR", token=OFFICER_TOKEN)
    assert status == 200 and [r["id"] for r in page["reports"]] == [str(ctr)]
    status, page = await admin(http, gateway.url, "GET", "/admin/v1/reports?limit=1", token=OFFICER_TOKEN)
    assert [r["id"] for r in page["reports"]] == [str(str_)] and page["next_cursor"]
    status, rest = await admin(
        http,
        gateway.url,
        "GET",
        f"/admin/v1/reports?limit=1&cursor={page['next_cursor']}",
        token=OFFICER_TOKEN,
    )
    assert [r["id"] for r in rest["reports"]] == [str(ctr)]

    status, filed = await admin(
        http, gateway.url, "PATCH", f"/admin/v1/reports/{ctr}", token=OFFICER_TOKEN,
        json={"status": "filed", "note": "Filed with KoFIU, ref 2024-001."},
    )  # fmt: skip
    assert status == 200 and filed["status"] == "filed" and filed["note"] == "Filed with KoFIU, ref 2024-001."
    assert [(h["from_status"], h["to_status"]) for h in filed["history"]] == [
        (None, "open"),
        ("open", "filed"),
    ]
    # Once decided, it stays decided.
    status, again = await admin(
        http, gateway.url, "PATCH", f"/admin/v1/reports/{ctr}", token=OFFICER_TOKEN,
        json={"status": "dismissed", "note": "changed my mind"},
    )  # fmt: skip
    assert (status, again["error"]["code"]) == (409, "conflict")
    kinds = await gateway.pool.fetch(
        "SELECT kind FROM audit_events WHERE subject_type = 'report' AND subject_id = $1", str(ctr)
    )
    assert [k["kind"] for k in kinds] == ["report.filed"]

    status, open_only = await admin(
        http, gateway.url, "GET", "/admin/v1/reports?status=open", token=AUDITOR_TOKEN
    )
    assert [r["id"] for r in open_only["reports"]] == [str(str_)]
    assert open_only["reports"][0]["customer_id"] != alice.id  # masked for the auditor

    headers = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
    async with http.get(f"{gateway.url}/admin/v1/reports/export?format=jsonl", headers=headers) as response:
        assert response.status == 200
        lines = [orjson.loads(line) for line in (await response.read()).splitlines()]
    assert [r["id"] for r in lines] == [str(str_), str(ctr)]
    assert lines[1]["details"]["threshold"] == "10000000" and lines[1]["customer_id"] != alice.id
    async with http.get(
        f"{gateway.url}/admin/v1/reports/export?format=csv&kind=CTR", headers=headers
    ) as response:
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["id"], r["status"], r["amount"], r["currency"]) for r in rows] == [
        (str(ctr), "filed", "12000000", "KRW")
    ]


async def test_bad_input_changes_nothing(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    bob = await new_customer(http, gateway.url, "bob")
    report = await _open(gateway, bob)
    for token, body, status in (
        (AUDITOR_TOKEN, {"status": "filed", "note": "auditors read only"}, 403),
        (OPERATOR_TOKEN, {"status": "filed", "note": "operators neither"}, 403),
        (OFFICER_TOKEN, {"status": "open", "note": "back to open"}, 422),
        (OFFICER_TOKEN, {"status": "filed"}, 422),
        (OFFICER_TOKEN, {"status": "filed", "note": " "}, 422),
    ):
        got, answer = await admin(
            http, gateway.url, "PATCH", f"/admin/v1/reports/{report}", token=token, json=body
        )
        assert got == status, answer
    status, detail = await admin(http, gateway.url, "GET", f"/admin/v1/reports/{report}", token=OFFICER_TOKEN)
    assert detail["status"] == "open" and len(detail["history"]) == 1
    got, answer = await admin(
        http, gateway.url, "PATCH", f"/admin/v1/reports/{uuid.uuid4()}", token=OFFICER_TOKEN,
        json={"status": "filed", "note": "no such report"},
    )  # fmt: skip
    assert (got, answer["error"]["code"]) == (404, "not_found")
    for query in ("kind=XYZ", "status=closed", "since=yesterday", "format=csv"):
        path = (
            "/admin/v1/reports/export?format=xml" if query == "format=csv" else f"/admin/v1/reports?{query}"
        )
        got, answer = await admin(http, gateway.url, "GET", path, token=AUDITOR_TOKEN)
        assert (got, answer["error"]["code"]) == (422, "validation_failed")


async def test_open_report_validates(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    carol = await new_customer(http, gateway.url, "carol")
    bad = [
        ReportCandidate("SAR", uuid.UUID(carol.id), (uuid.uuid4(),), (), None, None, {}),
        ReportCandidate("STR", uuid.UUID(carol.id), (), (), None, None, {}),
        ReportCandidate("STR", uuid.UUID(carol.id), (uuid.uuid4(),), (), Decimal("-1"), "KRW", {}),
        ReportCandidate("STR", uuid.UUID(carol.id), (uuid.uuid4(),), (), None, "krw", {}),
    ]
    async with gateway.pool.acquire() as conn:
        for candidate in bad:
            with pytest.raises(InvalidHold):
                await open_report(conn, candidate)
    assert await gateway.pool.fetchval("SELECT count(*) FROM report_candidates") == 0
